"""Issue 13 §1: each busy page against a reference page measured in the same run.

A reference page (bench/reference.py, served only under the bench settings) is the portal's own
base layout (header, navigation, footer, context processors) around a plain table of the same rows
(list pages) or a plain rendering of the same dossier's fields (detail pages), read with the right
`select_related`. What a page costs beyond it is the page's own work.

Pages, served in this process by Django's test client (the server's own time, as bench_scale):

- the instructor list (`/instruction/`) with filters in use (type, sort), as an instructor scoped to
  one région; its reference: the same 25 rows (the workspace selectors' first page);
- the dossier page, as its applicant (`dossier-detail`) and as an instructor (`review-detail`), the
  demo's Gers dossier; reference: that dossier's fields;
- the applicant's home (reference: the same dossiers as rows), the programme home and the envelope
  dashboard (as the programme admin; reference: a table of 25 dossiers of the call, these pages
  being made of counts and sums), the agreements list (reference: the same page of agreements), the
  public laureates page (reference: the same active grants).

Reported per size: each page's median server time, its reference's, and their ratio; target ≤ 1.5×.
The busy pages are kept per user and browser until the data moves (core/page_cache.py): the page's
time is that of a page kept, as a reload finds it; each page is also timed built from the data,
the cache emptied before each request, as the first request after any write finds it. Then, at the
last size, each page and its reference under load (gunicorn, wrk or the Python fallback, as
bench_http): requests/s and their ratio, target ≥ 0.6×; no error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.common import Context, gunicorn, http_request, load, load_generator, median, ms, session_cookie

NUMBER = 13
TITLE = "Pages against their reference page"
ORDER = 65  # after bench_scale: at 100 000 dossiers it reuses the bulk data already seeded (its
# 1 000-dossier figures then come from `make bench BENCH=pages` alone, see run())
LIMIT = 1.5
SIZES = (1_000, 100_000)
QUICK_SIZES = (100,)
WARMUP = 3
INSTRUCTOR_FILTERS = "?kind=ft&sort=-submitted"
THROUGHPUT_LIMIT = 0.6  # each page's requests/s against its reference's, at least


@dataclass(frozen=True)
class Pair:
    key: str
    label: str
    user: str  # a key of _users(), or "anonymous"
    url: str
    reference: str
    expected: str


def _users() -> dict[str, Any]:
    from accounts.models import User
    from bench.bench_scale import _users as scale_users
    from devtools.demo import DEMO_ACCOUNTS

    users = scale_users()
    users["applicant"] = User.objects.get(email=DEMO_ACCOUNTS[0]["email"])
    users["demo_instructor"] = User.objects.get(email=DEMO_ACCOUNTS[1]["email"])
    return users


def _ids(objects: Any) -> str:
    return ",".join(str(one.pk) for one in objects)


def _pairs(users: dict[str, Any], gers: Any) -> list[Pair]:
    from django.http import QueryDict
    from django.urls import reverse

    from applications.forms_workspace import DEFAULT_PER_PAGE, WorkspaceFilterForm
    from applications.models import Application, Call
    from applications.selectors import application_list_for_applicant, workspace_filtered, workspace_rows
    from devtools.bulk import CURRENT_CALL_SLUG
    from fabriques.selectors import departements_in_scope
    from grants.selectors.agreements import agreement_list_page
    from grants.views.agreements import AGREEMENTS_PER_PAGE

    instructor, admin, applicant = users["instructor"], users["admin"], users["applicant"]
    form = WorkspaceFilterForm(
        QueryDict(INSTRUCTOR_FILTERS[1:]), departements=departements_in_scope(instructor=instructor)
    )
    form.is_valid()
    filters = form.filters()
    rows = workspace_rows(
        workspace_filtered(instructor, filters),
        statuses=(Application.Status.SUBMITTED,),
        sort=filters.get("sort") or "submitted",
        ranked=False,
    )[:DEFAULT_PER_PAGE]
    call = Call.objects.get(slug=CURRENT_CALL_SLUG)
    call_rows = (
        Application.objects.filter(call=call).exclude(status=Application.Status.DRAFT).order_by("pk")[:25]
    )
    agreements = agreement_list_page(user=admin, number=None, per_page=AGREEMENTS_PER_PAGE).object_list
    ref_list = "/bench/reference/application/?ids="
    ref_dossier = f"/bench/reference/dossier/{gers.reference}/"
    return [
        Pair(
            "instructor_list",
            "instructor list (filters in use)",
            "instructor",
            reverse("applications:instructor-home") + INSTRUCTOR_FILTERS,
            ref_list + _ids(rows),
            "<h1>Instruction</h1>",
        ),
        Pair(
            "dossier_applicant",
            "dossier page (applicant)",
            "applicant",
            reverse("applications:dossier-detail", args=[gers.reference]),
            ref_dossier,
            gers.reference,
        ),
        Pair(
            "dossier_instructor",
            "dossier page (instructor)",
            "demo_instructor",
            reverse("applications:review-detail", args=[gers.reference]),
            ref_dossier,
            gers.reference,
        ),
        Pair(
            "applicant_home",
            "applicant home",
            "applicant",
            reverse("applications:applicant-home"),
            ref_list + _ids(application_list_for_applicant(applicant)[:10]),
            "<h1",
        ),
        Pair(
            "programme_home",
            "programme home",
            "admin",
            reverse("grants:admin-home"),
            ref_list + _ids(call_rows),
            call.title,
        ),
        Pair(
            "dashboard",
            "envelope dashboard",
            "admin",
            reverse("grants:dashboard", args=[call.slug]),
            ref_list + _ids(call_rows),
            call.title,
        ),
        Pair(
            "agreements",
            "agreements list",
            "admin",
            reverse("grants:agreement-list"),
            "/bench/reference/agreement/?ids=" + _ids(agreements),
            "<h1",
        ),
        Pair(
            "laureates",
            "public laureates page",
            "anonymous",
            reverse("grants:export-laureates", args=[call.slug]),
            f"/bench/reference/laureate/?call={call.slug}",
            call.title,
        ),
    ]


def _client(user: Any) -> Any:
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    if user is not None:
        name, value = session_cookie(user)
        client.cookies[name] = value
    return client


def _time(client: Any, url: str, runs: int, expected: str) -> tuple[float, int]:
    """After a warm-up, the median of `runs` requests, and the body's size."""
    for _ in range(WARMUP):
        response = client.get(url)
    body = response.content.decode("utf-8", errors="replace")
    if response.status_code != 200 or expected not in body:
        raise RuntimeError(f"{url} answered {response.status_code} without {expected!r}")
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - began)
    return median(times), len(body)


def _time_built(client: Any, url: str, runs: int) -> float:
    """The median of `runs` requests each built from the data: the page cache emptied before each
    (core/page_cache.py), as after any write."""
    from django.core.cache import caches

    times = []
    for _ in range(runs):
        caches["pages"].clear()
        began = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - began)
    return median(times)


def measure(users: dict[str, Any], gers: Any, runs: int) -> dict[str, dict[str, Any]]:
    clients = {key: _client(user) for key, user in users.items()}
    clients["anonymous"] = _client(None)
    figures = {}
    for pair in _pairs(users, gers):
        client = clients[pair.user]
        # Interleaved, so that a burst of another process on the machine hits both alike.
        page_s, page_bytes = _time(client, pair.url, runs, pair.expected)
        reference_s, _ = _time(client, pair.reference, runs, "<h1>")
        built_s = _time_built(client, pair.url, runs)
        figures[pair.key] = {
            "label": pair.label,
            "url": pair.url,
            "page_s": page_s,
            "reference_s": reference_s,
            "ratio": page_s / reference_s,
            "built_s": built_s,
            "built_ratio": built_s / reference_s,
            "bytes": page_bytes,
        }
    return figures


def throughput(ctx: Context, users: dict[str, Any], gers: Any) -> dict[str, dict[str, Any]]:
    """Each page and its reference under load (gunicorn, wrk or the Python fallback, as bench_http),
    in turns; requests/s and the ratio page / reference."""
    connections = 4 if ctx.quick else 16
    duration = 2.0 if ctx.quick else 10.0
    warmup = 0.5 if ctx.quick else 2.0
    cookies: dict[str, dict[str, str] | None] = {
        key: dict([session_cookie(user)]) for key, user in users.items()
    }
    cookies["anonymous"] = None
    figures: dict[str, dict[str, Any]] = {}
    with gunicorn(ctx) as server:
        for pair in _pairs(users, gers):
            measured = {}
            for kind, path in (("page", pair.url), ("reference", pair.reference)):
                url = server.url(path)
                answer = http_request(url, cookies=cookies[pair.user])
                if answer.status != 200:
                    raise RuntimeError(f"GET {path} answered {answer.status} over HTTP")
                known = cookies[pair.user]
                if known is not None and "csrftoken" in answer.cookies:
                    # As a browser does: the CSRF cookie the first page set comes back with every
                    # request after it (the page cache keeps a page per browser's CSRF secret).
                    cookies[pair.user] = {**known, "csrftoken": answer.cookies["csrftoken"]}
                load(
                    url,
                    cookies=cookies[pair.user],
                    connections=connections,
                    duration=warmup,
                    work_dir=ctx.work_dir,
                )
                measured[kind] = load(
                    url,
                    cookies=cookies[pair.user],
                    connections=connections,
                    duration=duration,
                    work_dir=ctx.work_dir,
                )
            page, reference = measured["page"], measured["reference"]
            figures[pair.key] = {
                "label": pair.label,
                "page_rps": page.rps,
                "reference_rps": reference.rps,
                "ratio": page.rps / reference.rps if reference.rps else 0.0,
                "errors": page.errors + reference.errors,
                "requests": page.requests + reference.requests,
                "workers": server.workers,
                "connections": connections,
                "duration_s": duration,
            }
    return figures


def run(ctx: Context) -> dict[str, Any]:
    result = ctx.result()
    sizes = QUICK_SIZES if ctx.quick else SIZES
    runs = 15 if ctx.quick else 41
    gers = ctx.demo()["gers"]
    measured: dict[int, dict[str, dict[str, Any]]] = {}
    for size in sizes:
        already = int(ctx.state.get("bulk_dossiers", 0))
        if already > size:
            # The bulk data only grows: a benchmark before this one seeded more (bench_scale, in
            # `make bench`). Measured at that size it would be mislabelled; `make bench BENCH=pages`
            # alone measures every size.
            result.note(
                f"Not measured at {size} bulk dossiers: the run's database already held {already} "
                "(seeded by an earlier benchmark); `make bench BENCH=pages` alone measures every size."
            )
            continue
        if ctx.ensure_bulk(size) is None:
            raise RuntimeError("devtools.bulk.seed_bulk is missing")
        ctx.log(f"{size} bulk dossiers: {runs} runs per page and per reference")
        measured[size] = measure(_users(), gers, runs)
    result.figures = {"sizes": list(sizes), "pages": {str(size): pages for size, pages in measured.items()}}
    for size, pages in measured.items():
        result.table(
            f"Server time at {size} bulk dossiers (Django test client, median of {runs} runs after "
            f"{WARMUP} warm-up requests)",
            ["Page", "Page", "Reference", "Ratio", "Page built (cache emptied)", "Built / reference"],
            [
                [
                    one["label"],
                    ms(one["page_s"]),
                    ms(one["reference_s"]),
                    f"{one['ratio']:.2f}×",
                    ms(one["built_s"]),
                    f"{one['built_ratio']:.2f}×",
                ]
                for one in pages.values()
            ],
        )
        for one in pages.values():
            result.ratio(f"{one['label']} at {size}: server time / reference", one["ratio"], LIMIT)
    users = _users()
    ctx.log("throughput under load, each page and its reference in turn")
    loaded = throughput(ctx, users, gers)
    result.figures["throughput"] = loaded
    some = next(iter(loaded.values()))
    result.table(
        f"Under load at {sizes[-1]} bulk dossiers: gunicorn, {some['workers']} sync workers, "
        f"{some['connections']} connections for {some['duration_s']:.0f} s each, "
        f"load generator: {load_generator()}",
        ["Page", "Requests/s", "Reference requests/s", "Ratio", "Errors"],
        [
            [
                one["label"],
                f"{one['page_rps']:.1f}",
                f"{one['reference_rps']:.1f}",
                f"{one['ratio']:.2f}×",
                one["errors"],
            ]
            for one in loaded.values()
        ],
    )
    for one in loaded.values():
        result.ratio(f"{one['label']}: throughput / reference", one["ratio"], THROUGHPUT_LIMIT, op=">=")
    for one in loaded.values():
        result.check(
            f"{one['label']}: no error under load",
            one["errors"] == 0,
            f"{one['errors']} of {one['requests']}",
        )
    result.note(
        "References: bench/reference.py. The programme home and the envelope dashboard are made of "
        "counts and sums; their reference is a table of 25 dossiers of the call. Under load, the load "
        "generator runs on the same cores as gunicorn and PostgreSQL."
    )
    return result.as_dict()
