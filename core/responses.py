"""How the portal hands over a stored or generated file: one response, the same headers everywhere.

Hand-written on Django's FileResponse (which streams the file and writes a Content-Disposition
that survives any name): the file is always an attachment, sent as the type the caller vouches
for (found at upload, or the one the portal generated), never guessed again from its name;
`X-Content-Type-Options: nosniff` keeps the browser from guessing either, and
`Cache-Control: private, no-store` keeps a dossier's files out of shared and browser caches.
"""

from typing import IO

from django.core.files.storage import Storage, default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponseBase
from django.utils.cache import patch_cache_control


def private_file_headers(response: HttpResponseBase) -> HttpResponseBase:
    """The headers of every file the portal serves (also for the CSV exports it streams itself)."""
    response["X-Content-Type-Options"] = "nosniff"
    patch_cache_control(response, private=True, no_store=True)
    return response


def document_response(
    file: FieldFile | str,
    *,
    filename: str,
    content_type: str,
    storage: Storage | None = None,
) -> FileResponse:
    """Serve `file` (a model's file field, or a name in `storage`, default storage) as a download.

    A file missing from the storage is a 404, like a row the user may not see.
    """
    try:
        handle: IO[bytes] = (
            file.open("rb") if isinstance(file, FieldFile) else (storage or default_storage).open(file, "rb")
        )
    except FileNotFoundError as missing:
        raise Http404 from missing
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    private_file_headers(response)
    return response
