"""Uploads are checked by their content, in the service, and served back as what they were found to be.

Every upload of the portal (a dossier's supporting documents, the signed copy of an agreement,
the yearly reports) goes through a service that reads the file itself with libmagic: a name
ending in .pdf and a content type the browser claims decide nothing. For each endpoint: a PNG,
an executable or an HTML page named .pdf is refused, with a French error next to the field and
nothing stored (no row, no file under MEDIA_ROOT); a real PDF passes, whatever content type the
browser announced; a file over the limit is refused. The services refuse the same files when
called directly, so no other caller (a command, the admin) can skip the check.

Downloads send the type found at upload (never one guessed again from the name), with
`X-Content-Type-Options: nosniff` and `Content-Disposition: attachment`: the browser saves the
file rather than displaying it inside the portal's origin.
"""

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from applications.models import Application, Attachment, RequiredDocument
from applications.services import attachment_add
from core.uploads import SNIFF_BYTES, checked_mime, sniff_mime
from grants.models import Agreement, Grant, Report
from grants.services import application_award
from grants.services.agreements import agreement_upload_signed_copy
from grants.services.reports import report_upload
from tests.factories import PDF_BYTES, PNG_BYTES, complete_application, in_review_application, pdf_variant

pytestmark = pytest.mark.django_db

# A 64-bit ELF header (what `file` calls an executable) and a Windows one.
ELF_BYTES = bytes.fromhex("7f454c4602010100000000000000000002003e00010000000000000000000000") + b"\x00" * 64
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x40\x00\x00\x00"
EXE_BYTES += b"\x00" * 64 + b"PE\x00\x00\x4c\x01" + b"\x00" * 128
HTML_BYTES = (
    b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n"
)

DISGUISED = {
    "png": PNG_BYTES,
    "elf executable": ELF_BYTES,
    "windows executable": EXE_BYTES,
    "html": HTML_BYTES,
}
CONTENT_CHECKED = "son contenu a été vérifié"


def _zip_with_a_page() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.html", HTML_BYTES)
    return buffer.getvalue()


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 145)).save(buffer, "JPEG")
    return buffer.getvalue()


JPEG_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
# Files whose first bytes are those of a PDF (libmagic says application/pdf) but which are not one,
# or not only one: each is something else to another reader.
PDF_POLYGLOTS = {
    "pdf with a zip appended": PDF_BYTES + _zip_with_a_page(),
    "pdf header then html": b"%PDF-1.4\n" + HTML_BYTES,
    "pdf without any page": (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    ),
    "pdf with html after eof": PDF_BYTES + HTML_BYTES,
}


@dataclass
class Upload:
    """An upload endpoint: who posts, where, under which field name, and how to count what it kept."""

    name: str
    user: User
    url: str
    field: str
    extra: dict[str, str]
    stored: Callable[[], int]
    set_limit_mb: Callable[[pytest.MonkeyPatch, int], None]


def _awarded() -> tuple[Application, Grant, Agreement]:
    application, reviewer = in_review_application()
    grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    return application, grant, Agreement.objects.get(grant=grant)


def dossier_documents() -> Upload:
    application = complete_application()
    document = RequiredDocument.objects.get(call=application.call, code="statuts")

    def limit(monkeypatch: pytest.MonkeyPatch, size_mb: int) -> None:
        RequiredDocument.objects.filter(pk=document.pk).update(max_size_mb=size_mb)

    prefix = f"doc-{document.pk}-"
    return Upload(
        "dossier documents",
        application.created_by,
        reverse("applications:dossier-documents", args=[application.reference]),
        f"{prefix}file",
        {f"{prefix}required_document": str(document.pk)},
        lambda: Attachment.objects.filter(application=application).count(),
        limit,
    )


def report() -> Upload:
    application, grant, agreement = _awarded()
    Agreement.objects.filter(pk=agreement.pk).update(
        status=Agreement.Status.ACTIVE, signed_at=timezone.now(), commitment_number="2103987654"
    )

    def limit(monkeypatch: pytest.MonkeyPatch, size_mb: int) -> None:
        monkeypatch.setattr("grants.services.reports.REPORT_MAX_SIZE_MB", size_mb)

    return Upload(
        "activity report",
        application.created_by,
        reverse("grants:report-upload", args=[application.reference, 1, "activity"]),
        "rapport-1-activity-file",
        {},
        lambda: Report.objects.filter(grant=grant).count(),
        limit,
    )


def signed_copy() -> Upload:
    application, _grant, agreement = _awarded()

    def limit(monkeypatch: pytest.MonkeyPatch, size_mb: int) -> None:
        monkeypatch.setattr("grants.services.agreements.SIGNED_COPY_MAX_MB", size_mb)

    def stored() -> int:
        agreement.refresh_from_db()
        return int(bool(agreement.signed_copy))

    return Upload(
        "agreement signed copy",
        application.created_by,
        reverse("grants:agreement-signed-copy", args=[agreement.number]),
        "file",
        {},
        stored,
        limit,
    )


ENDPOINTS = [dossier_documents, report, signed_copy]


def _files(media: Path) -> set[Path]:
    return {path for path in media.rglob("*") if path.is_file()}


def _post(client: Client, upload: Upload, name: str, content: bytes, content_type: str) -> Any:
    client.force_login(upload.user)
    data: dict[str, Any] = {**upload.extra, upload.field: SimpleUploadedFile(name, content, content_type)}
    return client.post(upload.url, data)


def _error_next_to_the_field(response: Any, upload: Upload, words: str) -> None:
    """The page again (200), the error in French under the field, tied to it for screen readers."""
    assert response.status_code == 200, response.status_code
    content = response.content.decode()
    assert words in content, content[:300]
    field_id = f"id_{upload.field}"
    # The input points at its error.
    assert re.search(rf'aria-describedby="[^"]*\b{re.escape(field_id)}-erreurs\b', content), field_id
    error_block = content[content.index(f'id="{field_id}-erreurs"') :]
    assert "fr-error-text" in error_block[:600] and words in error_block[:1200]


@pytest.mark.parametrize("kind", sorted(DISGUISED))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[endpoint.__name__ for endpoint in ENDPOINTS])
def test_a_file_named_pdf_that_is_not_one_is_refused_and_nothing_is_kept(
    client: Client, _media_root: Path, endpoint: Callable[[], Upload], kind: str
) -> None:
    upload = endpoint()
    before_rows, before_files = upload.stored(), _files(_media_root)
    # The browser says PDF, the name says PDF: only the content is believed.
    response = _post(client, upload, "document.pdf", DISGUISED[kind], "application/pdf")
    _error_next_to_the_field(response, upload, CONTENT_CHECKED)
    assert upload.stored() == before_rows
    assert _files(_media_root) == before_files


@pytest.mark.parametrize("kind", sorted(PDF_POLYGLOTS))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[endpoint.__name__ for endpoint in ENDPOINTS])
def test_a_file_that_starts_like_a_pdf_but_does_not_parse_as_one_is_refused(
    client: Client, _media_root: Path, endpoint: Callable[[], Upload], kind: str
) -> None:
    upload = endpoint()
    before_rows, before_files = upload.stored(), _files(_media_root)
    content = PDF_POLYGLOTS[kind]
    assert sniff_mime(content[:SNIFF_BYTES]) == "application/pdf"  # the first bytes alone would pass
    response = _post(client, upload, "document.pdf", content, "application/pdf")
    _error_next_to_the_field(response, upload, CONTENT_CHECKED)
    assert upload.stored() == before_rows
    assert _files(_media_root) == before_files


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[endpoint.__name__ for endpoint in ENDPOINTS])
def test_trailing_whitespace_after_eof_and_incremental_updates_still_pass(
    client: Client, endpoint: Callable[[], Upload]
) -> None:
    upload = endpoint()
    before = upload.stored()
    # An incremental update: a second body, xref and %%EOF after the first (signing tools do this).
    updated = PDF_BYTES + b"4 0 obj<</Producer(x)>>endobj\n" + PDF_BYTES[PDF_BYTES.index(b"xref") :]
    assert (
        _post(client, upload, "document.pdf", PDF_BYTES + b"\r\n \n\x00", "application/pdf").status_code
        == 302
    )
    assert _post(client, upload, "document.pdf", updated, "application/pdf").status_code == 302
    assert upload.stored() > before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[endpoint.__name__ for endpoint in ENDPOINTS])
def test_a_real_pdf_passes_whatever_type_the_browser_announced(
    client: Client, endpoint: Callable[[], Upload]
) -> None:
    upload = endpoint()
    before = upload.stored()
    response = _post(client, upload, "document.pdf", PDF_BYTES, "text/html")
    assert response.status_code == 302, response.status_code
    assert upload.stored() == before + 1


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[endpoint.__name__ for endpoint in ENDPOINTS])
def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(
    client: Client, monkeypatch: pytest.MonkeyPatch, _media_root: Path, endpoint: Callable[[], Upload]
) -> None:
    upload = endpoint()
    upload.set_limit_mb(monkeypatch, 1)
    before_rows, before_files = upload.stored(), _files(_media_root)
    too_big = PDF_BYTES + b"%" + b"0" * (1024 * 1024)
    response = _post(client, upload, "document.pdf", too_big, "application/pdf")
    _error_next_to_the_field(response, upload, "dépasse la taille maximale de 1 Mo")
    assert upload.stored() == before_rows
    assert _files(_media_root) == before_files
    # Just under the limit passes.
    response = _post(client, upload, "document.pdf", pdf_variant("x" * 1000), "application/pdf")
    assert response.status_code == 302


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[endpoint.__name__ for endpoint in ENDPOINTS])
def test_an_empty_file_is_refused(client: Client, endpoint: Callable[[], Upload]) -> None:
    upload = endpoint()
    before = upload.stored()
    response = _post(client, upload, "document.pdf", b"", "application/pdf")
    _error_next_to_the_field(response, upload, "est vide")
    assert upload.stored() == before


def _post_raw(client: Client, upload: Upload, filename: str, content: bytes) -> Any:
    """A multipart body written by hand: the test client would cut the file name at 255 characters."""
    client.force_login(upload.user)
    boundary = "frontiere-de-test"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in upload.extra.items()
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{upload.field}"; filename="{filename}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    return client.post(upload.url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


@pytest.mark.parametrize("filename", ["a" * 1000 + ".pdf", "é" * 996 + ".pdf", "b" * 197 + ".pdf"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[endpoint.__name__ for endpoint in ENDPOINTS])
def test_a_file_name_too_long_gets_the_form_error_not_a_bare_400(
    client: Client, _media_root: Path, endpoint: Callable[[], Upload], filename: str
) -> None:
    upload = endpoint()
    before_rows, before_files = upload.stored(), _files(_media_root)
    response = _post_raw(client, upload, filename, PDF_BYTES)
    _error_next_to_the_field(response, upload, "Le nom de ce fichier dépasse 200 caractères")
    assert upload.stored() == before_rows
    assert _files(_media_root) == before_files
    # A name of 200 characters is taken (stored under a shortened, sanitised name).
    assert _post_raw(client, upload, "c" * 196 + ".pdf", PDF_BYTES).status_code == 302
    assert upload.stored() > before_rows


# --- the services check by themselves -------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(DISGUISED))
def test_the_services_refuse_a_disguised_file_without_any_form(kind: str) -> None:
    application = complete_application()
    statuts = RequiredDocument.objects.get(call=application.call, code="statuts")
    with pytest.raises(ValidationError) as refused:
        attachment_add(
            application=application,
            required_document=statuts,
            file=io.BytesIO(DISGUISED[kind]),
            filename="statuts.pdf",
            actor=application.created_by,
        )
    assert "file" in refused.value.error_dict

    awarded, grant, agreement = _awarded()
    with pytest.raises(ValidationError) as refused:
        agreement_upload_signed_copy(
            agreement=agreement, file=io.BytesIO(DISGUISED[kind]), filename="c.pdf", actor=awarded.created_by
        )
    assert "file" in refused.value.error_dict

    Agreement.objects.filter(pk=agreement.pk).update(status=Agreement.Status.ACTIVE, signed_at=timezone.now())
    with pytest.raises(ValidationError) as refused:
        report_upload(
            grant=grant,
            year_index=1,
            kind="financial",
            file=io.BytesIO(DISGUISED[kind]),
            filename="r.pdf",
            actor=awarded.created_by,
        )
    assert "file" in refused.value.error_dict


def test_a_document_accepting_images_takes_a_png_only_under_its_own_name() -> None:
    application = complete_application()
    rib = RequiredDocument.objects.get(call=application.call, code="rib")  # pdf, jpg, png
    user = application.created_by
    for name, content in [("rib.pdf", PNG_BYTES), ("rib.png", PDF_BYTES), ("rib.jpg", PNG_BYTES)]:
        with pytest.raises(ValidationError):
            attachment_add(
                application=application,
                required_document=rib,
                file=io.BytesIO(content),
                filename=name,
                actor=user,
            )
    kept = attachment_add(
        application=application,
        required_document=rib,
        file=io.BytesIO(PNG_BYTES),
        filename="rib.png",
        actor=user,
    )
    assert kept.content_type == "image/png"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("rib.jpg", JPEG_HEADER + HTML_BYTES),
        ("rib.jpg", _jpeg()[:200]),  # cut short: the header is right, the image does not decode
        ("rib.png", PNG_BYTES[:40] + HTML_BYTES),
        ("rib.pdf", b"%PDF-1.7\n" + HTML_BYTES),
    ],
)
def test_an_image_or_pdf_that_does_not_decode_is_refused_and_nothing_is_kept(
    _media_root: Path, name: str, content: bytes
) -> None:
    application = complete_application()
    rib = RequiredDocument.objects.get(call=application.call, code="rib")  # pdf, jpg, png
    assert sniff_mime(content[:SNIFF_BYTES]) in {"image/jpeg", "image/png", "application/pdf"}
    before, before_rows = _files(_media_root), Attachment.objects.count()
    with pytest.raises(ValidationError) as refused:
        attachment_add(
            application=application,
            required_document=rib,
            file=io.BytesIO(content),
            filename=name,
            actor=application.created_by,
        )
    assert CONTENT_CHECKED in refused.value.message_dict["file"][0]
    assert Attachment.objects.count() == before_rows
    assert _files(_media_root) == before


def test_a_real_jpeg_passes() -> None:
    application = complete_application()
    rib = RequiredDocument.objects.get(call=application.call, code="rib")
    kept = attachment_add(
        application=application,
        required_document=rib,
        file=io.BytesIO(_jpeg()),
        filename="rib.jpg",
        actor=application.created_by,
    )
    assert kept.content_type == "image/jpeg"


# --- serving -------------------------------------------------------------------------------------


def _assert_served_as(response: Any, content_type: str, body: bytes) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;"), response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == body


def test_a_supporting_document_is_served_as_the_type_found_at_upload(client: Client) -> None:
    application = complete_application()
    user = application.created_by
    rib = RequiredDocument.objects.get(call=application.call, code="rib")
    image = attachment_add(
        application=application,
        required_document=rib,
        file=io.BytesIO(PNG_BYTES),
        filename="rib.png",
        actor=user,
    )
    statuts = Attachment.objects.get(application=application, required_document__code="statuts")
    client.force_login(user)
    for attachment, content_type, body in [
        (image, "image/png", PNG_BYTES),
        (statuts, "application/pdf", PDF_BYTES),
    ]:
        # Whatever the name would suggest, the stored type decides.
        Attachment.objects.filter(pk=attachment.pk).update(original_name="piece.html")
        url = reverse("applications:attachment-download", args=[application.reference, attachment.pk])
        _assert_served_as(client.get(url), content_type, body)


def test_reports_and_signed_copies_are_served_as_pdf_attachments(client: Client) -> None:
    application, grant, agreement = _awarded()
    user = application.created_by
    agreement_upload_signed_copy(
        agreement=agreement, file=io.BytesIO(PDF_BYTES), filename="c.pdf", actor=user
    )
    Agreement.objects.filter(pk=agreement.pk).update(status=Agreement.Status.ACTIVE, signed_at=timezone.now())
    filed = report_upload(
        grant=grant,
        year_index=1,
        kind="activity",
        file=io.BytesIO(PDF_BYTES),
        filename="rapport.pdf",
        actor=user,
    )
    client.force_login(user)
    _assert_served_as(
        client.get(reverse("grants:report-download", args=[application.reference, filed.pk])),
        "application/pdf",
        PDF_BYTES,
    )
    _assert_served_as(
        client.get(reverse("grants:agreement-signed-copy-download", args=[agreement.number])),
        "application/pdf",
        PDF_BYTES,
    )


# --- office documents: readable archives of their format ------------------------------------------


def _docx(*, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr("word/document.xml", "<w:document/>" + "<w:p/>" * 200)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _odt() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", "<manifest/>", zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def test_office_documents_pass_when_whole_and_are_refused_when_damaged() -> None:
    docx, odt = _docx(), _odt()
    assert checked_mime(docx) == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert checked_mime(odt) == "application/vnd.oasis.opendocument.text"
    # A flipped byte inside the compressed document: the CRC no longer matches.
    member = docx.index(b"word/document.xml") + len(b"word/document.xml") + 4
    damaged = docx[:member] + bytes([docx[member] ^ 0xFF]) + docx[member + 1 :]
    assert sniff_mime(damaged[:SNIFF_BYTES]) == sniff_mime(docx[:SNIFF_BYTES])
    assert checked_mime(damaged) == ""
    # An archive that would unpack beyond the bound is refused unread.
    assert checked_mime(_docx(extra={"word/media/big.bin": b"0" * 2000}), max_unzipped_bytes=1000) == ""
