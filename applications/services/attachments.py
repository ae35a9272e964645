"""Supporting documents: checked by their content, not their name (core.uploads), and fingerprinted."""

import hashlib
from typing import IO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from applications.models import Application, Attachment, RequiredDocument
from applications.services.dossiers import ensure_editable
from core import uploads


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
    upload = uploads.check_upload(
        file,
        filename,
        max_size_mb=required_document.max_size_mb,
        extensions=required_document.extensions,
        bad_type=_(
            "Le fichier « %(name)s » n'est pas un document accepté pour cette pièce "
            "(formats acceptés : %(formats)s) : son contenu a été vérifié, pas seulement son nom."
        ),
    )
    content = upload.content
    attachment = Attachment(
        application=application,
        required_document=required_document,
        original_name=upload.name,
        content_type=upload.mime,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=actor,
    )
    attachment.file.save(upload.name, ContentFile(content), save=False)
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
