"""4. HTTP: the dossier page and the instructor list under load, against a bare view on the same server.

gunicorn serves config.wsgi with the bench settings, (2 × cores + 1) sync workers, on a free port of
127.0.0.1. Data: the demo, plus 1 000 bulk dossiers when devtools.bulk.seed_bulk exists. Pages:

- the applicant's dossier page (the demo laureate's, as its applicant);
- the instructor's list (`/instruction/`, the demo Occitanie instructor's territory);
- `/bench/bare/`, a view returning two bytes behind the same middleware: the baseline.

Sessions are made directly in the session store (bench.common.session_cookie), with the second
factor marked as verified once django-otp is installed. Each page is first fetched once and
checked (200, its content), then loaded by wrk (or the Python fallback) with a fixed number of
connections for a fixed duration, after a short warm-up. Reported: requests/s, p50, p99, errors;
the ratio of each page's throughput to the bare view's. Checked: no error (any non-2xx counts).
"""

from __future__ import annotations

from typing import Any

from bench.common import Context, LoadResult, gunicorn, http_request, load, load_generator, session_cookie

NUMBER = 4
TITLE = "HTTP under load"
ORDER = 40
BULK_DOSSIERS = 1000


def run(ctx: Context) -> dict[str, Any]:
    from accounts.models import User
    from devtools.demo import DEMO_ACCOUNTS

    result = ctx.result()
    connections = 4 if ctx.quick else 16
    duration = 2.0 if ctx.quick else 15.0
    warmup = 1.0 if ctx.quick else 3.0

    demo = ctx.demo()
    bulk = ctx.ensure_bulk(100 if ctx.quick else BULK_DOSSIERS)
    gers = demo["gers"]
    applicant = User.objects.get(email=DEMO_ACCOUNTS[0]["email"])
    instructor = User.objects.get(email=DEMO_ACCOUNTS[1]["email"])
    applicant_cookie = dict([session_cookie(applicant)])
    instructor_cookie = dict([session_cookie(instructor)])

    targets = [
        ("bare view (baseline)", "/bench/bare/", None, "ok"),
        (
            "dossier page (applicant)",
            f"/mon-espace/dossiers/{gers.reference}/",
            applicant_cookie,
            gers.reference,
        ),
        ("instructor list", "/instruction/", instructor_cookie, "<h1>Instruction</h1>"),
    ]
    measured: dict[str, LoadResult] = {}
    with gunicorn(ctx) as server:
        for label, path, cookies, expected in targets:
            page = http_request(server.url(path), cookies=cookies)
            result.check(
                f"{label}: answers 200 with its content",
                page.status == 200 and expected in page.text(),
                f"GET {path} -> {page.status}, {len(page.body)} bytes",
            )
            load(
                server.url(path),
                cookies=cookies,
                connections=connections,
                duration=warmup,
                work_dir=ctx.work_dir,
            )
            ctx.log(f"{label}: {connections} connections, {duration:.0f} s")
            measured[label] = load(
                server.url(path),
                cookies=cookies,
                connections=connections,
                duration=duration,
                work_dir=ctx.work_dir,
            )
        workers = server.workers

    bare = measured["bare view (baseline)"]
    result.figures = {label: vars(one) | {"rps": one.rps} for label, one in measured.items()}
    result.table(
        f"gunicorn, {workers} sync workers ({ctx.cores} cores), {connections} connections for "
        f"{duration:.0f} s each, load generator: {load_generator()}",
        ["Page", "Requests", "Requests/s", "vs bare", "p50", "p90", "p99", "Max", "Errors"],
        [
            [
                label,
                one.requests,
                f"{one.rps:.1f}",
                f"{one.rps / bare.rps:.2f}×" if bare.rps else "—",
                f"{one.p50_ms:.1f} ms",
                f"{one.p90_ms:.1f} ms",
                f"{one.p99_ms:.1f} ms",
                f"{one.max_ms:.1f} ms",
                one.errors,
            ]
            for label, one in measured.items()
        ],
    )
    for label, one in measured.items():
        if one is not bare:
            result.ratio(f"{label}: throughput / bare view", one.rps / bare.rps, None)
    for label, one in measured.items():
        result.check(
            f"{label}: no error under load", one.errors == 0, f"{one.errors} of {one.requests} requests"
        )
    result.note(
        f"Data: the demo{f' and {bulk} bulk dossiers (devtools.bulk.seed_bulk)' if bulk else ''}; "
        f"the instructor list shows the dossiers of the Occitanie instructor's territory. "
        f"The load generator ({load_generator()}) runs on the same {ctx.cores} cores as gunicorn "
        "and PostgreSQL, so the figures are those of the whole machine, not of gunicorn alone. "
        "gunicorn's sync workers close the connection after each response, as behind a reverse proxy."
    )
    if not bulk:
        result.note(
            "devtools.bulk.seed_bulk was not available: the pages were measured on the demo data only."
        )
    return result.as_dict()
