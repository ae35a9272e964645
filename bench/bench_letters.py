"""3. Decision letters: one letter against WeasyPrint alone, 1 000 letters through 1, 2 and 4 workers, a full
call (issue 13 §2).

First part, in this process: the award letter of the demo's laureate (its context as
grants.services.decisions froze it in the document row) rendered by notifications.pdf.render_pdf
(template + WeasyPrint, the portal's path) against WeasyPrint alone on the HTML string that the
template gives for that context, with the same base URL and URL fetcher (the same stylesheets and
fonts). Runs alternate, after a warm-up; medians compared, limit 1.3×.

Second part: N letters (1 000) as document rows, rendered by 1, 2 and 4 separate `celery worker`
processes (--concurrency=1 each, the bench PDF queue on Redis, the bench database). The clock runs
from the first task sent to the last letter's `rendered_at`. Checked: every letter rendered, each
exactly once (one attempt, one task succeeded, one file, its SHA-256 the one recorded). Each pool is
set against the capacity of the cores it can use (issue 13 §2): the same letters written by
WeasyPrint alone, one after the other (bench/bare_render.py), Σ of their times ÷ cores; target:
2 workers at ≥ 85 % of it.

Third part, a full call: a call filled by 360 awards of 150 000 € made by the award service, its
360 letters and 360 agreements rendered by 2 workers, exactly once each, against the capacity of
the same documents.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench import document_costs
from bench.common import (
    PDF_QUEUE,
    PDF_WORKER_RECYCLING,
    PROJECT_ROOT,
    Context,
    Result,
    celery_workers,
    median,
    ms,
    purge_queues,
)

NUMBER = 3
TITLE = "Decision letters"
ORDER = 30
LIMIT = 1.3
# Issue 13 §2: with 2 workers, at least 85 % of what the 2 cores render with WeasyPrint alone.
EFFICIENCY = 0.85
TEMPLATE = "pdf/decision_award.html"


def award_letter_context(ctx: Context) -> dict[str, Any]:
    """The context of a real award letter: the demo's laureate, as the decision froze it."""
    from notifications.models import Document

    ctx.demo()
    document = Document.objects.filter(kind="award-letter", template_name=TEMPLATE).order_by("pk").first()
    if document is None:
        raise RuntimeError("the demo data holds no award letter")
    return dict(document.context)


def compare_render(template: str, context: dict[str, Any], runs: int, warmup: int = 2) -> dict[str, Any]:
    """Median times of render_pdf(template, context) and of WeasyPrint alone on the same HTML."""
    from django.template.loader import render_to_string
    from weasyprint import HTML

    from notifications.pdf import (
        PDF_OPTIONS,
        STATIC_BASE_URL,
        StaticFilesFetcher,
        documents_stylesheet,
        font_configuration,
        render_pdf,
    )

    html = render_to_string(template, context)
    # The same document: the HTML and the documents' stylesheet, parsed once as render_pdf does,
    # with the same fonts (its @font-face faces) and the same output (tagged PDF/UA-1).
    stylesheets = [documents_stylesheet()]
    fonts = font_configuration()

    def weasyprint_alone() -> bytes:
        pdf: bytes = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=StaticFilesFetcher()).write_pdf(
            stylesheets=stylesheets, font_config=fonts, **PDF_OPTIONS
        )
        return pdf

    def portal() -> bytes:
        return render_pdf(template, context)

    for _ in range(warmup):
        portal()
        weasyprint_alone()
    portal_times: list[float] = []
    alone_times: list[float] = []
    sizes: dict[str, int] = {}
    for index in range(runs):
        # Alternate which goes first, so that neither always follows the other's garbage.
        order = [("portal", portal), ("alone", weasyprint_alone)]
        if index % 2:
            order.reverse()
        for name, function in order:
            began = time.perf_counter()
            pdf = function()
            elapsed = time.perf_counter() - began
            (portal_times if name == "portal" else alone_times).append(elapsed)
            sizes[name] = len(pdf)
            if not pdf.startswith(b"%PDF"):
                raise RuntimeError(f"{name} did not produce a PDF")
    portal_median = median(portal_times)
    alone_median = median(alone_times)
    return {
        "runs": runs,
        "html_bytes": len(html.encode()),
        "portal_s": portal_times,
        "alone_s": alone_times,
        "portal_median_s": portal_median,
        "alone_median_s": alone_median,
        "ratio": portal_median / alone_median,
        "pdf_bytes": sizes,
    }


def bare_render_seconds(ctx: Context, documents: list[Any]) -> list[float]:
    """WeasyPrint alone on each document's HTML, one after the other: the seconds of each.

    The capacity of the cores (issue 13 §2) is what they could render with nothing but WeasyPrint.
    Each document's template is rendered to HTML here; a process of its own (bench/bare_render.py)
    writes each to PDF with the documents' stylesheet, fonts, fetcher and options, as `render_pdf`
    does, and times it. What the workers spend beyond this sum (template, database, storage, task
    plumbing, the broker) is their overhead.
    """
    import json
    import subprocess
    import sys

    from django.template.loader import render_to_string

    pages = [render_to_string(document.template_name, dict(document.context)) for document in documents]
    source = ctx.work_dir / f"bare-{uuid.uuid4().hex[:6]}.json"
    target = source.with_suffix(".out.json")
    source.write_text(json.dumps(pages), encoding="utf-8")
    subprocess.run(  # noqa: S603 - the harness's own interpreter and module
        [sys.executable, "-m", "bench.bare_render", str(source), str(target)],
        env=ctx.child_env(),
        check=True,
        cwd=str(PROJECT_ROOT),
    )
    seconds: list[float] = json.loads(target.read_text(encoding="utf-8"))
    source.unlink()
    target.unlink()
    return seconds


def capacity(bare: list[float], cores: int) -> float:
    """Documents per second the cores could render with WeasyPrint alone: n ÷ (Σ bare ÷ cores)."""
    return len(bare) / (sum(bare) / cores)


def letter_documents(context: dict[str, Any], count: int, run: str) -> list[Any]:
    """`count` award letters as document rows (unsaved): the same letter, one reference each."""
    from notifications.models import Document

    return [
        Document(
            key=f"bench-letter:{run}:{index}",
            kind="bench-letter",
            template_name=TEMPLATE,
            context={**context, "reference": f"{context.get('reference', 'FDT')}-{index:04d}"},
            filename=f"bench-{run}-{index:04d}.pdf",
        )
        for index in range(count)
    ]


def render_through_workers(
    ctx: Context, result: Result, ids: list[int], workers: int, what: str
) -> dict[str, Any]:
    """The pending documents `ids` rendered by `workers` worker processes; checks each is rendered once.

    The workers are started and ready first; the clock runs from the first task sent to the last
    document's `rendered_at`. Exactly once: one attempt per row, as many tasks succeeded as rows, one
    file per row on the storage (a second rendering would leave a second file, the storage never
    overwriting one), its SHA-256 the one recorded.
    """
    import hashlib

    from django.core.files.storage import default_storage
    from django.db.models import Count, Q
    from django.utils import timezone

    from notifications.models import Document, Status
    from notifications.tasks import document_render_task

    count = len(ids)
    rows = Document.objects.filter(pk__in=ids)
    # Watched while the workers run by the range of their ids when it holds nothing else (a
    # thousand-value IN list parsed twice a second would take its share of the cores measured).
    watched = Document.objects.filter(pk__range=(min(ids), max(ids)))
    if watched.count() != count:
        watched = rows
    purge_queues()
    with celery_workers(ctx, workers, queues=[PDF_QUEUE]) as started:
        ctx.log(f"{count} {what} through {workers} worker(s)")
        sent_at = timezone.now()
        began = time.monotonic()
        for pk in ids:
            document_render_task.delay(pk)
        deadline = began + max(600, count * 2)
        while True:
            progress = watched.aggregate(
                done=Count("pk", filter=Q(status=Status.DONE)), broken=Count("pk", filter=~Q(last_error=""))
            )
            if progress["done"] == count:
                break
            if progress["broken"] or time.monotonic() > deadline:
                broken = rows.exclude(last_error="").values_list("pk", "last_error").first()
                result.check(
                    f"{workers} worker(s), {what}: every document rendered",
                    False,
                    f"{progress['done']}/{count} done"
                    + (f", document {broken[0]}: {broken[1][:300]}" if broken else ", timed out"),
                )
            for process in started.processes:
                process.alive()
            time.sleep(0.5)
        last = max(rows.values_list("rendered_at", flat=True))
        elapsed = (last - sent_at).total_seconds()
        # Let the workers log the last task as succeeded before counting.
        time.sleep(1)
        succeeded = [started.succeeded(document_render_task.name, process) for process in started.processes]
    attempts = sorted(set(rows.values_list("attempts", flat=True)))
    stored = list(rows.values_list("file", "filename", "sha256"))
    files = 0
    same_hash = 0
    for name, filename, sha256 in stored:
        stem = filename.removesuffix(".pdf")
        # Every file of this row's name, and those the storage would name « <name>_<random>.pdf »
        # for a second rendering.
        folder = (ctx.media_root / name).parent
        files += len(list(folder.glob(f"{stem}.pdf"))) + len(list(folder.glob(f"{stem}_*.pdf")))
        with default_storage.open(name, "rb") as handle:
            same_hash += hashlib.sha256(handle.read()).hexdigest() == sha256
    result.check(
        f"{workers} worker(s), {what}: each rendered exactly once",
        attempts == [1] and sum(succeeded) == count and files == count and same_hash == count,
        f"{count} documents, {sum(succeeded)} tasks succeeded, attempts per document {attempts}, "
        f"{files} files, {same_hash} SHA-256 matching the file",
    )
    return {
        "workers": workers,
        "documents": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "per_worker": succeeded,
    }


def letters_through_workers(
    ctx: Context, result: Result, context: dict[str, Any], count: int, workers: int
) -> dict[str, Any]:
    """`count` letters rendered by `workers` worker processes; checks each is rendered exactly once."""
    from notifications.models import Document

    run = f"{uuid.uuid4().hex[:6]}-w{workers}"
    documents = Document.objects.bulk_create(letter_documents(context, count, run))
    return render_through_workers(ctx, result, [document.pk for document in documents], workers, "letters")


def filled_call_documents(ctx: Context, fit: int) -> tuple[list[int], dict[str, int], float]:
    """A call filled by `fit` awards of 150 000 € (its whole envelope), made by the award service.

    Each award (grants.services.decisions.application_award, in its transaction, as the decision
    page makes it) asks for its letter and its agreement as document rows; the tasks it queued are
    purged, so that the benchmark sends them when its workers are ready. Returns the documents'
    ids, their number per kind and the seconds the awards took.
    """
    from decimal import Decimal

    from django.test.utils import override_settings

    from grants.services.decisions import application_award
    from notifications.models import Document
    from tests.factories import CallFactory, in_review_application, programme_admin

    award = Decimal("150000")
    # Nobody logs in (no password is checked): the fast hasher spares the real one for each user.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        call = CallFactory(envelope=award * fit, target_count=fit)
        admin = programme_admin()
        applications = [in_review_application(call=call)[0] for _ in range(fit)]
    before = Document.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    began = time.monotonic()
    for application in applications:
        application_award(application=application, amount=award, actor=admin)
    awarding = time.monotonic() - began
    purge_queues()
    call.refresh_from_db()
    if call.committed_amount != award * fit or call.laureate_count != fit:
        raise RuntimeError(
            f"the call is not filled: {call.committed_amount} committed, {call.laureate_count}"
        )
    documents = Document.objects.filter(pk__gt=before, kind__in=["award-letter", "agreement"]).order_by("pk")
    ids = list(documents.values_list("pk", flat=True))
    kinds = {kind: documents.filter(kind=kind).count() for kind in ("award-letter", "agreement")}
    return ids, kinds, awarding


def full_call(ctx: Context, result: Result, fit: int, workers: int) -> dict[str, Any]:
    """Issue 13 §2: the letters and agreements of a filled call, by `workers` workers, against capacity."""
    from notifications.models import Document

    ctx.log(f"a full call: {fit} awards, their letters and agreements")
    ids, kinds, awarding = filled_call_documents(ctx, fit)
    result.check(
        "full call: one letter and one agreement per award",
        kinds == {"award-letter": fit, "agreement": fit},
        f"{kinds['award-letter']} letters, {kinds['agreement']} agreements for {fit} awards",
    )
    documents = list(Document.objects.filter(pk__in=ids).order_by("pk"))
    ctx.log(f"capacity: the {len(ids)} documents written by WeasyPrint alone")
    bare = bare_render_seconds(ctx, documents)
    by_kind = {
        kind: [seconds for seconds, document in zip(bare, documents, strict=True) if document.kind == kind]
        for kind in kinds
    }
    rendered = render_through_workers(ctx, result, ids, workers, "letters and agreements of a full call")
    cores = min(workers, ctx.cores)
    rendered.update(
        {
            "awards": fit,
            "awarding_s": awarding,
            "bare_sum_s": sum(bare),
            "bare_median_s": {kind: median(values) for kind, values in by_kind.items()},
            "capacity_per_second": capacity(bare, cores),
            "capacity_seconds": sum(bare) / cores,
        }
    )
    rendered["efficiency"] = rendered["per_second"] / rendered["capacity_per_second"]
    return rendered


def run(ctx: Context) -> dict[str, Any]:
    result = ctx.result()
    runs = 3 if ctx.quick else 15
    count = 20 if ctx.quick else 1000
    pools = (1, 2) if ctx.quick else (1, 2, 4)

    context = award_letter_context(ctx)
    ctx.log(f"one letter, {runs} runs each")
    single = compare_render(TEMPLATE, context, runs)
    ctx.log(f"tagging and typeface, {runs} runs each")
    costs = document_costs.measure(runs)
    result.figures["tagging_and_typeface"] = costs
    result.table(
        f"Tagging (PDF/UA-1) and the Marianne typeface, one award letter, median of {runs} runs each",
        ["Variant", "Median", "PDF size"],
        [[name, ms(seconds), f"{costs['pdf_bytes'][name]} B"] for name, seconds in costs["median_s"].items()],
    )
    result.note(
        "Tagging and typeface (bench/document_costs.py): the same award letter written by WeasyPrint in "
        "turn with and without tags, with the system fonts or Marianne, the fonts kept per process or "
        f"loaded at each render; decoding the four WOFF2 faces takes {ms(costs['woff2_decoding_s'])}, once "
        "per process with the kept font configuration (notifications.pdf)."
    )
    result.figures["single"] = single
    result.table(
        f"One award letter ({TEMPLATE}, demo laureate), median of {runs} runs each",
        ["Path", "Median", "Min", "Max", "PDF size"],
        [
            [
                "render_pdf (template + WeasyPrint)",
                ms(single["portal_median_s"]),
                ms(min(single["portal_s"])),
                ms(max(single["portal_s"])),
                f"{single['pdf_bytes']['portal']} B",
            ],
            [
                "WeasyPrint alone on the same HTML",
                ms(single["alone_median_s"]),
                ms(min(single["alone_s"])),
                ms(max(single["alone_s"])),
                f"{single['pdf_bytes']['alone']} B",
            ],
        ],
    )
    result.ratio("letter: render_pdf / WeasyPrint alone", single["ratio"], LIMIT)

    ctx.log(f"capacity: {count} letters written by WeasyPrint alone, one after the other")
    bare = bare_render_seconds(ctx, letter_documents(context, count, "capacity"))
    result.figures["bare_render_s"] = {"sum": sum(bare), "median": median(bare), "count": len(bare)}
    throughput = [letters_through_workers(ctx, result, context, count, workers) for workers in pools]
    result.figures["throughput"] = throughput
    base = throughput[0]["per_second"]
    for t in throughput:
        # Against what the cores the workers can use would render with WeasyPrint alone.
        t["capacity_per_second"] = capacity(bare, min(t["workers"], ctx.cores))
        t["efficiency"] = t["per_second"] / t["capacity_per_second"]
    result.table(
        f"{count} letters through separate worker processes (--concurrency=1 each), Redis, PostgreSQL, "
        f"against the capacity of the cores (WeasyPrint alone on the same {count} letters: "
        f"Σ {sum(bare):.1f} s, median {ms(median(bare))} per letter)",
        [
            "Workers",
            "Wall time",
            "Letters/s",
            "Capacity of min(workers, cores) cores",
            "Efficiency",
            "Speed-up vs 1",
            "Letters per worker",
        ],
        [
            [
                t["workers"],
                f"{t['seconds']:.1f} s",
                f"{t['per_second']:.1f}",
                f"{t['capacity_per_second']:.1f} letters/s",
                f"{t['efficiency'] * 100:.0f} %",
                f"{t['per_second'] / base:.2f}×",
                " / ".join(str(n) for n in t["per_worker"]),
            ]
            for t in throughput
        ],
    )
    for t in throughput:
        if t["workers"] == min(2, ctx.cores):
            result.ratio(
                f"{t['workers']} workers: letters/s against the cores' WeasyPrint capacity",
                t["efficiency"],
                EFFICIENCY,
                op=">=",
            )
        if t["workers"] > 1:
            result.ratio(
                f"{t['workers']} workers: throughput vs 1 worker", t["per_second"] / base, None, unit="×"
            )
    result.note(
        "Capacity (issue 13 §2): the letters' number divided by the sum of their bare render times (each "
        "letter's HTML, rendered from its template by the harness, written by WeasyPrint alone with the same "
        "stylesheet, fonts and options, one after the other in a process of its own, bench/bare_render.py, "
        "warmed up and its heap frozen as the workers' are) divided by the cores the workers can use. "
        "Efficiency: the workers' letters/s (first task sent to last letter stored) against it; what is "
        "missing is the per-document overhead (template, database, storage, task plumbing, broker) and the "
        "sharing of the cores with PostgreSQL, Redis and the harness. The workers replace their pool's "
        f"children as the worker-pdf service does ({' '.join(PDF_WORKER_RECYCLING)}): with a child replaced "
        "every 100 documents, each replacement left its process idle 0.2 to 3 s, and 2 workers reached 78 % "
        "(docs/performance.md « Worker pool »)."
    )
    if max(pools) > ctx.cores:
        result.note(
            f"This machine has {ctx.cores} cores: rendering a PDF is CPU-bound, so beyond {ctx.cores} "
            f"worker processes the throughput cannot grow (the {max(pools)}-worker figure shows the "
            "cost of sharing the cores, not the scaling of the queue)."
        )
    result.note(
        "The ratio compares the portal's path (Django template, then WeasyPrint with the project's "
        "URL fetcher) with WeasyPrint alone on the HTML already rendered, same base URL, fetcher, "
        "stylesheets and fonts: the difference is the template rendering and the call's overhead."
    )

    fit = 10 if ctx.quick else 360
    call = full_call(ctx, result, fit, workers=2)
    result.figures["full_call"] = call
    result.table(
        f"A full call: the {fit} award letters and {fit} agreements of a call filled by {fit} awards, "
        f"rendered by {call['workers']} workers, against the capacity of {min(call['workers'], ctx.cores)} "
        "cores (WeasyPrint alone on the same documents)",
        [
            "Documents",
            "Median bare render (letter / agreement)",
            "Capacity: Σ bare ÷ cores",
            "Wall time",
            "Documents/s",
            "Efficiency",
            "Documents per worker",
        ],
        [
            [
                call["documents"],
                f"{ms(call['bare_median_s']['award-letter'])} / {ms(call['bare_median_s']['agreement'])}",
                f"{call['capacity_seconds']:.1f} s",
                f"{call['seconds']:.1f} s",
                f"{call['per_second']:.1f}",
                f"{call['efficiency'] * 100:.0f} %",
                " / ".join(str(n) for n in call["per_worker"]),
            ]
        ],
    )
    result.ratio(
        f"full call, {call['workers']} workers: documents/s against the cores' WeasyPrint capacity",
        call["efficiency"],
        EFFICIENCY,
        op=">=",
    )
    result.note(
        f"The full call's {fit} awards were made by the award service in this process "
        f"({call['awarding_s']:.1f} s, each in its own transaction, with the envelope's lock), before "
        "the workers started: the clock runs from the first render task sent to the last document stored."
    )
    return result.as_dict()
