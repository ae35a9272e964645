"""1. The instructor list and the envelope dashboard at 1 000 and at 100 000 dossiers.

Pages, served in this process by Django's test client (no HTTP server: the server's own time):

- the review workspace (`applications:instructor-home`) of an instructor whose scope is one région,
  the same person at both sizes, and of the programme admin (every dossier);
- the envelope dashboard of the open call (`grants:dashboard`) and the steering home
  (`grants:admin-home`), as the programme admin.

The bulk data (devtools.bulk.seed_bulk) is seeded to 1 000 dossiers first, each page measured, then
topped up to 100 000 and measured again. For each page: the number of SQL queries of one request
(must be the same at both sizes), and the median server time of RUNS requests after a warm-up, each
page built from the data (the page cache emptied before each request, as after any write: a kept
page reads no dossier, so only a built one shows how the queries scale).
Ratio: median at 100 000 / median at 1 000, limit 2×. After each load the database is vacuumed
and analysed (as a database in service is), so that the planner has statistics and the autovacuum
the load triggers does not run during the timings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.common import Context, median, ms, session_cookie

NUMBER = 1
TITLE = "Instructor list and envelope dashboard at scale"
ORDER = 60  # after every benchmark that needs fewer dossiers: the bulk data only grows
LIMIT = 2.0
SIZES = (1_000, 100_000)
QUICK_SIZES = (100, 400)
WARMUP = 3


@dataclass(frozen=True)
class Page:
    key: str
    label: str
    user: str  # "instructor" or "admin"
    url: str
    expected: str  # a piece of the page's content, checked once


def _users() -> dict[str, Any]:
    """The programme admin of the bulk data, and of the instructors scoped to exactly one région
    the one whose territory holds the most dossiers « à instruire » (so that its list has rows)."""
    from django.db.models import Count

    from accounts.models import User
    from applications.models import Application
    from fabriques.models import InstructorScope

    admin = User.objects.get(email="pilotage@services.example")
    submitted = dict(
        Application.objects.filter(status=Application.Status.SUBMITTED)
        .order_by()
        .values_list("departement__region")
        .annotate(n=Count("pk"))
    )
    best: tuple[int, str] | None = None
    chosen = None
    candidates = User.objects.filter(email__startswith="instruction.r", email__endswith="@services.example")
    for user in candidates.order_by("email"):
        scopes = list(InstructorScope.objects.filter(instructor=user))
        if len(scopes) != 1 or not scopes[0].region_id or scopes[0].departement_id:
            continue
        rank = (-submitted.get(scopes[0].region_id, 0), user.email)
        if best is None or rank < best:
            best, chosen = rank, user
    if chosen is None:
        raise RuntimeError("the bulk data holds no instructor scoped to one région")
    return {"admin": admin, "instructor": chosen}


def _pages() -> list[Page]:
    from django.urls import reverse

    from applications.models import Call
    from devtools.bulk import CURRENT_CALL_SLUG as CALL_SLUG

    # The programme's own call, which seed_bulk fills as its open call: the same call at both
    # sizes (other benchmarks add calls of their own, with a fixed number of dossiers).
    call = Call.objects.filter(slug=CALL_SLUG, status=Call.Status.OPEN).first()
    if call is None:
        raise RuntimeError(f"the bulk data holds no open call {CALL_SLUG}")
    workspace = reverse("applications:instructor-home")
    return [
        Page("workspace_instructor", "workspace, instructor (one région)", "instructor", workspace, "<h1"),
        Page("workspace_admin", "workspace, programme admin", "admin", workspace, "<h1"),
        Page(
            "dashboard",
            f"envelope dashboard ({call.slug})",
            "admin",
            reverse("grants:dashboard", args=[call.slug]),
            call.title,
        ),
        Page("admin_home", "steering home", "admin", reverse("grants:admin-home"), call.title),
    ]


def _size(number: int) -> str:
    return f"{number:,}".replace(",", "\u202f")


def _client(user: Any) -> Any:
    """A test client holding a logged-in session (second factor verified) for `user`."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    name, value = session_cookie(user)
    client.cookies[name] = value
    return client


def measure(client: Any, page: Page, runs: int) -> dict[str, Any]:
    """After a warm-up, the queries of one request, then the median of `runs` requests, each page
    built from the data: the page cache (core/page_cache.py) emptied before each request, as after
    any write. A page served from that cache reads no dossier, so it would say nothing of how the
    queries scale; the cached figure is given beside it."""
    from django.core.cache import caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    pages = caches["pages"]
    for _ in range(WARMUP):  # caches filled (content types, session, templates) before counting
        pages.clear()
        client.get(page.url)
    pages.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page.url)
    body = response.content.decode("utf-8", errors="replace")
    if response.status_code != 200 or page.expected not in body:
        raise RuntimeError(f"{page.url} answered {response.status_code} without its content")
    queries = [(float(q.get("time") or 0), q["sql"]) for q in captured.captured_queries]
    times = []
    for _ in range(runs):
        pages.clear()
        began = time.perf_counter()
        client.get(page.url)
        times.append(time.perf_counter() - began)
    kept = []
    client.get(page.url)  # kept for the next ones
    for _ in range(runs):
        began = time.perf_counter()
        client.get(page.url)
        kept.append(time.perf_counter() - began)
    slowest = sorted(queries, reverse=True)[:3]
    return {
        "queries": len(queries),
        "times_s": times,
        "median_s": median(times),
        "kept_median_s": median(kept),
        "slowest_queries": [{"s": t, "sql": sql[:400]} for t, sql in slowest],
    }


def measure_all(users: dict[str, Any], runs: int) -> dict[str, dict[str, Any]]:
    clients = {role: _client(user) for role, user in users.items()}
    return {page.key: measure(clients[page.user], page, runs) for page in _pages()}


def run(ctx: Context) -> dict[str, Any]:
    from applications.models import Application

    result = ctx.result()
    sizes = QUICK_SIZES if ctx.quick else SIZES
    runs = 5 if ctx.quick else 25

    measured: dict[int, dict[str, dict[str, Any]]] = {}
    dossiers: dict[int, int] = {}
    users: dict[str, Any] = {}
    for size in sizes:
        have = ctx.ensure_bulk(size)
        if have is None:
            raise RuntimeError("devtools.bulk.seed_bulk is missing")
        # ctx.ensure_bulk ends with VACUUM ANALYZE: statistics fresh, no autovacuum during timings.
        if not users:
            users = _users()  # chosen once: the same people at both sizes
        dossiers[size] = Application.objects.count()
        ctx.log(f"{dossiers[size]} dossiers: measuring {runs} runs per page")
        measured[size] = measure_all(users, runs)

    small, large = sizes
    result.figures = {
        "sizes": list(sizes),
        "dossiers": {str(size): count for size, count in dossiers.items()},
        "instructor": users["instructor"].email,
        "pages": {str(size): pages for size, pages in measured.items()},
    }
    rows = []
    for page in _pages():
        one, other = measured[small][page.key], measured[large][page.key]
        ratio = other["median_s"] / one["median_s"]
        rows.append(
            [
                page.label,
                one["queries"],
                other["queries"],
                ms(one["median_s"]),
                ms(other["median_s"]),
                f"{ratio:.2f}×",
                f"{ms(one['kept_median_s'])} / {ms(other['kept_median_s'])}",
            ]
        )
        result.ratio(f"{page.label}, built: time at {_size(large)} / time at {_size(small)}", ratio, LIMIT)
    result.table(
        f"Server time of the page built from the data (Django test client, page cache emptied before "
        f"each request, median of {runs} runs after {WARMUP} warm-up requests)",
        [
            "Page",
            f"Queries at {_size(small)}",
            f"Queries at {_size(large)}",
            f"Built at {_size(small)}",
            f"Built at {_size(large)}",
            "Ratio",
            "Kept page (cache), both sizes",
        ],
        rows,
    )
    for page in _pages():
        one, other = measured[small][page.key], measured[large][page.key]
        result.check(
            f"{page.label}: same number of queries at both sizes",
            one["queries"] == other["queries"],
            f"{one['queries']} and {other['queries']}",
        )
    result.note(
        f"Sizes are bulk dossiers asked of seed_bulk; the database held {dossiers[small]} and "
        f"{dossiers[large]} dossiers in all (drafts and the demo's included). The instructor is "
        f"{users['instructor'].email}, scoped to one région, at both sizes."
    )
    return result.as_dict()
