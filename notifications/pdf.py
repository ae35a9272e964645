"""The only module that imports WeasyPrint: a Django template and a context in, PDF bytes out.

It touches no database and no network: the URL fetcher serves the project's static files and
refuses everything else, so nothing in a document can make the renderer reach a server. A
resource that cannot be served stops the rendering: a letter is never sent without its logo.

Every document shares one stylesheet, parsed once per process and handed to WeasyPrint with each
rendering, instead of a <style> block per template parsed with every document.
"""

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urljoin, urlparse, uses_netloc, uses_relative

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from weasyprint import CSS, HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

STATIC_BASE_URL = "static:///"
# The stylesheet of every document (a static file, so that the fetcher serves what it links to).
STYLESHEET = "pdf/documents.css"

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


@functools.cache
def documents_stylesheet() -> CSS:
    """The documents' stylesheet, parsed on the first rendering of the process and kept."""
    return CSS(url=urljoin(STATIC_BASE_URL, STYLESHEET), url_fetcher=StaticFilesFetcher())


def render_pdf(template_name: str, context: Mapping[str, Any]) -> bytes:
    """Render `template_name` with `context` and return the bytes of the PDF."""
    html = render_to_string(template_name, dict(context))
    document = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=StaticFilesFetcher())
    try:
        pdf: bytes = document.write_pdf(stylesheets=[documents_stylesheet()])
    except FatalURLFetchingError as error:
        # WeasyPrint raises a BaseException here; turn it into an ordinary error so that the
        # task records it on the row like any other failure.
        raise ForbiddenResource(str(error.__cause__ or error)) from error
    return pdf
