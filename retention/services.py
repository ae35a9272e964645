"""Applying the retention table (retention.rules): what has passed its time is anonymised or deleted.

`retention_apply` walks the rules in the table's order and calls one service per object (a
dossier, an account) or per batch (log rows). Each object's service locks its row, checks again
that the rule still applies, acts, and writes its RetentionAction and its audit row in the same
transaction: a run stopped half-way, a second run, or two runs at once act on each object once.

Nothing under an open grant is ever touched: a dossier is skipped while any of its grants is open
(`open_grants`), and so is an account holding such a dossier. Uploaded files are deleted from the
storage only after the transaction commits, so a rollback never leaves a row without its file.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import BigIntegerField, DateTimeField, Exists, Max, OuterRef, Q, QuerySet
from django.db.models.functions import Cast, Coalesce
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from accounts.models import AuditEvent, User
from accounts.services import audit_record
from applications.models import (
    Access,
    Annotation,
    Application,
    Attachment,
    EligibilityAnswer,
    Message,
    MessageFile,
    Opinion,
    Score,
)
from core.links import absolute_url
from grants.models import Agreement, Grant, Tranche
from notifications.models import EmailStatus, Notification, NotificationPreference, OutgoingEmail
from notifications.services import email_queue
from retention.models import RetentionAction
from retention.rules import rule

logger = logging.getLogger(__name__)

BATCH_SIZE = 500

CLOSED_DOSSIER_STATUSES = (
    Application.Status.REFUSED,
    Application.Status.CLOSED,
    Application.Status.WITHDRAWN,
    Application.Status.DRAFT,
)
OPEN_TRANCHE_STATUSES = (Tranche.Status.SCHEDULED, Tranche.Status.REQUESTED, Tranche.Status.VALIDATED)
ENDED_AGREEMENT_STATUSES = (
    Agreement.Status.COMPLETED,
    Agreement.Status.TERMINATED,
    Agreement.Status.CANCELLED,
)


# --- what is open -----------------------------------------------------------------------------------


def open_grants() -> QuerySet[Grant]:
    """Grants still running: not cancelled, and either their agreement has not ended (or does not
    exist yet) or a tranche is still to pay. Their dossiers and their holders are never touched."""
    tranche_to_pay = Tranche.objects.filter(grant=OuterRef("pk"), status__in=OPEN_TRANCHE_STATUSES)
    closed = Q(status=Grant.Status.CANCELLED) | (
        Q(agreement__status__in=ENDED_AGREEMENT_STATUSES) & ~Exists(tranche_to_pay)
    )
    return Grant.objects.exclude(closed)


def _under_open_grant() -> Exists:
    return Exists(open_grants().filter(application=OuterRef("pk")))


def _done(rule_key: str, target_type: str) -> QuerySet[RetentionAction]:
    return RetentionAction.objects.filter(rule=rule_key, target_type=target_type)


# --- the dossiers -------------------------------------------------------------------------------------


def grant_files_due(*, now: datetime) -> QuerySet[Application]:
    """Laureates' dossiers whose every grant is closed, ten years after the last payment (or, with
    no payment, after the award)."""
    cutoff = now - rule("grant_file").keep
    purged = _done("grant_file", "applications.application")
    return (
        Application.objects.filter(grants__isnull=False)
        .exclude(_under_open_grant())
        .exclude(pk__in=_as_pks(purged))
        .annotate(
            last_payment=Coalesce(
                Cast(Max("grants__tranches__paid_on"), DateTimeField()), Max("grants__awarded_at")
            )
        )
        .filter(last_payment__lt=cutoff)
        .order_by("pk")
    )


def closed_dossiers_due(*, now: datetime) -> QuerySet[Application]:
    """Refused, closed, withdrawn or abandoned draft dossiers, with no grant, past their time since
    their last change of state (a draft: its last edit)."""
    cutoff = now - rule("closed_dossier").keep
    purged = _done("closed_dossier", "applications.application")
    return (
        Application.objects.filter(status__in=CLOSED_DOSSIER_STATUSES, grants__isnull=True)
        .exclude(pk__in=_as_pks(purged))
        .annotate(closed_at=Coalesce(Max("status_changes__at"), "updated_at"))
        .filter(closed_at__lt=cutoff)
        .order_by("pk")
    )


def _as_pks(target_ids: QuerySet[RetentionAction]) -> QuerySet[Any]:
    """The ids of a RetentionAction subquery as integers, to compare with primary keys."""
    return target_ids.annotate(as_pk=Cast("target_id", BigIntegerField())).values("as_pk")


@dataclass
class Purged:
    attachments: int = 0
    messages: int = 0
    message_files: int = 0
    notes: int = 0
    comments: int = 0
    names: list[str] = field(default_factory=list)


@transaction.atomic
def application_files_purge(*, application: Application, rule_key: str, actor: User | None) -> Purged | None:
    """Delete a dossier's uploaded files and empty its messages; None if already done or no longer due.

    The dossier row stays, with its organisations, amounts and decisions (open data, statistics,
    a later dossier pointing to it).
    """
    application = Application.objects.select_for_update().get(pk=application.pk)
    if _done(rule_key, "applications.application").filter(target_id=str(application.pk)).exists():
        return None
    if Application.objects.filter(pk=application.pk).filter(_under_open_grant()).exists():
        return None
    purged = Purged()
    for attachment in Attachment.objects.filter(application=application):
        purged.names.append(str(attachment.file.name))
        purged.attachments += 1
    Attachment.objects.filter(application=application).delete()
    messages = Message.objects.filter(application=application)
    file_ids = set(MessageFile.objects.filter(messages__application=application).values_list("pk", flat=True))
    purged.messages = messages.exclude(body="").update(body="")
    Message.files.through.objects.filter(message__application=application).delete()
    # The files sent to and by the experts consulted on the dossier: rows of the messages' files.
    opinion_links = [
        Opinion.request_files.through.objects.filter(opinion__application=application),
        Opinion.answer_files.through.objects.filter(opinion__application=application),
    ]
    for links in opinion_links:
        file_ids |= set(links.values_list("messagefile_id", flat=True))
        links.delete()
    # A broadcast's file is one row for all its dossiers: deleted once nothing points to it.
    still_used = MessageFile.objects.filter(pk__in=file_ids).filter(
        Q(messages__isnull=False)
        | Q(pk__in=Opinion.request_files.through.objects.values("messagefile_id"))
        | Q(pk__in=Opinion.answer_files.through.objects.values("messagefile_id"))
    )
    for message_file in MessageFile.objects.filter(pk__in=file_ids).exclude(pk__in=still_used.values("pk")):
        purged.names.append(str(message_file.file.name))
        purged.message_files += 1
        message_file.delete()
    # What the instruction wrote about the dossier and its people: the team's private notes
    # (deleted), the comments of the scores, of the eligibility checks and of the experts' opinions
    # (emptied). The figures stay: scores, verdicts, eligibility, decisions.
    purged.notes = Annotation.objects.filter(application=application).delete()[0]
    purged.comments = (
        Score.objects.filter(assignment__application=application).exclude(comment="").update(comment="")
        + EligibilityAnswer.objects.filter(application=application).exclude(note="").update(note="")
        + Opinion.objects.filter(application=application)
        .exclude(question="", comment="")
        .update(question="", comment="")
    )
    RetentionAction.objects.create(
        rule=rule_key, target_type="applications.application", target_id=str(application.pk)
    )
    audit_record(
        actor=actor,
        action="retention.purge_files",
        target=application,
        data={
            "rule": rule_key,
            "attachments": purged.attachments,
            "messages": purged.messages,
            "message_files": purged.message_files,
            "notes": purged.notes,
            "comments": purged.comments,
        },
    )
    names = list(purged.names)
    transaction.on_commit(lambda: _delete_files(names), robust=True)
    return purged


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        default_storage.delete(name)


# --- the accounts -------------------------------------------------------------------------------------


def _last_seen(user: User) -> datetime:
    return user.last_login or user.date_joined


def _idle_key(user: User) -> str:
    # One warning per period of inactivity: a login starts a new period, hence a new key.
    return f"{user.pk}:{_last_seen(user).isoformat()}"


def _holds_open_grant(user: User) -> bool:
    return (
        Application.objects.filter(Q(created_by=user) | Q(accesses__user=user))
        .filter(_under_open_grant())
        .exists()
    )


def idle_accounts_due(*, now: datetime) -> QuerySet[User]:
    cutoff = now - rule("inactive_account_warning").keep
    return (
        User.objects.filter(is_active=True)
        .annotate(last_seen=Coalesce("last_login", "date_joined"))
        .filter(last_seen__lt=cutoff)
        .order_by("pk")
    )


@transaction.atomic
def account_idle_warn(*, user: User, now: datetime, actor: User | None) -> bool:
    """Warn by e-mail (through the outbox) an account idle for the rule's time, once per idle period."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active or _last_seen(user) >= now - rule("inactive_account_warning").keep:
        return False
    key = _idle_key(user)
    if _done("inactive_account_warning", "accounts.user").filter(target_id=key).exists():
        return False
    deactivation = rule("inactive_account_deactivation")
    email_queue(
        key=f"retention-idle:{key}",
        to=[user.email],
        subject=_("Votre compte sera désactivé faute de connexion — Fabriques de territoires"),
        body=render_to_string(
            "retention/emails/inactive_account.txt",
            {
                "user_name": user.get_short_name(),
                "idle_years": rule("inactive_account_warning").keep.days // 365,
                "deadline": (now + deactivation.keep).date(),
                "link": absolute_url("accounts:login"),
            },
        ),
    )
    RetentionAction.objects.create(
        rule="inactive_account_warning", target_type="accounts.user", target_id=key, applied_at=now
    )
    audit_record(
        actor=actor, action="retention.warn_inactive", target=user, data={"last_seen": key.split(":", 1)[1]}
    )
    return True


def warned_accounts_due(*, now: datetime) -> Iterator[User]:
    """Active accounts warned at least the notice's time ago, with no login since the warning."""
    cutoff = now - rule("inactive_account_deactivation").keep
    warnings = _done("inactive_account_warning", "accounts.user").filter(applied_at__lte=cutoff)
    ids = {int(target_id.split(":", 1)[0]) for target_id in warnings.values_list("target_id", flat=True)}
    for user in (
        User.objects.filter(pk__in=ids, is_active=True).order_by("pk").iterator(chunk_size=BATCH_SIZE)
    ):
        if warnings.filter(target_id=_idle_key(user)).exists():
            yield user


@transaction.atomic
def account_idle_deactivate(*, user: User, now: datetime, actor: User | None) -> bool:
    user = User.objects.select_for_update().get(pk=user.pk)
    cutoff = now - rule("inactive_account_deactivation").keep
    warned = _done("inactive_account_warning", "accounts.user").filter(
        target_id=_idle_key(user), applied_at__lte=cutoff
    )
    if not user.is_active or not warned.exists() or _holds_open_grant(user):
        return False
    user.is_active = False
    user.save(update_fields=["is_active"])
    RetentionAction.objects.update_or_create(
        rule="inactive_account_deactivation",
        target_type="accounts.user",
        target_id=str(user.pk),
        defaults={"applied_at": now},
    )
    audit_record(actor=actor, action="retention.deactivate_inactive", target=user)
    return True


def _kept_dossiers(user: User) -> QuerySet[Application]:
    """The person's dossiers whose files the retention rules have not purged yet."""
    purged = RetentionAction.objects.filter(
        rule__in=("grant_file", "closed_dossier"), target_type="applications.application"
    )
    return Application.objects.filter(Q(created_by=user) | Q(accesses__user=user)).exclude(
        pk__in=_as_pks(purged)
    )


def persons_due() -> Iterator[User]:
    """Accounts deactivated for inactivity, not anonymised yet, whose dossiers are all purged."""
    deactivated = _done("inactive_account_deactivation", "accounts.user")
    anonymised = _done("person", "accounts.user")
    users = (
        User.objects.filter(is_active=False, pk__in=_as_pks(deactivated))
        .exclude(pk__in=_as_pks(anonymised))
        .order_by("pk")
    )
    for user in users.iterator(chunk_size=BATCH_SIZE):
        if not _kept_dossiers(user).exists():
            yield user


@transaction.atomic
def person_anonymise(*, user: User, actor: User | None) -> bool:
    """Replace what names a person; the row stays, since dossiers and audit rows point to it."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active or _done("person", "accounts.user").filter(target_id=str(user.pk)).exists():
        return False
    if _kept_dossiers(user).exists():
        return False
    user.email = f"anonyme-{user.pk}@anonyme.invalid"
    user.first_name = user.last_name = user.phone = user.job_title = ""
    user.password = make_password(None)
    user.full_clean()
    user.save(update_fields=["email", "first_name", "last_name", "phone", "job_title", "password"])
    Access.objects.filter(user=user).update(email=user.email)
    Notification.objects.filter(recipient=user).delete()
    User.objects.filter(pk=user.pk).update(unread_notifications=0)
    NotificationPreference.objects.filter(user=user).delete()
    RetentionAction.objects.create(rule="person", target_type="accounts.user", target_id=str(user.pk))
    audit_record(actor=actor, action="retention.anonymise_person", target=user)
    return True


# --- the logs -----------------------------------------------------------------------------------------


def _log_rows(*, now: datetime) -> dict[str, Callable[[], QuerySet]]:  # type: ignore[type-arg]
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    attempts = now - rule("login_attempts").keep
    return {
        "login_attempts:axes.accessattempt": lambda: AccessAttempt.objects.filter(attempt_time__lt=attempts),
        "login_attempts:axes.accesslog": lambda: AccessLog.objects.filter(attempt_time__lt=attempts),
        "login_attempts:axes.accessfailurelog": lambda: AccessFailureLog.objects.filter(
            attempt_time__lt=attempts
        ),
        "notifications:notifications.notification": lambda: Notification.objects.filter(
            read_at__isnull=False, created_at__lt=now - rule("notifications").keep
        ),
        "sent_emails:notifications.outgoingemail": lambda: OutgoingEmail.objects.filter(
            status=EmailStatus.DONE, sent_at__lt=now - rule("sent_emails").keep
        ),
        "sessions:sessions.session": lambda: Session.objects.filter(expire_date__lt=now),
        "audit_rows:accounts.auditevent": lambda: AuditEvent.objects.filter(
            occurred_at__lt=now - rule("audit_rows").keep
        ),
    }


@transaction.atomic
def log_rows_delete(*, source: str, rows: QuerySet, actor: User | None, batch: int = BATCH_SIZE) -> int:  # type: ignore[type-arg]
    """Delete one batch of expired rows (oldest ids first) and record it in one audit row."""
    ids = list(rows.order_by("pk").values_list("pk", flat=True)[:batch])
    if not ids:
        return 0
    count = int(rows.model.objects.filter(pk__in=ids).delete()[1].get(rows.model._meta.label, 0))
    rule_key, label = source.split(":", 1)
    audit_record(
        actor=actor, action="retention.delete", data={"rule": rule_key, "model": label, "count": count}
    )
    return count


# --- the run ------------------------------------------------------------------------------------------


def retention_apply(
    *, now: datetime, dry_run: bool = False, actor: User | None = None, batch: int = BATCH_SIZE
) -> dict[str, int]:
    """Apply every rule of the table at `now`; how many objects (or rows) each rule acted on.

    A dry run counts what would be done and writes nothing. Each object is its own transaction,
    so a long run holds no lock for long, and a failure leaves the work done so far recorded.
    """
    report: dict[str, int] = {}

    def dossiers(rule_key: str, due: QuerySet[Application]) -> None:
        report[rule_key] = 0
        for application in due.iterator(chunk_size=batch):
            if dry_run or application_files_purge(application=application, rule_key=rule_key, actor=actor):
                report[rule_key] += 1

    dossiers("grant_file", grant_files_due(now=now))
    dossiers("closed_dossier", closed_dossiers_due(now=now))

    report["inactive_account_warning"] = 0
    for user in idle_accounts_due(now=now).iterator(chunk_size=batch):
        if dry_run:
            if (
                not _done("inactive_account_warning", "accounts.user")
                .filter(target_id=_idle_key(user))
                .exists()
            ):
                report["inactive_account_warning"] += 1
        elif account_idle_warn(user=user, now=now, actor=actor):
            report["inactive_account_warning"] += 1

    report["inactive_account_deactivation"] = 0
    for user in warned_accounts_due(now=now):
        if dry_run:
            report["inactive_account_deactivation"] += 0 if _holds_open_grant(user) else 1
        elif account_idle_deactivate(user=user, now=now, actor=actor):
            report["inactive_account_deactivation"] += 1

    report["person"] = 0
    for user in persons_due():
        if dry_run or person_anonymise(user=user, actor=actor):
            report["person"] += 1

    for source, rows in _log_rows(now=now).items():
        rule_key = source.split(":", 1)[0]
        report.setdefault(rule_key, 0)
        if dry_run:
            report[rule_key] += rows().count()
            continue
        # A short batch is the last one: the audit rows this loop writes may themselves be past
        # the audit rule's time when `now` is ahead of the clock, and must not keep it going.
        while True:
            deleted = log_rows_delete(source=source, rows=rows(), actor=actor, batch=batch)
            report[rule_key] += deleted
            if deleted < batch:
                break
    logger.info("retention applied", extra={"dry_run": dry_run, "report": report})
    return report
