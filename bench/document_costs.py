"""The cost of tagging (PDF/UA-1) and of the Marianne typeface on one award letter, in this process.

    .venv/bin/python -m bench.document_costs [--runs 15]

Also run by the letters benchmark (bench/bench_letters.py), whose table lands in docs/benchmarks.md.

No database, no worker: one award letter's context (the shape grants.services.decisions freezes),
rendered to HTML once, then written to PDF by WeasyPrint in several ways, each run alternating
between the variants (after a warm-up), medians reported.

Variants (all with the documents' stylesheet and the static files fetcher of notifications.pdf):
- system fonts, untagged, a new font configuration per render: the renderer before this change;
- system fonts, untagged / tagged, the shared font configuration;
- Marianne, untagged / tagged, the font configuration and stylesheet kept per process (what
  notifications.pdf.render_pdf does: each WOFF2 face decoded once per process);
- Marianne, tagged, WOFF2 decoded at each render (a new font configuration and stylesheet per
  render, as a renderer without the per-process cache would do);
- Marianne, tagged, TTF converted once (build-time conversion with fontTools), loaded at each
  render (a new font configuration and stylesheet per render, no decoding).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def award_context() -> dict[str, Any]:
    nbsp = "\u00a0"
    return {
        "grantor_name": "Préfecture de la région Occitanie",
        "grantor_siret": "313 131 313 00013",
        "grantor_represented": "représentée par",
        "grantor_designated": "ci-après désignée",
        "grantor_representative": "le préfet de la région Occitanie",
        "signatory_name": "Camille Durand",
        "signatory_title": "Pour le préfet de région et par délégation, la secrétaire générale",
        "signature_place": "Toulouse",
        "reference": "FAB-2026-00042",
        "title": "Tiers-lieu de la Fabrique à Sète",
        "call": "Fabriques de territoires 2026",
        "date": "5 décembre 2026",
        "lead_name": "Association Les Œuvres Communes",
        "lead_siret": "123 456 789 00012",
        "lead_address": "1 rue de l’Église, 34200 Sète",
        "amount": f"150{nbsp}000{nbsp}€",
        "bonus": "",
        "duration": 3,
        "tranches": [{"year": year, "amount": f"50{nbsp}000{nbsp}€"} for year in (1, 2, 3)],
    }


def measure(runs: int) -> dict[str, Any]:
    """Median seconds per variant (Django set up), PDF sizes, and the one-off WOFF2 decoding time."""
    from django.contrib.staticfiles import finders
    from django.template.loader import render_to_string
    from fontTools.ttLib import TTFont
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcherResponse

    from notifications import pdf as renderer

    state_html = render_to_string("pdf/decision_award.html", award_context())
    portal_html = state_html.replace("identity-state", "identity-portal")
    stylesheet_url = renderer.urljoin(renderer.STATIC_BASE_URL, renderer.STYLESHEET)
    css_text = Path(finders.find(renderer.STYLESHEET)).read_text(encoding="utf-8")

    # The WOFF2 faces converted once to TTF, as a build step would, in a folder of their own.
    ttf_dir = Path(tempfile.mkdtemp(prefix="marianne-ttf-"))
    decode_times: list[float] = []
    for name in ("Marianne-Regular", "Marianne-Regular_Italic", "Marianne-Bold", "Marianne-Bold_Italic"):
        began = time.perf_counter()
        font = TTFont(finders.find(f"dsfr/dist/fonts/{name}.woff2"))
        font.flavor = None
        out = io.BytesIO()
        font.save(out)
        decode_times.append(time.perf_counter() - began)
        (ttf_dir / f"{name}.ttf").write_bytes(out.getvalue())
    ttf_css = css_text.replace('url("../dsfr/dist/fonts/', 'url("static:///ttf/').replace(
        '.woff2") format("woff2")', '.ttf") format("truetype")'
    )

    class TTFFetcher(renderer.StaticFilesFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            if url.startswith("static:///ttf/"):
                return URLFetcherResponse(url, (ttf_dir / url.rsplit("/", 1)[1]).read_bytes(), {})
            return super().fetch(url, headers)

    shared_fonts = renderer.font_configuration()
    shared_css = renderer.documents_stylesheet()
    tags = dict(renderer.PDF_OPTIONS)

    def write(html: str, css: Any, fonts: Any, options: dict[str, Any]) -> bytes:
        document = HTML(
            string=html, base_url=renderer.STATIC_BASE_URL, url_fetcher=renderer.StaticFilesFetcher()
        )
        pdf: bytes = document.write_pdf(stylesheets=[css], font_config=fonts, **options)
        return pdf

    def fresh(css_source: str | None, fetcher: Any) -> tuple[Any, Any]:
        fonts = FontConfiguration()
        if css_source is None:
            css = CSS(url=stylesheet_url, url_fetcher=fetcher, font_config=fonts)
        else:
            css = CSS(string=css_source, base_url=stylesheet_url, url_fetcher=fetcher, font_config=fonts)
        return css, fonts

    def system_untagged_fresh() -> bytes:
        css, fonts = fresh(None, renderer.StaticFilesFetcher())
        return write(portal_html, css, fonts, {})

    variants: dict[str, Callable[[], bytes]] = {
        "system fonts, untagged, new font configuration per render (before)": system_untagged_fresh,
        "system fonts, untagged, shared font configuration": lambda: write(
            portal_html, shared_css, shared_fonts, {}
        ),
        "system fonts, tagged, shared font configuration": lambda: write(
            portal_html, shared_css, shared_fonts, tags
        ),
        "Marianne cached per process, untagged": lambda: write(state_html, shared_css, shared_fonts, {}),
        "Marianne cached per process, tagged (render_pdf)": lambda: write(
            state_html, shared_css, shared_fonts, tags
        ),
        "Marianne WOFF2 decoded at each render, tagged": lambda: write(
            state_html, *fresh(None, renderer.StaticFilesFetcher()), tags
        ),
        "Marianne TTF converted once, loaded at each render, tagged": lambda: write(
            state_html, *fresh(ttf_css, TTFFetcher()), tags
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    sizes: dict[str, int] = {}
    for function in variants.values():  # warm-up
        function()
    names = list(variants)
    for run in range(runs):
        order = names[run % len(names) :] + names[: run % len(names)]
        for name in order:
            began = time.perf_counter()
            pdf = variants[name]()
            times[name].append(time.perf_counter() - began)
            sizes[name] = len(pdf)
    return {
        "runs": runs,
        "median_s": {name: statistics.median(times[name]) for name in names},
        "pdf_bytes": sizes,
        "woff2_decoding_s": sum(decode_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    figures = measure(args.runs)
    print(f"award letter, {args.runs} runs each, median (ms), size (bytes)")
    for name, seconds in figures["median_s"].items():
        print(f"{seconds * 1000:8.1f} ms  {figures['pdf_bytes'][name]:7d} B  {name}")
    print(f"WOFF2 → TTF, the four faces: {figures['woff2_decoding_s'] * 1000:.1f} ms (once per process)")


if __name__ == "__main__":
    main()
