"""WeasyPrint alone on documents already turned into HTML, one after the other, in a process of its own.

    python -m bench.bare_render INPUT.json OUTPUT.json

Started by the letters benchmark (bench/bench_letters.py) to measure the capacity of the cores
(issue 13 §2): INPUT holds the HTML of each document (its template already rendered by the
harness), OUTPUT receives the seconds each took to be written to PDF. The same stylesheet, fonts,
URL fetcher and options as `notifications.pdf.render_pdf`; Django is set up only for the static
files finder the fetcher uses. The process is given the best conditions the workers can have: two
documents written first (not counted: the fonts decoded, the lazily imported modules loaded), then
its heap frozen (`gc.freeze`, as the workers do), so that the capacity is WeasyPrint's own and no
harness's heap is walked by the garbage collector while it is measured.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    source, target = (Path(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    import django

    django.setup()
    from weasyprint import HTML

    from notifications.pdf import (
        PDF_OPTIONS,
        STATIC_BASE_URL,
        StaticFilesFetcher,
        documents_stylesheet,
        font_configuration,
        freeze_heap,
    )

    pages: list[str] = json.loads(source.read_text(encoding="utf-8"))
    stylesheets = [documents_stylesheet()]
    fonts = font_configuration()

    def write(html: str) -> bytes:
        pdf: bytes = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=StaticFilesFetcher()).write_pdf(
            stylesheets=stylesheets, font_config=fonts, **PDF_OPTIONS
        )
        return pdf

    for html in pages[:2]:
        write(html)
    freeze_heap()
    seconds: list[float] = []
    for index, html in enumerate(pages):
        began = time.perf_counter()
        pdf = write(html)
        seconds.append(time.perf_counter() - began)
        if not pdf.startswith(b"%PDF"):
            raise SystemExit(f"document {index} did not render to a PDF")
    target.write_text(json.dumps(seconds), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
