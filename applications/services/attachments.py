"""Supporting documents: checked by their content, not their name, and fingerprinted."""

import hashlib
import io
import warnings
import zipfile
from typing import IO

import magic
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from PIL import Image
from pypdf import PdfReader

from accounts.models import User
from accounts.services import audit_record
from applications.models import Application, Attachment, RequiredDocument
from applications.services.dossiers import ensure_editable

# What each accepted extension must really be, read from the file's first bytes by libmagic.
MIME_TYPES: dict[str, frozenset[str]] = {
    "pdf": frozenset({"application/pdf"}),
    "jpg": frozenset({"image/jpeg"}),
    "jpeg": frozenset({"image/jpeg"}),
    "png": frozenset({"image/png"}),
    "odt": frozenset({"application/vnd.oasis.opendocument.text"}),
    "ods": frozenset({"application/vnd.oasis.opendocument.spreadsheet"}),
    "docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
    "xlsx": frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
}
SNIFF_BYTES = 8192


def sanitise_filename(name: str) -> str:
    """Keep the applicant's file name readable but harmless: no path, no odd characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = get_valid_filename(base) if base.strip(". ") else ""
    cleaned = cleaned or "document"
    if len(cleaned) > 150:
        # Shorten the stem, never the extension: the type check reads the extension.
        stem, dot, extension = cleaned.rpartition(".")
        cleaned = (
            f"{stem[: 150 - len(extension) - 1]}.{extension}"
            if dot and len(extension) <= 10
            else cleaned[:150]
        )
    return cleaned


def sniff_mime(head: bytes) -> str:
    return magic.from_buffer(head, mime=True)


# Bytes the PDF syntax counts as white space (ISO 32000-1, 7.2.2): all that may follow %%EOF.
PDF_WHITESPACE = b"\x00\t\n\x0c\r "
# Past this many pixels an image is refused rather than decoded (Pillow's own bomb threshold).
MAX_IMAGE_PIXELS = 89_478_485
# An office document (a ZIP) whose members would expand beyond this is refused unread.
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
# The member each office format must hold, and what an OpenDocument's `mimetype` member says.
OPENDOCUMENT_TYPES = frozenset(
    {"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet"}
)


def _parses_as_pdf(content: bytes) -> bool:
    """Opens with pypdf, has at least one page, and nothing but white space after the last %%EOF.

    Data after %%EOF is ignored by PDF readers but not by others: a ZIP or a page appended there
    makes the file a polyglot. Incremental updates (signatures) end with their own %%EOF, so
    looking after the last one accepts them.
    """
    end = content.rfind(b"%%EOF")
    if end < 0 or content[end + len(b"%%EOF") :].strip(PDF_WHITESPACE):
        return False
    try:
        with warnings.catch_warnings():
            # What pypdf finds odd in a file is about the file: the answer is yes or no.
            warnings.simplefilter("ignore")
            return len(PdfReader(io.BytesIO(content)).pages) >= 1
    except Exception:  # noqa: BLE001 - any failure of the parser means "not a PDF we accept"
        return False


def _parses_as_image(content: bytes, image_format: str) -> bool:
    """Pillow identifies the format and decodes the whole image (a truncated one fails)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[image_format]) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    return False
                if image_format == "JPEG":
                    # Decoding at 1/8 scale reads every compressed byte with 1/64 of the memory.
                    image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
        return True
    except Exception:  # noqa: BLE001 - any failure of the decoder means "not an image we accept"
        return False


def _parses_as_office_document(content: bytes, mime: str) -> bool:
    """A readable ZIP with the member its format requires, whose members all pass their CRC."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if sum(member.file_size for member in archive.infolist()) > MAX_UNZIPPED_BYTES:
                return False
            if mime in OPENDOCUMENT_TYPES:
                if "mimetype" not in names or archive.read("mimetype").strip() != mime.encode():
                    return False
            elif "[Content_Types].xml" not in names:
                return False
            return archive.testzip() is None
    except Exception:  # noqa: BLE001 - any failure of the reader means "not a document we accept"
        return False


def checked_mime(content: bytes) -> str:
    """The type of a whole uploaded file: what libmagic reads in its first bytes, confirmed by a parser.

    Magic bytes alone let polyglots through (a PDF with a ZIP appended, « %PDF- » followed by a
    web page, a JPEG header followed by HTML). Each accepted type is therefore read by a real
    parser; "" when the file does not parse as what its first bytes claim. Every upload service
    (supporting documents, signed agreements, reports) calls this one check.
    """
    mime = sniff_mime(content[:SNIFF_BYTES])
    if mime == "application/pdf":
        accepted = _parses_as_pdf(content)
    elif mime == "image/jpeg":
        accepted = _parses_as_image(content, "JPEG")
    elif mime == "image/png":
        accepted = _parses_as_image(content, "PNG")
    elif mime.startswith(("application/vnd.oasis.opendocument.", "application/vnd.openxmlformats-")):
        accepted = _parses_as_office_document(content, mime)
    else:
        # No other type is accepted anywhere: the callers refuse it by its name alone.
        accepted = True
    return mime if accepted else ""


@transaction.atomic
def attachment_add(
    *,
    application: Application,
    required_document: RequiredDocument,
    file: IO[bytes],
    filename: str,
    actor: User,
) -> Attachment:
    """Store one file for a required document after checking its size and its real type."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    ensure_editable(application)
    if required_document.call_id != application.call_id:
        raise ValidationError({"file": _("Cette pièce n'est pas demandée par l'appel de ce dossier.")})
    name = sanitise_filename(filename)
    limit = required_document.max_size_mb * 1024 * 1024
    content = file.read(limit + 1)
    if not content:
        raise ValidationError({"file": _("Le fichier « %(name)s » est vide.") % {"name": name}}, code="empty")
    if len(content) > limit:
        raise ValidationError(
            {
                "file": _("Le fichier « %(name)s » dépasse la taille maximale de %(size)d Mo.")
                % {"name": name, "size": required_document.max_size_mb}
            },
            code="too_large",
        )
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = required_document.extensions
    mime = checked_mime(content)
    if extension not in allowed or mime not in MIME_TYPES.get(extension, frozenset()):
        raise ValidationError(
            {
                "file": _(
                    "Le fichier « %(name)s » n'est pas un document accepté pour cette pièce "
                    "(formats acceptés : %(formats)s) : son contenu a été vérifié, pas seulement son nom."
                )
                % {"name": name, "formats": ", ".join(ext.upper() for ext in allowed)}
            },
            code="bad_type",
        )
    attachment = Attachment(
        application=application,
        required_document=required_document,
        original_name=name,
        content_type=mime,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=actor,
    )
    attachment.file.save(name, ContentFile(content), save=False)
    try:
        attachment.full_clean()
        attachment.save()
    except Exception:
        # Nothing half-saved: the file goes if the row does not make it.
        attachment.file.delete(save=False)
        raise
    audit_record(
        actor=actor,
        action="application.attachment_add",
        target=application,
        data={"document": required_document.code, "sha256": attachment.sha256},
    )
    return attachment


@transaction.atomic
def attachment_remove(*, attachment: Attachment, actor: User) -> None:
    application = Application.objects.select_for_update().get(pk=attachment.application_id)
    ensure_editable(application)
    stored = attachment.file.name or ""
    storage = attachment.file.storage
    attachment.delete()
    if stored:
        transaction.on_commit(lambda: storage.delete(stored))
    audit_record(actor=actor, action="application.attachment_remove", target=application)
