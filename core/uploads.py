"""The one check every upload goes through: size, extension, content read by real parsers, a safe name.

The portal takes files in three places (a dossier's supporting documents, the signed copy of an
agreement, the yearly reports); each service calls `check_upload` with its own limits and its
own wording of a wrong type, and gets the same French errors for the rest. The form field
`UploadFileField` refuses, next to the field, a name too long to store.

Hand-written around libraries: libmagic (python-magic) reads the first bytes, then pypdf, Pillow
and zipfile confirm that the whole file is what those bytes claim. No library does the whole
pipeline (django's FileExtensionValidator trusts the name, a browser's content type decides
nothing).
"""

import io
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

import magic
from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image
from pypdf import PdfReader

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
# Bytes the PDF syntax counts as white space (ISO 32000-1, 7.2.2): all that may follow %%EOF.
PDF_WHITESPACE = b"\x00\t\n\x0c\r "
# Past this many pixels an image is refused rather than decoded (Pillow's own bomb threshold).
MAX_IMAGE_PIXELS = 89_478_485
# An office document (a ZIP) whose members would expand beyond this is refused unread.
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
# What an OpenDocument's `mimetype` member says (an OOXML file holds `[Content_Types].xml` instead).
OPENDOCUMENT_TYPES = frozenset(
    {"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet"}
)
# A longer name gets an error next to its field rather than being cut behind the user's back.
# File systems allow 255 bytes, so only a renamed-by-hand or forged upload reaches it.
FILENAME_MAX_LENGTH = 200
# The stored name keeps at most this many characters (its extension always survives).
STORED_NAME_MAX_LENGTH = 150


class UploadFileField(forms.FileField):
    """A file input whose too long name is refused in French, next to the field."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", FILENAME_MAX_LENGTH)
        super().__init__(**kwargs)
        self.error_messages["max_length"] = gettext_lazy(
            "Le nom de ce fichier dépasse %(max)d caractères : renommez-le plus court, puis "
            "déposez-le à nouveau."
        )


def sanitise_filename(name: str) -> str:
    """Keep the user's file name readable but harmless: no path, no odd characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = get_valid_filename(base) if base.strip(". ") else ""
    cleaned = cleaned or "document"
    if len(cleaned) > STORED_NAME_MAX_LENGTH:
        # Shorten the stem, never the extension: the type check reads the extension.
        stem, dot, extension = cleaned.rpartition(".")
        cleaned = (
            f"{stem[: STORED_NAME_MAX_LENGTH - len(extension) - 1]}.{extension}"
            if dot and len(extension) <= 10
            else cleaned[:STORED_NAME_MAX_LENGTH]
        )
    return cleaned


def sniff_mime(head: bytes) -> str:
    return magic.from_buffer(head, mime=True)


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


def _parses_as_office_document(content: bytes, mime: str, max_unzipped_bytes: int) -> bool:
    """A readable ZIP with the member its format requires, whose members all pass their CRC."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            if sum(member.file_size for member in archive.infolist()) > max_unzipped_bytes:
                return False
            if mime in OPENDOCUMENT_TYPES:
                if "mimetype" not in names or archive.read("mimetype").strip() != mime.encode():
                    return False
            elif "[Content_Types].xml" not in names:
                return False
            return archive.testzip() is None
    except Exception:  # noqa: BLE001 - any failure of the reader means "not a document we accept"
        return False


def checked_mime(content: bytes, *, max_unzipped_bytes: int = MAX_UNZIPPED_BYTES) -> str:
    """The type of a whole uploaded file: what libmagic reads in its first bytes, confirmed by a parser.

    Magic bytes alone let polyglots through (a PDF with a ZIP appended, « %PDF- » followed by a
    web page, a JPEG header followed by HTML). Each accepted type is therefore read by a real
    parser; "" when the file does not parse as what its first bytes claim.
    """
    mime = sniff_mime(content[:SNIFF_BYTES])
    if mime == "application/pdf":
        accepted = _parses_as_pdf(content)
    elif mime == "image/jpeg":
        accepted = _parses_as_image(content, "JPEG")
    elif mime == "image/png":
        accepted = _parses_as_image(content, "PNG")
    elif mime.startswith(("application/vnd.oasis.opendocument.", "application/vnd.openxmlformats-")):
        accepted = _parses_as_office_document(content, mime, max_unzipped_bytes)
    else:
        # No other type is accepted anywhere: check_upload refuses it by its extension alone.
        accepted = True
    return mime if accepted else ""


@dataclass(frozen=True)
class CheckedUpload:
    """A file that passed: its sanitised name, its whole content and the type found in it."""

    name: str
    content: bytes
    mime: str


def check_upload(
    file: IO[bytes],
    filename: str,
    *,
    max_size_mb: int,
    extensions: Iterable[str],
    bad_type: str,
    field: str = "file",
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
) -> CheckedUpload:
    """Read `file` once and refuse it, under `field`, when empty, too large or not what its name says.

    `extensions`: those accepted, lower case, without the dot; the content must be the type each
    stands for (MIME_TYPES). `bad_type`: the caller's French refusal of a wrong type, with
    `%(name)s` (the sanitised name) and, if it lists them, `%(formats)s`.
    """
    name = sanitise_filename(filename)
    limit = max_size_mb * 1024 * 1024
    content = file.read(limit + 1)
    if not content:
        raise ValidationError({field: _("Le fichier « %(name)s » est vide.") % {"name": name}}, code="empty")
    if len(content) > limit:
        raise ValidationError(
            {
                field: _("Le fichier « %(name)s » dépasse la taille maximale de %(size)d Mo.")
                % {"name": name, "size": max_size_mb}
            },
            code="too_large",
        )
    allowed = [extension.lower() for extension in extensions]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    # The parsers run only for an accepted extension: a refused name costs no decoding.
    mime = checked_mime(content, max_unzipped_bytes=max_unzipped_bytes) if extension in allowed else ""
    if mime not in MIME_TYPES.get(extension, frozenset()):
        formats = ", ".join(allowed_extension.upper() for allowed_extension in allowed)
        raise ValidationError(
            {field: bad_type % {"name": name, "formats": formats}},
            code="bad_type",
        )
    return CheckedUpload(name=name, content=content, mime=mime)
