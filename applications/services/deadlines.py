"""Deadlines applicants keep: corrections due by a date, and drafts reminded before their wave closes.

A request for corrections carries its due date (`Application.corrections_due_on`, the first day
the answer is late: « à compléter avant le … »), set by `corrections_request` from the call's
default delay or the instructor's choice, and cleared by any move out of that state. Two daily
beat tasks (applications.tasks) call the senders below:

- `corrections_deadlines_send`: the applicant side is reminded the call's `corrections_reminder_days`
  before the due date; once it has come, the dossier's instructors are told that they may close it.
- `drafts_reminders_send`: the applicant side of each draft is reminded the call's
  `draft_reminder_days` before its wave closes, with what is still missing.

Each e-mail is a row (notifications.OutgoingEmail) whose unique key names the request (the
status-change row of the move to « compléments demandés ») or the draft and its wave, never the
day: it is written once whatever the number of runs, and a run missed (beat down for a day)
is caught up by the next, as the windows below are « from that day on », not « on that day ».
Each e-mail is written in a transaction of its own, so that a crash half-way loses nothing and
the next run writes only what is missing.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application, Call, Message, StatusChange, Wave
from applications.selectors import application_completeness, dossier_recipients
from core.formatting import format_date, format_datetime
from core.links import absolute_url
from notifications.models import OutgoingEmail
from notifications.services import email_queue

S = Application.Status


# --- the due date of corrections -------------------------------------------------------------------


def corrections_default_due(call: Call, *, today: date | None = None) -> date:
    """The due date proposed to the instructor: today plus the call's delay."""
    return (today or timezone.localdate()) + timedelta(days=call.corrections_delay_days)


def corrections_due_check(*, due_on: date, today: date | None = None) -> date:
    """A due date must leave the applicant at least one day: it is after today."""
    today = today or timezone.localdate()
    if due_on <= today:
        raise ValidationError(
            {
                "due_on": _("La date limite doit être postérieure à aujourd'hui (%(today)s).")
                % {"today": format_date(today)}
            },
            code="due_past",
        )
    return due_on


def corrections_overdue(application: Application, *, today: date | None = None) -> bool:
    """The corrections asked are late: the dossier is still waiting for them and the due date has come."""
    due = application.corrections_due_on
    return application.status == S.CORRECTIONS and due is not None and (today or timezone.localdate()) >= due


def corrections_closable(application: Application, *, today: date | None = None) -> bool:
    """A dossier waiting for corrections may be closed once its due date has come (or when it has
    none: asked before due dates existed); before that, the applicant still has time to answer."""
    if application.status != S.CORRECTIONS:
        return False
    return application.corrections_due_on is None or corrections_overdue(application, today=today)


# --- the daily senders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    key: str
    application: Application
    wave: Wave | None = None
    # When the draft can no longer be submitted for that wave: its deadline, or the call's
    # closing if that comes first (no submission is taken after it).
    closes: datetime | None = None


# Keys looked up per query: a wave closing soon may hold thousands of drafts.
KEYS_PER_QUERY = 500


def _missing_keys(keys: list[str]) -> set[str]:
    """The keys among `keys` that have no e-mail row yet (one query per KEYS_PER_QUERY keys)."""
    present: set[str] = set()
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[start : start + KEYS_PER_QUERY]
        present.update(OutgoingEmail.objects.filter(key__in=chunk).values_list("key", flat=True))
    return set(keys) - present


def _queue(*, key: str, to: list[str], subject: str, body: str) -> bool:
    """Write the e-mail's row in a transaction of its own; False when nobody is there to receive it."""
    if not to:
        return False
    with transaction.atomic():
        email_queue(key=key, to=to, subject=subject, body=body)
    return True


def corrections_reminder_key(application_id: int, request_id: int) -> str:
    return f"deadline:corrections-reminder:{application_id}:{request_id}"


def corrections_overdue_key(application_id: int, request_id: int) -> str:
    return f"deadline:corrections-overdue:{application_id}:{request_id}"


def _request_lines(note: str) -> str:
    return note or _("(voir les messages du dossier)")


def corrections_deadlines_send(*, today: date | None = None) -> dict[str, int]:
    """Today's reminders of corrections due, and the instructors told of those overdue.

    Queries: the dossiers waiting for corrections with a due date (one, with their call and their
    request), the e-mails already written (one), then per e-mail to write its recipients.
    """
    today = today or timezone.localdate()
    latest = StatusChange.objects.filter(application=OuterRef("pk"), to_status=S.CORRECTIONS).order_by(
        "-at", "-pk"
    )
    dossiers = list(
        Application.objects.filter(status=S.CORRECTIONS, corrections_due_on__isnull=False)
        .select_related("call")
        .annotate(
            request_id=Subquery(latest.values("pk")[:1]),
            request_note=Subquery(latest.values("note")[:1]),
            request_at=Subquery(latest.values("at")[:1]),
        )
        .order_by("corrections_due_on", "pk")
    )
    reminders: list[_Pending] = []
    overdue: list[_Pending] = []
    for application in dossiers:
        due = application.corrections_due_on
        request_id = application.request_id
        if due is None or request_id is None:
            continue
        if today >= due:
            overdue.append(_Pending(corrections_overdue_key(application.pk, request_id), application))
        elif application.call.corrections_reminder_days and today >= due - timedelta(
            days=application.call.corrections_reminder_days
        ):
            reminders.append(_Pending(corrections_reminder_key(application.pk, request_id), application))
    missing = _missing_keys([item.key for item in [*reminders, *overdue]])
    sent = {"reminders": 0, "overdue": 0}
    for item in reminders:
        if item.key in missing:
            sent["reminders"] += _corrections_reminder(item)
    for item in overdue:
        if item.key in missing:
            sent["overdue"] += _corrections_overdue_notice(item)
    return sent


def _corrections_reminder(item: _Pending) -> bool:
    application = item.application
    due = application.corrections_due_on
    return _queue(
        key=item.key,
        to=dossier_recipients(application, side=Message.Side.APPLICANT),
        subject=_("Rappel : compléments à fournir avant le %(date)s – dossier %(reference)s")
        % {"date": format_date(due), "reference": application.reference},
        body=_(
            "Bonjour,\n\nL'instruction de votre dossier %(reference)s « %(title)s » attend les compléments "
            "demandés avant le %(date)s :\n%(points)s\n\nComplétez le dossier puis déposez-le de nouveau "
            "avant cette date :\n%(link)s\n\nPassé ce délai, le dossier pourra être classé sans suite."
            "\n\nL'équipe Fabriques de territoires"
        )
        % {
            "reference": application.reference,
            "title": application.title,
            "date": format_date(due),
            "points": _request_lines(application.request_note),  # type: ignore[attr-defined]
            "link": absolute_url("applications:dossier-detail", reference=application.reference),
        },
    )


def _corrections_overdue_notice(item: _Pending) -> bool:
    application = item.application
    return _queue(
        key=item.key,
        to=dossier_recipients(application, side=Message.Side.INSTRUCTION),
        subject=_("Délai de compléments dépassé – dossier %(reference)s")
        % {"reference": application.reference},
        body=_(
            "Bonjour,\n\nLes compléments demandés le %(asked)s sur le dossier %(reference)s « %(title)s » "
            "étaient attendus avant le %(date)s : le porteur ne les a pas encore déposés.\n\nVous pouvez "
            "lui écrire, ou classer le dossier sans suite depuis sa page d'instruction :\n%(link)s"
            "\n\nL'équipe Fabriques de territoires"
        )
        % {
            "reference": application.reference,
            "title": application.title,
            "asked": format_date(application.request_at),  # type: ignore[attr-defined]
            "date": format_date(application.corrections_due_on),
            "link": absolute_url("applications:review-detail", reference=application.reference),
        },
    )


def draft_reminder_key(application_id: int, wave_id: int) -> str:
    return f"deadline:draft-reminder:{application_id}:{wave_id}"


def drafts_reminders_send(*, now: datetime | None = None) -> dict[str, int]:
    """Remind the applicant side of every draft whose wave closes within its call's delay, once per
    draft and wave.

    A draft's wave is the one it would be examined in if submitted now: the wave it already names
    if still open, else the call's next wave. Only open calls still taking dossiers, with a delay.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    pending: list[_Pending] = []
    calls = Call.objects.filter(status=Call.Status.OPEN, draft_reminder_days__gt=0, closes_at__gt=now)
    for call in calls.order_by("pk"):
        waves = list(call.waves.filter(deadline__gt=now).order_by("deadline", "pk"))
        if not waves:
            continue
        by_id = {wave.pk: wave for wave in waves}
        reminded_from = timedelta(days=call.draft_reminder_days)
        drafts = Application.objects.filter(call=call, status=S.DRAFT).select_related("call").order_by("pk")
        for draft in drafts:
            wave = by_id.get(draft.wave_id or 0, waves[0])
            closes = min(wave.deadline, call.closes_at)
            if today >= timezone.localdate(closes) - reminded_from:
                pending.append(_Pending(draft_reminder_key(draft.pk, wave.pk), draft, wave, closes))
    missing = _missing_keys([item.key for item in pending])
    sent = 0
    for item in pending:
        if item.key in missing:
            sent += _draft_reminder(item)
    return {"drafts": len(pending), "emails_queued": sent}


def _draft_reminder(item: _Pending) -> bool:
    application, wave = item.application, item.wave
    closes = item.closes
    assert wave is not None and closes is not None  # noqa: S101 (drafts_reminders_send sets them)
    missing = [message for section in application_completeness(application) for message in section.missing]
    if missing:
        state = _("Ce qu'il reste à compléter :\n%(lines)s") % {
            "lines": "\n".join(f"- {message}" for message in missing)
        }
    else:
        state = _("Le dossier est complet : il ne reste qu'à le déposer.")
    return _queue(
        key=item.key,
        to=dossier_recipients(application, side=Message.Side.APPLICANT),
        subject=_("Rappel : la vague « %(wave)s » se clôt le %(date)s – dossier %(reference)s")
        % {"wave": wave.name, "date": format_date(closes), "reference": application.reference},
        body=_(
            "Bonjour,\n\nVotre dossier %(reference)s « %(title)s » est encore un brouillon. Pour être "
            "examiné avec la vague « %(wave)s » de l'appel « %(call)s », il doit être déposé avant le "
            "%(deadline)s.\n\n%(state)s\n\nComplétez et déposez votre dossier :\n%(link)s"
            "\n\nL'équipe Fabriques de territoires"
        )
        % {
            "reference": application.reference,
            "title": application.title,
            "wave": wave.name,
            "call": application.call.title,
            "deadline": format_datetime(closes),
            "state": state,
            "link": absolute_url("applications:dossier-detail", reference=application.reference),
        },
    )
