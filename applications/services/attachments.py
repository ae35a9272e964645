"""Supporting documents: checked by their content, not their name, and fingerprinted."""

import hashlib
from typing import IO

import magic
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

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
    mime = sniff_mime(content[:SNIFF_BYTES])
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
