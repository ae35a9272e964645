"""3. Decision letters: one letter against WeasyPrint alone, then 1 000 letters through 1, 2 and 4 workers.

First part, in this process: the award letter of the demo's laureate (its context as
grants.services.decisions froze it in the document row) rendered by notifications.pdf.render_pdf
(template + WeasyPrint, the portal's path) against WeasyPrint alone on the HTML string that the
template gives for that context, with the same base URL and URL fetcher (the same stylesheets and
fonts). Runs alternate, after a warm-up; medians compared, limit 1.3×.

Second part: N letters (1 000) as document rows, rendered by 1, 2 and 4 separate `celery worker`
processes (--concurrency=1 each, the bench PDF queue on Redis, the bench database). The clock runs
from the first task sent to the last letter's `rendered_at`. Checked: every letter rendered, each
exactly once (one attempt, one task succeeded, one file).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench import document_costs
from bench.common import PDF_QUEUE, Context, Result, celery_workers, median, ms, purge_queues

NUMBER = 3
TITLE = "Decision letters"
ORDER = 30
LIMIT = 1.3
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


def letters_through_workers(
    ctx: Context, result: Result, context: dict[str, Any], count: int, workers: int
) -> dict[str, Any]:
    """`count` letters rendered by `workers` worker processes; checks each is rendered exactly once."""
    from django.utils import timezone

    from notifications.models import Document, Status
    from notifications.tasks import document_render_task

    run = f"{uuid.uuid4().hex[:6]}-w{workers}"
    purge_queues()
    documents = Document.objects.bulk_create(
        [
            Document(
                key=f"bench-letter:{run}:{index}",
                kind="bench-letter",
                template_name=TEMPLATE,
                context={**context, "reference": f"{context.get('reference', 'FDT')}-{index:04d}"},
                filename=f"bench-{run}-{index:04d}.pdf",
            )
            for index in range(count)
        ]
    )
    ids = [document.pk for document in documents]
    rows = Document.objects.filter(pk__in=ids)
    with celery_workers(ctx, workers, queues=[PDF_QUEUE]) as started:
        ctx.log(f"{count} letters through {workers} worker(s)")
        sent_at = timezone.now()
        began = time.monotonic()
        for pk in ids:
            document_render_task.delay(pk)
        deadline = began + max(600, count * 2)
        while True:
            done = rows.filter(status=Status.DONE).count()
            if done == count:
                break
            broken = rows.exclude(last_error="").values_list("pk", "last_error").first()
            if broken or time.monotonic() > deadline:
                result.check(
                    f"{workers} worker(s): every letter rendered",
                    False,
                    f"{done}/{count} done"
                    + (f", document {broken[0]}: {broken[1][:300]}" if broken else ", timed out"),
                )
            for process in started.processes:
                process.alive()
            time.sleep(0.25)
        last = max(rows.values_list("rendered_at", flat=True))
        elapsed = (last - sent_at).total_seconds()
        # Let the workers log the last task as succeeded before counting.
        time.sleep(1)
        succeeded = [started.succeeded(document_render_task.name, process) for process in started.processes]
    attempts = sorted(set(rows.values_list("attempts", flat=True)))
    files = sorted(ctx.media_root.rglob(f"bench-{run}-*.pdf"))
    result.check(
        f"{workers} worker(s): each letter rendered exactly once",
        attempts == [1] and sum(succeeded) == count and len(files) == count,
        f"{count} letters, {sum(succeeded)} tasks succeeded, "
        f"attempts per letter {attempts}, {len(files)} files",
    )
    return {
        "workers": workers,
        "letters": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "per_worker": succeeded,
    }


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

    throughput = [letters_through_workers(ctx, result, context, count, workers) for workers in pools]
    result.figures["throughput"] = throughput
    base = throughput[0]["per_second"]
    result.table(
        f"{count} letters through separate worker processes (--concurrency=1 each), Redis, PostgreSQL",
        ["Workers", "Wall time", "Letters/s", "Speed-up vs 1", "Letters per worker"],
        [
            [
                t["workers"],
                f"{t['seconds']:.1f} s",
                f"{t['per_second']:.1f}",
                f"{t['per_second'] / base:.2f}×",
                " / ".join(str(n) for n in t["per_worker"]),
            ]
            for t in throughput
        ],
    )
    for t in throughput:
        if t["workers"] > 1:
            result.ratio(
                f"{t['workers']} workers: throughput vs 1 worker", t["per_second"] / base, None, unit="×"
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
    return result.as_dict()
