"""The only module that imports WeasyPrint: a Django template and a context in, PDF bytes out.

It touches no database and no network: the URL fetcher serves the project's static files and
refuses everything else, so nothing in a document can make the renderer reach a server. A
resource that cannot be served stops the rendering: a letter is never sent without its logo.

Every document shares one stylesheet, parsed once per process and handed to WeasyPrint with each
rendering, instead of a <style> block per template parsed with every document. Its @font-face rules
(the Marianne typeface of the documents the State signs, WOFF2 files of django-dsfr) are loaded
into one font configuration kept with it: each face is fetched and decoded on the first rendering
of the process, not at each one (docs/performance.md: « Documents: tagging (PDF/UA-1) and the
Marianne typeface »).

Every PDF is tagged as PDF/UA-1: a structure tree, /MarkInfo, the <html lang> as /Lang, the
<title> as /Title with DisplayDocTitle, and the PDF/UA identification in the XMP metadata.
"""

import gc
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlparse, uses_netloc, uses_relative

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import get_template, render_to_string
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

STATIC_BASE_URL = "static:///"
# The stylesheet of every document (a static file, so that the fetcher serves what it links to).
STYLESHEET = "pdf/documents.css"
# What every PDF is written with. PDF/UA-1 rather than `pdf_tags` alone: the same tagging (structure
# tree, /MarkInfo, /Lang, DisplayDocTitle), plus the XMP metadata that PDF/UA requires (dc:title,
# the pdfuaid part) so that a checker knows which standard to hold the file to.
PDF_OPTIONS: Mapping[str, Any] = {"pdf_variant": "pdf/ua-1"}

# Teach urllib that "static:" URLs are hierarchical, so that "{% static 'x.css' %}" (a path such as
# "/static/x.css") joins to "static:///static/x.css" instead of losing its scheme.
for _schemes in (uses_relative, uses_netloc):
    if "static" not in _schemes:
        _schemes.append("static")
assert urljoin(STATIC_BASE_URL, "/static/x.css") == "static:///static/x.css"  # noqa: S101


class ForbiddenResource(ValueError):
    """Any URL a PDF asks for that is not one of the project's static files."""


class StaticFilesFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type hints
    def __init__(self) -> None:
        super().__init__(fail_on_errors=True, allowed_protocols=("static",))

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parsed = urlparse(url)
        if parsed.scheme != "static":
            raise ForbiddenResource(f"PDF resources must be static files, not {url!r}")
        relative = unquote(parsed.path).lstrip("/")
        prefix = settings.STATIC_URL.lstrip("/")
        if prefix and relative.startswith(prefix):
            relative = relative[len(prefix) :]
        path = finders.find(relative)
        if not path:
            raise ForbiddenResource(f"No static file named {relative!r}")
        with open(path, "rb") as handle:
            body = handle.read()
        headers_out = {"Content-Type": "text/css"} if relative.endswith(".css") else {}
        return URLFetcherResponse(url, body, headers_out)


class _Loaded(threading.local):
    """The stylesheet and the font configuration its @font-face rules were loaded into.

    They belong together: WeasyPrint finds an @font-face font only in the configuration the
    stylesheet was parsed with. Kept per thread because Pango's font map is not made to be shared
    between threads; a worker process renders in one thread, so this means once per process.
    """

    fonts: FontConfiguration | None = None
    stylesheet: CSS | None = None


_loaded = _Loaded()


def font_configuration() -> FontConfiguration:
    """The fonts of the documents: the system's, and the @font-face faces of the stylesheet."""
    if _loaded.fonts is None:
        _loaded.fonts = FontConfiguration()
    return _loaded.fonts


def documents_stylesheet() -> CSS:
    """The documents' stylesheet, parsed (its fonts decoded) on the first rendering and kept."""
    if _loaded.stylesheet is None:
        _loaded.stylesheet = CSS(
            url=urljoin(STATIC_BASE_URL, STYLESHEET),
            url_fetcher=StaticFilesFetcher(),
            font_config=font_configuration(),
        )
    return _loaded.stylesheet


def render_pdf(template_name: str, context: Mapping[str, Any]) -> bytes:
    """Render `template_name` with `context` and return the bytes of the PDF (tagged, PDF/UA-1)."""
    html = render_to_string(template_name, dict(context))
    document = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=StaticFilesFetcher())
    try:
        stylesheet = documents_stylesheet()
        pdf: bytes = document.write_pdf(
            stylesheets=[stylesheet], font_config=font_configuration(), **PDF_OPTIONS
        )
    except FatalURLFetchingError as error:
        # WeasyPrint raises a BaseException here; turn it into an ordinary error so that the
        # task records it on the row like any other failure.
        raise ForbiddenResource(str(error.__cause__ or error)) from error
    return pdf


# A page that uses every face of the stylesheet (Marianne regular, bold, italic; the system font of
# the tables), so that a warm-up loads what the documents' first rendering would.
_WARM_UP_HTML = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Préchauffage</title></head>'
    '<body class="identity-state"><h1>Préchauffage</h1>'
    "<p>Texte <strong>gras</strong>, <em>italique</em>, <strong><em>les deux</em></strong> : "
    "150\u202f000\u00a0€.</p>"
    '<p class="fingerprint">0123abcd</p></body></html>'
)


def warm_up() -> None:
    """Do once what each process's first document would: for a worker's parent, before it forks.

    A prefork worker forks its child processes from its main process, and forks a new one every
    `--max-tasks-per-child` tasks. Loaded here, in the main process, the font configuration, the
    stylesheet (its WOFF2 faces decoded), WeasyPrint's lazily imported modules (the PDF writer, the
    font subsetter) and the compiled templates are inherited by every child, instead of costing
    each child its first document (about a quarter of a second). Nothing here holds a thread, a
    file or a connection that a fork would share.
    """
    for template in sorted(Path(settings.BASE_DIR, "templates", "pdf").glob("*.html")):
        get_template(f"pdf/{template.name}")
    HTML(string=_WARM_UP_HTML, base_url=STATIC_BASE_URL, url_fetcher=StaticFilesFetcher()).write_pdf(
        stylesheets=[documents_stylesheet()], font_config=font_configuration(), **PDF_OPTIONS
    )


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's sight (`gc.freeze`).

    A worker renders documents that allocate many short-lived objects, so the collector runs often,
    and each full collection walks the whole heap: Django, Celery, WeasyPrint and their modules,
    which never become garbage. Frozen after start-up, they are no longer walked (about a tenth of
    each document's time, docs/performance.md « Worker pool »), and the children forked from the
    frozen process share those pages with it instead of copying them when the collector touches
    them.
    """
    gc.collect()
    gc.freeze()
