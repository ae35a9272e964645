"""core.responses.document_response: every file leaves as a private, unsniffable attachment."""

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.http import Http404, HttpResponse

from core.responses import document_response, private_file_headers


def test_a_stored_file_is_served_as_an_attachment_of_the_given_type(tmp_path: Path) -> None:
    storage = FileSystemStorage(location=tmp_path)
    stored = storage.save("a1b2.pdf", ContentFile(b"%PDF-1.4 contenu"))
    response = document_response(
        stored, filename="Récépissé FT-2027-0001.pdf", content_type="application/pdf", storage=storage
    )
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "FT-2027-0001.pdf" in response["Content-Disposition"]
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}
    assert b"".join(response.streaming_content) == b"%PDF-1.4 contenu"  # type: ignore[arg-type]
    response.file_to_stream.close()  # type: ignore[union-attr]


def test_a_file_missing_from_the_storage_is_a_404(tmp_path: Path) -> None:
    with pytest.raises(Http404):
        document_response(
            "absent.pdf",
            filename="x.pdf",
            content_type="application/pdf",
            storage=FileSystemStorage(location=tmp_path),
        )


def test_the_same_headers_go_on_a_streamed_export() -> None:
    response = private_file_headers(HttpResponse("a;b\n", content_type="text/csv"))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}
