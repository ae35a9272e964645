"""Writes on notifications: ask for a document or an e-mail, render it, send it.

Callers hand over a template name, a context and recipients; this app knows nothing of dossiers
or grants. Each request is a row written in the caller's transaction; the work is queued only
after commit, and every worker step locks its row and returns early when the work is done, so a
redelivered task does nothing twice.
"""

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from notifications.models import Document, OutgoingEmail, Status
from notifications.pdf import render_pdf

logger = logging.getLogger(__name__)

# Rows younger than this are left to the task queued at their creation.
SWEEP_GRACE = timedelta(minutes=5)
MAX_ATTEMPTS = 10


def _enqueue_render(document_id: int) -> None:
    from notifications.tasks import document_render_task

    document_render_task.delay(document_id)


def _enqueue_send(email_id: int) -> None:
    from notifications.tasks import email_send_task

    email_send_task.delay(email_id)


@transaction.atomic
def document_request(
    *, key: str, kind: str, template_name: str, context: dict[str, Any], filename: str
) -> Document:
    """Ask for a PDF; it is rendered by a worker after the caller's transaction commits."""
    document, created = Document.objects.get_or_create(
        key=key,
        defaults={
            "kind": kind,
            "template_name": template_name,
            "context": context,
            "filename": filename,
        },
    )
    if created:
        document.full_clean()
        # robust: with in-process tasks a failed render must not undo the caller's response;
        # the row stays pending and the sweep retries it.
        transaction.on_commit(lambda: _enqueue_render(document.pk), robust=True)
    return document


def _claim_attempt(model: type[Document] | type[OutgoingEmail], pk: int) -> bool:
    """Count an attempt in a transaction of its own, before the work starts.

    The count must survive what the work's transaction does not: a hard time limit or a worker
    killed mid-task rolls the work back, and a count taken inside it would be lost, letting the
    sweep or a redelivery retry the row forever. Past MAX_ATTEMPTS the row is marked failed for
    a human to look at. Returns False when there is nothing (more) to do.
    """
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=pk)
        if row.status != Status.PENDING:
            return False
        if row.attempts >= MAX_ATTEMPTS:
            row.status = Status.FAILED
            row.save(update_fields=["status"])
            logger.error("%s %s failed %s times, given up", model.__name__, pk, row.attempts)
            return False
        row.attempts += 1
        row.save(update_fields=["attempts"])
    return True


def document_render(*, document_id: int) -> Document:
    """Render a requested document and store it with its SHA-256. Idempotent."""
    if not _claim_attempt(Document, document_id):
        return Document.objects.get(pk=document_id)
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document_id)
        if document.status != Status.PENDING:  # done meanwhile by a concurrent delivery
            return document
        pdf = render_pdf(document.template_name, document.context)
        document.file.save(document.filename, ContentFile(pdf), save=False)
        document.sha256 = hashlib.sha256(pdf).hexdigest()
        document.size = len(pdf)
        document.status = Status.DONE
        document.rendered_at = timezone.now()
        document.last_error = ""
        document.save(update_fields=["file", "sha256", "size", "status", "rendered_at", "last_error"])
    # Once committed: one line per document actually rendered (a redelivery logs nothing).
    logger.info("Document %s rendered: %s, %s bytes", document.pk, document.file.name, document.size)
    return document


@transaction.atomic
def email_queue(
    *,
    key: str,
    to: list[str],
    subject: str,
    body: str,
    attachments: list[Document] | None = None,
) -> OutgoingEmail:
    """Ask for an e-mail to be sent after the caller's transaction commits."""
    email, created = OutgoingEmail.objects.get_or_create(
        key=key, defaults={"to": to, "subject": subject, "body": body}
    )
    if created:
        email.full_clean()
        if attachments:
            email.attachments.set(attachments)
        transaction.on_commit(lambda: _enqueue_send(email.pk), robust=True)
    return email


class AttachmentsPending(Exception):
    """A pending e-mail whose documents are not rendered yet: it waits, no attempt is counted."""

    def __init__(self, email_id: int, document_ids: list[int]) -> None:
        super().__init__(f"E-mail {email_id} waits for its documents {document_ids}")
        self.email_id = email_id
        self.document_ids = document_ids


def email_send(*, email_id: int, render_pending_attachments: bool = False) -> OutgoingEmail:
    """Send a queued e-mail with its documents attached. Idempotent.

    The documents are rendered by the workers of the pdf queue, not by those of the e-mails: while
    one is still pending, this raises AttachmentsPending before counting an attempt (a long PDF
    queue must not use up the e-mail's attempts), and the task looks again later.
    `render_pending_attachments` renders them here instead, through `document_render`, whose claim
    and row lock keep each document to one rendering: for tasks run in process (`make demo`, the
    tests), where no other worker exists.
    """
    if not render_pending_attachments:
        waiting = list(
            Document.objects.filter(
                emails__pk=email_id, emails__status=Status.PENDING, status=Status.PENDING
            ).values_list("pk", flat=True)
        )
        if waiting:
            raise AttachmentsPending(email_id, waiting)
    if not _claim_attempt(OutgoingEmail, email_id):
        return OutgoingEmail.objects.get(pk=email_id)
    with transaction.atomic():
        email = OutgoingEmail.objects.select_for_update().get(pk=email_id)
        if email.status != Status.PENDING:
            return email
        message = EmailMessage(subject=email.subject, body=email.body, to=email.to)
        for attachment in email.attachments.order_by("pk"):
            if attachment.status == Status.PENDING and render_pending_attachments:
                attachment = document_render(document_id=attachment.pk)
            if attachment.status != Status.DONE:
                # Failed for good: the e-mail fails too, and a human looks at both.
                raise RuntimeError(f"Attachment {attachment.pk} is not rendered ({attachment.status})")
            with attachment.file.open("rb") as handle:
                message.attach(attachment.filename, handle.read(), "application/pdf")
        message.send(fail_silently=False)
        email.status = Status.DONE
        email.sent_at = timezone.now()
        email.last_error = ""
        email.save(update_fields=["status", "sent_at", "last_error"])
    return email


def notification_record_failure(*, model: type[Document] | type[OutgoingEmail], pk: int, error: str) -> None:
    """Keep the last error on the row; the attempt was already counted by _claim_attempt."""
    row = model.objects.get(pk=pk)
    row.last_error = error[:2000]
    update_fields = ["last_error"]
    if row.attempts >= MAX_ATTEMPTS and row.status == Status.PENDING:
        row.status = Status.FAILED
        update_fields.append("status")
    row.save(update_fields=update_fields)


def notifications_sweep(*, now: Any = None) -> dict[str, int]:
    """Re-queue the documents and e-mails left pending (a broker outage, a lost message)."""
    cutoff = (now or timezone.now()) - SWEEP_GRACE
    documents = list(
        Document.objects.filter(status=Status.PENDING, created_at__lt=cutoff).values_list("pk", flat=True)
    )
    emails = list(
        OutgoingEmail.objects.filter(status=Status.PENDING, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for document_id in documents:
        _enqueue_render(document_id)
    for email_id in emails:
        _enqueue_send(email_id)
    if documents or emails:
        logger.info("Sweep re-queued %s documents and %s e-mails", len(documents), len(emails))
    return {"documents": len(documents), "emails": len(emails)}
