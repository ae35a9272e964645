"""The public open data: the page listing the files, the files themselves, the payments' schema.

Open to everyone, nothing about people (grants.open_data_files leaves natural persons out). A file's
address is stable: the call's `open_data_id` (drawn once, never changed) and the file's name. It
serves the latest build its schema accepted (grants.services.open_data), read from the storage,
with its `ETag` (the SHA-256 of its bytes) and `Last-Modified` (its build), so that a client asking
again gets a 304 while nothing changed; the licence travels in a `Link: …; rel="license"` header.
"""

from uuid import UUID

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, quote_etag
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from applications.models import Call
from grants.models import OpenDataFile
from grants.open_data_files import LICENCE_NAME, LICENCE_URL, PAYMENTS_SCHEMA_PATH, content_type
from grants.selectors.open_data import open_data_listing

CACHE_CONTROL = "public, max-age=3600"


@require_safe
def open_data_index(request: HttpRequest) -> HttpResponse:
    context = {
        "title": _("Données ouvertes"),
        "listing": open_data_listing(),
        "licence_name": LICENCE_NAME,
        "licence_url": LICENCE_URL,
    }
    return render(request, "grants/open_data/index.html", context)


def _licensed(response: HttpResponseBase) -> HttpResponseBase:
    response["Link"] = f'<{LICENCE_URL}>; rel="license"; title="{LICENCE_NAME}"'
    response["Cache-Control"] = CACHE_CONTROL
    return response


@require_safe
def open_data_file(request: HttpRequest, open_data_id: UUID, kind: str) -> HttpResponseBase:
    record = (
        OpenDataFile.objects.select_related("call")
        .exclude(call__status=Call.Status.DRAFT)
        .filter(call__open_data_id=open_data_id, kind=kind)
        .first()
    )
    if record is None:
        raise Http404(_("Ce fichier n'est pas (encore) publié."))
    etag = quote_etag(record.sha256)
    modified = int(record.built_at.timestamp())
    conditional = get_conditional_response(request, etag=etag, last_modified=modified)
    if conditional is not None:
        conditional["ETag"] = etag
        return _licensed(conditional)
    response = FileResponse(
        default_storage.open(record.stored_name, "rb"),
        content_type=content_type(kind),
        filename=f"{record.call.slug}-{kind}",
    )
    response["ETag"] = etag
    response["Last-Modified"] = http_date(modified)
    return _licensed(response)


@require_safe
def payments_schema(request: HttpRequest) -> HttpResponseBase:
    """The portal's own Table Schema of the payments files, as vendored (grants/data/)."""
    response = FileResponse(PAYMENTS_SCHEMA_PATH.open("rb"), content_type="application/json")
    return _licensed(response)
