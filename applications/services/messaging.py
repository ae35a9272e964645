"""Messages with files, and one message written to the applicants of every dossier of a list.

Files (`MessageFile`) go through the same check as every upload (core.uploads: size, type read
from the content), are stored privately under a random name and served only to those who see the
dossier's thread. A broadcast's files are stored once and linked to each of its messages.

A broadcast (`broadcast_send`) writes, in one transaction and a fixed number of queries whatever
the number of dossiers: the broadcast row (under the recap's token: a confirmation posted twice
finds it and writes nothing more), one `Message` per dossier in its thread (unique per broadcast
and dossier), one e-mail row per dossier to its applicants (key `broadcast:<id>:<dossier>`), the
links to its files and one audit row with the counts. The e-mails are sent by the outbox's
workers after commit (`broadcast_emails_enqueue`); a message lost on the way is sent by the
outbox's sweep.
"""

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from applications.models import Application, Broadcast, Member, Message, MessageFile
from applications.selectors import applications_reviewable_by
from applications.services.notify import broadcast_notify
from core import uploads
from core.links import absolute_url
from notifications.models import EmailStatus, OutgoingEmail

# What a message may carry: the office and image formats the portal accepts elsewhere.
MESSAGE_FILE_EXTENSIONS = ("pdf", "jpg", "jpeg", "png", "odt", "ods", "docx", "xlsx")
MESSAGE_FILE_MAX_MB = 10
MESSAGE_FILES_MAX = 5
# A broadcast's message in each thread carries its subject above its text.
MESSAGE_BODY_MAX = 10000
# The first references shown on the recap.
RECAP_REFERENCES = 10


@dataclass(frozen=True)
class FileUpload:
    """A file as a form hands it over: its stream and the name the sender gave it."""

    file: IO[bytes]
    name: str


def message_files_check(
    files: Sequence[FileUpload], *, field: str = "attachments"
) -> list[uploads.CheckedUpload]:
    """Every file checked before any is stored; every refusal at once, under `field`."""
    if len(files) > MESSAGE_FILES_MAX:
        raise ValidationError(
            {
                field: ngettext(
                    "Joignez au plus %(max)d fichier à un message.",
                    "Joignez au plus %(max)d fichiers à un message.",
                    MESSAGE_FILES_MAX,
                )
                % {"max": MESSAGE_FILES_MAX}
            },
            code="too_many",
        )
    checked: list[uploads.CheckedUpload] = []
    errors: list[str] = []
    for upload in files:
        try:
            checked.append(
                uploads.check_upload(
                    upload.file,
                    upload.name,
                    max_size_mb=MESSAGE_FILE_MAX_MB,
                    extensions=MESSAGE_FILE_EXTENSIONS,
                    field=field,
                    bad_type=_(
                        "Le fichier « %(name)s » n'est pas un document accepté en pièce jointe "
                        "(formats acceptés : %(formats)s) : son contenu a été vérifié, pas seulement son nom."
                    ),
                )
            )
        except ValidationError as error:
            errors.extend(error.message_dict[field])
    if errors:
        raise ValidationError({field: errors})
    return checked


def message_files_store(checked: Iterable[uploads.CheckedUpload], *, actor: User) -> list[MessageFile]:
    """Store the checked files and their rows; if one fails, those already written are removed.

    Files are not transactional: the callers remove them too when their own writes fail after
    this (`message_files_discard`), so that nothing is left half-saved."""
    stored: list[MessageFile] = []
    try:
        for upload in checked:
            row = MessageFile(
                original_name=upload.name,
                content_type=upload.mime,
                size=len(upload.content),
                sha256=hashlib.sha256(upload.content).hexdigest(),
                uploaded_by=actor,
            )
            row.file.save(upload.name, ContentFile(upload.content), save=False)
            stored.append(row)
            row.full_clean()
            row.save()
    except Exception:
        message_files_discard(stored)
        raise
    return stored


def message_files_discard(rows: Iterable[MessageFile]) -> None:
    for row in rows:
        if row.file.name:
            row.file.storage.delete(row.file.name)


def message_files_attach(*, message: Message, files: Sequence[FileUpload], actor: User) -> list[MessageFile]:
    """Check then store files and link them to a message just written (in its transaction)."""
    if not files:
        return []
    stored = message_files_store(message_files_check(files), actor=actor)
    try:
        message.files.add(*stored)
    except Exception:
        message_files_discard(stored)
        raise
    return stored


# --- broadcasts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BroadcastPreview:
    """What the recap says: how many dossiers and addresses, the first references."""

    dossier_count: int
    recipient_count: int
    references: list[str]
    # The dossiers counted, as a digest: the confirmation sends only to the list the recap showed.
    fingerprint: str


def broadcast_fingerprint(dossier_ids: Iterable[int]) -> str:
    return hashlib.sha256(",".join(str(pk) for pk in sorted(dossier_ids)).encode()).hexdigest()


def broadcast_dossiers(*, dossiers: QuerySet[Application], actor: User) -> QuerySet[Application]:
    """The dossiers of `dossiers` in the actor's scope of instruction, whatever the caller passed."""
    if not (has_role(actor, Role.INSTRUCTOR) or has_role(actor, Role.ADMIN)):
        raise PermissionDenied(_("Seuls les instructeurs et les administrateurs écrivent aux porteurs."))
    return applications_reviewable_by(actor).filter(pk__in=dossiers.order_by().values("pk"))


def broadcast_recipients(dossier_ids: Sequence[int]) -> dict[int, list[str]]:
    """The applicant side of each dossier (`dossier_recipients`' rule: its author and the members of
    its lead structure, active accounts with an address), for many dossiers in two queries."""
    found: dict[int, set[str]] = defaultdict(set)
    authors = (
        Application.objects.filter(pk__in=dossier_ids, created_by__is_active=True)
        .exclude(created_by__email="")
        .values_list("pk", "created_by__email")
    )
    leads = (
        Member.objects.filter(
            application_id__in=dossier_ids,
            is_lead=True,
            organisation__memberships__user__is_active=True,
        )
        .exclude(organisation__memberships__user__email="")
        .values_list("application_id", "organisation__memberships__user__email")
    )
    for dossier_id, email in [*authors, *leads]:
        if email:
            found[dossier_id].add(email)
    return {dossier_id: sorted(emails) for dossier_id, emails in found.items()}


def broadcast_preview(*, dossiers: QuerySet[Application], actor: User) -> BroadcastPreview:
    """The recap: reads only (three queries), writes nothing."""
    scoped = list(
        broadcast_dossiers(dossiers=dossiers, actor=actor)
        .order_by("reference")
        .values_list("pk", "reference")
    )
    recipients = broadcast_recipients([pk for pk, _reference in scoped])
    return BroadcastPreview(
        dossier_count=len(scoped),
        recipient_count=len({email for emails in recipients.values() for email in emails}),
        references=[reference for _pk, reference in scoped[:RECAP_REFERENCES]],
        fingerprint=broadcast_fingerprint(pk for pk, _reference in scoped),
    )


def broadcast_key(broadcast_id: int, application_id: int) -> str:
    return f"broadcast:{broadcast_id}:{application_id}"


def _broadcast_body(subject: str, body: str) -> str:
    return f"{subject}\n\n{body}"


def broadcast_check(*, subject: str, body: str) -> tuple[str, str]:
    subject, body = subject.strip(), body.strip()
    errors: dict[str, list[str]] = {}
    if not subject:
        errors["subject"] = [_("Donnez un objet à votre message.")]
    elif "\n" in subject or "\r" in subject:
        # An e-mail subject is one line: with a line break every e-mail of the broadcast would fail.
        errors["subject"] = [_("L'objet tient sur une seule ligne.")]
    if not body:
        errors["body"] = [_("Écrivez votre message.")]
    elif len(_broadcast_body(subject, body)) > MESSAGE_BODY_MAX:
        errors["body"] = [
            _("L'objet et le message font ensemble plus de %(max)d caractères : raccourcissez-les.")
            % {"max": MESSAGE_BODY_MAX}
        ]
    if errors:
        raise ValidationError(errors)
    return subject, body


@transaction.atomic
def broadcast_send(
    *,
    token: uuid.UUID,
    subject: str,
    body: str,
    dossiers: QuerySet[Application],
    actor: User,
    files: Sequence[FileUpload] = (),
    query: str = "",
    expected: str = "",
) -> tuple[Broadcast, bool]:
    """Write the message in the thread of every dossier of `dossiers` in the actor's scope, and an
    e-mail to each dossier's applicants. Returns the broadcast and whether it was written now
    (False: this token was already confirmed, nothing more is written).

    `expected`: the recap's fingerprint of the dossiers; when the list has changed since (a dossier
    submitted, moved or decided meanwhile), nothing is written and the refusal says so."""
    subject, body = broadcast_check(subject=subject, body=body)
    existing = Broadcast.objects.filter(token=token).first()
    if existing is not None:
        return existing, False
    scoped = list(
        broadcast_dossiers(dossiers=dossiers, actor=actor)
        .order_by("reference")
        .values_list("pk", "reference")
    )
    if not scoped:
        raise ValidationError(
            _("La liste ne compte aucun dossier : aucun message n'est envoyé."), code="empty"
        )
    if expected and broadcast_fingerprint(pk for pk, _reference in scoped) != expected:
        raise ValidationError(
            _(
                "La liste a changé depuis le récapitulatif (un dossier y est entré ou en est sorti) : "
                "vérifiez le nouveau récapitulatif, puis confirmez de nouveau."
            ),
            code="changed",
        )
    checked = message_files_check(files)
    recipients = broadcast_recipients([pk for pk, _reference in scoped])
    try:
        # A savepoint: a confirmation posted at the same moment waits on the token's unique index,
        # then finds the broadcast written here.
        with transaction.atomic():
            broadcast = Broadcast(
                token=token,
                author=actor,
                subject=subject,
                body=body,
                query=query[:2000],
                dossier_count=len(scoped),
                recipient_count=len({email for emails in recipients.values() for email in emails}),
            )
            broadcast.full_clean(exclude=["token"])
            broadcast.save()
    except IntegrityError:
        return Broadcast.objects.get(token=token), False
    stored = message_files_store(checked, actor=actor)
    try:
        _broadcast_write(broadcast, scoped, recipients, stored, actor=actor)
    except Exception:
        message_files_discard(stored)
        raise
    broadcast_id = broadcast.pk
    transaction.on_commit(lambda: _enqueue_broadcast(broadcast_id), robust=True)
    return broadcast, True


def _broadcast_write(
    broadcast: Broadcast,
    scoped: list[tuple[int, str]],
    recipients: dict[int, list[str]],
    stored: list[MessageFile],
    *,
    actor: User,
) -> None:
    """The broadcast's rows, in bulk: its files, a message per dossier, an e-mail per dossier, one
    audit row."""
    subject, body = broadcast.subject, broadcast.body
    if stored:
        broadcast.files.add(*stored)
    text = _broadcast_body(subject, body)
    messages = Message.objects.bulk_create(
        [
            Message(
                application_id=pk, author=actor, side=Message.Side.INSTRUCTION, body=text, broadcast=broadcast
            )
            for pk, _reference in scoped
        ]
    )
    if stored:
        Message.files.through.objects.bulk_create(
            [
                Message.files.through(message_id=message.pk, messagefile_id=row.pk)
                for message in messages
                for row in stored
            ]
        )
    OutgoingEmail.objects.bulk_create(
        [
            OutgoingEmail(
                key=broadcast_key(broadcast.pk, pk),
                to=recipients[pk],
                subject=_("%(subject)s – dossier %(reference)s")
                % {"subject": subject, "reference": reference},
                body=_(
                    "Bonjour,\n\nL'équipe d'instruction vous écrit au sujet de votre dossier "
                    "%(reference)s :\n\n%(body)s\n\n"
                    "Retrouvez ce message%(files)s et répondez sur la page du dossier :\n%(link)s"
                )
                % {
                    "reference": reference,
                    "body": body,
                    "files": _(" et ses pièces jointes") if stored else "",
                    "link": absolute_url("applications:dossier-messages", reference=reference),
                },
            )
            for pk, reference in scoped
            if recipients.get(pk)
        ]
    )
    broadcast_notify(broadcast_id=broadcast.pk, subject=subject, scoped=scoped)
    audit_record(
        actor=actor,
        action="message.broadcast",
        target=broadcast,
        data={
            "dossiers": broadcast.dossier_count,
            "recipients": broadcast.recipient_count,
            "files": [row.sha256 for row in stored],
        },
    )


def _enqueue_broadcast(broadcast_id: int) -> None:
    from applications.tasks import broadcast_emails_task

    broadcast_emails_task.delay(broadcast_id)


def broadcast_emails_enqueue(*, broadcast_id: int) -> int:
    """Hand the broadcast's pending e-mails to the outbox's workers (one task each); returns how many.

    A replay hands over only those still pending, and the send itself is idempotent."""
    from notifications.tasks import email_send_task

    ids = list(
        OutgoingEmail.objects.filter(
            key__startswith=f"broadcast:{broadcast_id}:", status=EmailStatus.PENDING
        ).values_list("pk", flat=True)
    )
    for email_id in ids:
        email_send_task.delay(email_id)
    return len(ids)
