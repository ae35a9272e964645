"""Writes on notifications: ask for a document or an e-mail, render it, send it.

Callers hand over a template name, a context and recipients; this app knows nothing of dossiers
or grants. Each request is a row written in the caller's transaction; the work is queued only
after commit, and every worker step locks its row and returns early when the work is done, so a
redelivered task does nothing twice.
"""

import hashlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.models import Document, EmailStatus, OutgoingEmail, Status
from notifications.pdf import render_pdf

logger = logging.getLogger(__name__)

# Rows younger than this are left to the task queued at their creation.
SWEEP_GRACE = timedelta(minutes=5)
# After each re-queue the sweep waits twice as long before the next (5, 10, 20, 40 minutes), up
# to this ceiling: a row waiting in a long backlog is re-queued O(log) times, not at every sweep,
# and a row whose messages keep being lost is still re-queued at least this often.
SWEEP_CEILING = timedelta(hours=1)
MAX_ATTEMPTS = 10
# An e-mail still « sending » this long after its claim was interrupted (its worker killed, or the
# database lost before the row was marked sent): longer than the tasks' hard time limit
# (CELERY_TASK_TIME_LIMIT, 180 s by default), so that no attempt is still running then.
SENDING_STALE = timedelta(minutes=10)

E = EmailStatus

# The e-mail's machine: every move a service may make, through `_email_move`.
EMAIL_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        # A claim: one attempt counted, committed before the relay is called.
        (E.PENDING, E.SENDING),
        # The relay accepted the message.
        (E.SENDING, E.DONE),
        # The attempt failed before the relay accepted it; or, found stale by the sweep, it was
        # interrupted and the message may or may not have left (sent again, same Message-ID).
        (E.SENDING, E.PENDING),
        # Attempts used up: a human looks at it.
        (E.PENDING, E.FAILED),
        # The human asked for a retry (« Relancer » in the admin): a fresh count of attempts.
        (E.FAILED, E.PENDING),
    }
)


def _enqueue_render(document_id: int) -> None:
    from notifications.tasks import document_render_task

    document_render_task.delay(document_id)


def _enqueue_send(email_id: int) -> None:
    from notifications.tasks import email_send_task

    email_send_task.delay(email_id)


def email_send_on_commit(email_id: int) -> None:
    """Queue the sending of an e-mail row written in bulk by the caller, once its transaction commits."""
    transaction.on_commit(lambda: _enqueue_send(email_id), robust=True)


@transaction.atomic
def document_request(
    *, key: str, kind: str, template_name: str, context: Mapping[str, Any], filename: str
) -> Document:
    """Ask for a PDF; it is rendered by a worker after the caller's transaction commits.

    `context` is frozen as JSON in the row: the callers type it (a TypedDict per legal document,
    e.g. grants.services.document_contexts) with strings, numbers and lists of them only.
    """
    document, created = Document.objects.get_or_create(
        key=key,
        defaults={
            "kind": kind,
            "template_name": template_name,
            "context": dict(context),
            "filename": filename,
        },
    )
    if created:
        document.full_clean()
        # robust: a broker that refuses the message (or, in process, a failed render) must not
        # undo the caller's response; the row stays pending and the sweep queues it again.
        transaction.on_commit(lambda: _enqueue_render(document.pk), robust=True)
    return document


def _claim_attempt(model: type[Document] | type[OutgoingEmail], pk: int) -> bool:
    """Count an attempt in a transaction of its own, before the work starts.

    The count must survive what the work's transaction does not: a hard time limit or a worker
    killed mid-task rolls the work back, and a count taken inside it would be lost, letting the
    sweep or a redelivery retry the row forever. Past MAX_ATTEMPTS the row is marked failed for
    a human to look at. Returns False when there is nothing (more) to do.

    An e-mail's claim also moves it to « sending » (committed here): one claim, one attempt at the
    relay. A row found « sending » is left alone, as its attempt may be talking to the relay.
    """
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=pk)
        if row.status != Status.PENDING:
            return False
        if row.attempts >= MAX_ATTEMPTS:
            if isinstance(row, OutgoingEmail):
                _email_move(row, E.FAILED)
            else:
                row.status = Status.FAILED
                row.save(update_fields=["status"])
            logger.error("%s %s failed %s times, given up", model.__name__, pk, row.attempts)
            return False
        row.attempts += 1
        if isinstance(row, OutgoingEmail):
            _email_move(row, E.SENDING, attempts=row.attempts, sending_since=timezone.now())
        else:
            row.save(update_fields=["attempts"])
    return True


def _email_move(email: OutgoingEmail, to_status: str, **fields: Any) -> None:
    """The one place an e-mail's status changes: checks EMAIL_TRANSITIONS, saves the move.

    The caller holds the row's lock (select_for_update) in its transaction.
    """
    if (email.status, to_status) not in EMAIL_TRANSITIONS:
        raise ValueError(f"E-mail {email.pk}: no move from {email.status} to {to_status}")
    email.status = to_status
    for name, value in fields.items():
        setattr(email, name, value)
    email.save(update_fields=["status", *fields])


def email_message_id(email: OutgoingEmail) -> str:
    """The Message-ID of an e-mail: derived from its row's key, so every attempt carries the same.

    A copy sent again after an interrupted attempt is recognisable as the same message (and
    dropped as a duplicate by the relays and clients that look at Message-ID).
    """
    digest = hashlib.sha256(email.key.encode("utf-8")).hexdigest()[:32]
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<{digest}.{email.pk}@{domain}>"


def _claim_document(document_id: int) -> bool:
    """`_claim_attempt` for a document, in one statement when the row is pending with attempts left.

    A worker of the pdf queue claims each of its documents: one conditional UPDATE, committed on
    its own, instead of a transaction of four round trips (BEGIN, SELECT … FOR UPDATE, UPDATE,
    COMMIT). When it changes nothing (the row is done, failed, or out of attempts), the full claim
    decides, under the row's lock, what to do.
    """
    claimed = Document.objects.filter(
        pk=document_id, status=Status.PENDING, attempts__lt=MAX_ATTEMPTS
    ).update(attempts=F("attempts") + 1)
    return bool(claimed) or _claim_attempt(Document, document_id)


def document_render(*, document_id: int) -> Document:
    """Render a requested document and store it with its SHA-256. Idempotent."""
    if not _claim_document(document_id):
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


def email_send(*, email_id: int) -> OutgoingEmail:
    """Send a queued e-mail with its documents attached. Idempotent.

    One claim, one attempt at the relay: the claim commits « sending » first; the relay's answer
    moves the row to done, or back to pending. A row found « sending » is left to the sweep
    (EMAIL_TRANSITIONS, SENDING_STALE). Every attempt carries the same Message-ID.

    The documents are rendered by the workers of the pdf queue, not by those of the e-mails: while
    one is still pending, this raises AttachmentsPending before counting an attempt (a long PDF
    queue must not use up the e-mail's attempts), and the task looks again later.
    """
    waiting = list(
        Document.objects.filter(
            emails__pk=email_id, emails__status=Status.PENDING, status=Status.PENDING
        ).values_list("pk", flat=True)
    )
    if waiting:
        raise AttachmentsPending(email_id, waiting)
    if not _claim_attempt(OutgoingEmail, email_id):
        return OutgoingEmail.objects.get(pk=email_id)
    # Claimed: the row is « sending », committed. The relay is called outside any transaction, so
    # a slow relay holds no row lock; what follows settles the claim either way.
    email = OutgoingEmail.objects.get(pk=email_id)
    try:
        message = EmailMessage(
            subject=email.subject,
            body=email.body,
            to=email.to,
            headers={"Message-ID": email_message_id(email)},
        )
        for attachment in email.attachments.order_by("pk"):
            if attachment.status != Status.DONE:
                # Failed for good: the e-mail fails too, and a human looks at both.
                raise RuntimeError(f"Attachment {attachment.pk} is not rendered ({attachment.status})")
            with attachment.file.open("rb") as handle:
                message.attach(attachment.filename, handle.read(), "application/pdf")
        message.send(fail_silently=False)
    except BaseException as error:
        # Not accepted by the relay: back to pending, for a retry or the sweep (the attempt stays
        # counted). A kill ends the process before this runs: the row stays « sending ».
        with transaction.atomic():
            locked = OutgoingEmail.objects.select_for_update().get(pk=email_id)
            if locked.status == E.SENDING:
                _email_move(locked, E.PENDING, last_error=repr(error)[:2000])
        raise
    with transaction.atomic():
        email = OutgoingEmail.objects.select_for_update().get(pk=email_id)
        _email_move(email, E.DONE, sent_at=timezone.now(), last_error="")
    return email


def notification_record_failure(*, model: type[Document] | type[OutgoingEmail], pk: int, error: str) -> None:
    """Keep the last error on the row; the attempt was already counted by _claim_attempt."""
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=pk)
        given_up = row.attempts >= MAX_ATTEMPTS and row.status == Status.PENDING
        if isinstance(row, OutgoingEmail) and given_up:
            _email_move(row, E.FAILED, last_error=error[:2000])
            return
        row.last_error = error[:2000]
        # The attempt consumed its message: nothing carries the row now, so the sweep's back-off
        # starts again from here (the next re-queue one grace later, as for a new row).
        row.enqueued_at = timezone.now()
        row.requeues = 0
        update_fields = ["last_error", "enqueued_at", "requeues"]
        if given_up:
            row.status = Status.FAILED
            update_fields.append("status")
        row.save(update_fields=update_fields)


# A retry asked by a human. This app knows no users (import-linter: notifications knows none of
# the business apps), so these moves take no actor and write no audit row: the caller that knows
# the actor does, in the same transaction (accounts.services.notification_retry). Both return the
# row's state before and after, which the caller's audit row keeps.


@transaction.atomic
def email_retry(*, email: OutgoingEmail) -> dict[str, dict[str, Any]]:
    """Put a failed e-mail back to pending with a fresh count of attempts; send it after commit."""
    email = OutgoingEmail.objects.select_for_update().get(pk=email.pk)
    if email.status != E.FAILED:
        raise ValidationError(_("Seul un courriel en échec peut être relancé."), code="not_failed")
    before = {"status": email.status, "attempts": email.attempts}
    # last_error stays: it says why the previous attempts failed until a new one says otherwise.
    _email_move(email, E.PENDING, attempts=0, enqueued_at=timezone.now(), requeues=0)
    transaction.on_commit(lambda: _enqueue_send(email.pk), robust=True)
    return {"before": before, "after": {"status": email.status, "attempts": email.attempts}}


@transaction.atomic
def document_retry(*, document: Document) -> dict[str, dict[str, Any]]:
    """Put a failed document back to pending with a fresh count of attempts; render it after commit."""
    document = Document.objects.select_for_update().get(pk=document.pk)
    if document.status != Status.FAILED:
        raise ValidationError(_("Seul un document en échec peut être relancé."), code="not_failed")
    before = {"status": document.status, "attempts": document.attempts}
    document.status = Status.PENDING
    document.attempts = 0
    document.enqueued_at = timezone.now()
    document.requeues = 0
    document.full_clean()
    document.save(update_fields=["status", "attempts", "enqueued_at", "requeues"])
    transaction.on_commit(lambda: _enqueue_render(document.pk), robust=True)
    return {"before": before, "after": {"status": document.status, "attempts": document.attempts}}


def sweep_delays() -> tuple[timedelta, timedelta]:
    """SWEEP_GRACE and SENDING_STALE, unless the settings shorten them.

    Only the chaos run (config/settings/chaos.py) does: its tasks' time limits are shortened to
    match, so that an interrupted send is still never taken back while its attempt may run.
    """
    return (
        getattr(settings, "NOTIFICATIONS_SWEEP_GRACE", SWEEP_GRACE),
        getattr(settings, "NOTIFICATIONS_SENDING_STALE", SENDING_STALE),
    )


def sweep_ceiling() -> timedelta:
    """SWEEP_CEILING, unless the settings shorten it (the chaos run, as for sweep_delays)."""
    ceiling: timedelta = getattr(settings, "NOTIFICATIONS_SWEEP_CEILING", SWEEP_CEILING)
    return ceiling


def sweep_wait(requeues: int) -> timedelta:
    """How long a pending row waits for its message after its `requeues`-th re-queue.

    The sweep cannot tell a lost message from one still waiting behind a long backlog (a
    committee's 720 PDFs take longer than the grace to render); it would re-queue the whole
    backlog at every sweep. So each re-queue doubles the wait, up to the ceiling.
    """
    grace, ceiling = sweep_delays()[0], sweep_ceiling()
    # The ceiling is never below the grace; the exponent is bounded so the product stays small.
    return min(grace * (1 << min(requeues, 20)), max(ceiling, grace))


def _due_for_requeue(model: type[Document] | type[OutgoingEmail], now: Any) -> list[int]:
    """The pending rows whose wait (sweep_wait of their requeues) is over; one query."""
    ceiling = sweep_wait(64)
    due = Q()
    level = 0
    while sweep_wait(level) < ceiling:
        due |= Q(requeues=level, waiting_since__lt=now - sweep_wait(level))
        level += 1
    due |= Q(requeues__gte=level, waiting_since__lt=now - ceiling)
    return list(
        model.objects.filter(status=Status.PENDING)
        .annotate(waiting_since=Coalesce("enqueued_at", "created_at"))
        .filter(due)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def notifications_sweep(*, now: Any = None) -> dict[str, int]:
    """Re-queue the documents and e-mails left pending (a broker outage, a lost message).

    A row is re-queued once its wait is over (sweep_wait: the grace, then twice as long after each
    re-queue, up to the ceiling), not at every sweep while its message waits in a long queue.
    """
    now = now or timezone.now()
    _grace, stale_after = sweep_delays()
    documents = _due_for_requeue(Document, now)
    emails = _due_for_requeue(OutgoingEmail, now)
    # Interrupted sends: the relay may have accepted the message before the worker died. They are
    # sent again (at least once), with the same Message-ID; see docs/operations.md.
    stale = now - stale_after
    interrupted: list[int] = []
    for email_id in OutgoingEmail.objects.filter(status=E.SENDING, sending_since__lt=stale).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            email = OutgoingEmail.objects.select_for_update().get(pk=email_id)
            if email.status == E.SENDING and email.sending_since is not None and email.sending_since < stale:
                # Its message was consumed long ago: a fresh one, and a fresh back-off.
                _email_move(
                    email,
                    E.PENDING,
                    last_error="Interrupted while sending: sent again with the same Message-ID.",
                    enqueued_at=now,
                    requeues=0,
                )
                interrupted.append(email_id)
    # Counted before the messages leave: a re-queue whose message is lost is caught by the next
    # one, after the longer wait.
    Document.objects.filter(pk__in=documents, status=Status.PENDING).update(
        enqueued_at=now, requeues=F("requeues") + 1
    )
    OutgoingEmail.objects.filter(pk__in=emails, status=E.PENDING).update(
        enqueued_at=now, requeues=F("requeues") + 1
    )
    emails += interrupted
    for document_id in documents:
        _enqueue_render(document_id)
    for email_id in emails:
        _enqueue_send(email_id)
    if documents or emails:
        logger.info("Sweep re-queued %s documents and %s e-mails", len(documents), len(emails))
    return {"documents": len(documents), "emails": len(emails)}
