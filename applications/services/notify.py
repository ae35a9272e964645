"""The dossiers' events in the notification centre: who hears of what (notifications.services_inbox).

Each function is called by one line of the service whose action it reports, in that action's
transaction; it computes the recipients by the portal's rules (the dossier's two sides,
`dossier_recipient_ids`; the instructors of a territory, `instructors_covering`) and hands the event
to the inbox, which writes the rows, the counters and the e-mails by each person's preference. The
event's key makes a replay notify nobody twice.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application, Assignment, Call, Member, Message, Opinion, StatusChange
from applications.selectors import dossier_recipient_ids, overdue_condition
from core.formatting import format_date
from fabriques.selectors import instructors_covering
from notifications.models import NotificationKind
from notifications.services_inbox import Event, notify, notify_many

K = NotificationKind
S = Application.Status


def _review_path(application: Application) -> str:
    return reverse("applications:review-detail", kwargs={"reference": application.reference})


def _dossier_path(application: Application) -> str:
    return reverse("applications:dossier-detail", kwargs={"reference": application.reference})


def _messages_path(reference: str) -> str:
    return reverse("applications:dossier-messages", kwargs={"reference": reference})


def _named(application: Application) -> dict[str, str]:
    return {"reference": application.reference, "title": application.title}


def submission_notify(*, application: Application, change: StatusChange) -> None:
    """A submission: a new dossier for the instructors of its territory, or, after a request for
    corrections, the answer for the instructors who sent it back (the instruction side)."""
    if change.from_status == S.CORRECTIONS:
        notify(
            event=Event(
                kind=K.CORRECTIONS_ANSWERED,
                key=f"corrections-answered:{change.pk}",
                title=_("Compléments apportés sur le dossier %(reference)s") % _named(application),
                text=_(
                    "Le porteur du dossier %(reference)s « %(title)s » a apporté les compléments demandés : "
                    "le dossier revient en instruction."
                )
                % _named(application),
                link=_review_path(application),
                dossier_id=application.pk,
            ),
            recipient_ids=dossier_recipient_ids(application, side=Message.Side.INSTRUCTION),
        )
        return
    if application.departement is None:
        return
    notify(
        event=Event(
            kind=K.DOSSIER_SUBMITTED,
            key=f"dossier-submitted:{change.pk}",
            title=_("Nouveau dossier déposé : %(reference)s") % _named(application),
            text=_(
                "Le dossier %(reference)s « %(title)s » a été déposé dans votre territoire (%(departement)s)."
            )
            % {**_named(application), "departement": application.departement.name},
            link=_review_path(application),
            dossier_id=application.pk,
        ),
        recipient_ids=list(
            instructors_covering(departement=application.departement).values_list("pk", flat=True)
        ),
    )


def assignment_notify(*, assignment: Assignment, actor: User) -> None:
    """A dossier assigned to an instructor by someone else (one assigning oneself knows it)."""
    if assignment.instructor_id == actor.pk:
        return
    application = assignment.application
    notify(
        event=Event(
            kind=K.DOSSIER_ASSIGNED,
            key=f"assigned:{assignment.pk}",
            title=_("Dossier %(reference)s affecté à vous") % _named(application),
            text=_("%(actor)s vous a affecté le dossier %(reference)s « %(title)s ».")
            % {**_named(application), "actor": actor.get_full_name() or actor.email},
            link=_review_path(application),
            dossier_id=application.pk,
        ),
        recipient_ids=[assignment.instructor_id],
    )


def opinion_notify(*, opinion: Opinion) -> None:
    """An outside opinion given: the instructor who asked for it and those assigned to the dossier."""
    application = Application.objects.get(pk=opinion.application_id)
    recipients = set(
        Assignment.objects.filter(application=application, conflict_of_interest=False).values_list(
            "instructor_id", flat=True
        )
    )
    if opinion.requested_by_id is not None:
        recipients.add(opinion.requested_by_id)
    notify(
        event=Event(
            kind=K.OPINION_GIVEN,
            key=f"opinion-given:{opinion.pk}",
            title=_("Avis rendu sur le dossier %(reference)s") % _named(application),
            text=_(
                "%(organisation)s a rendu son avis (« %(verdict)s ») "
                "sur le dossier %(reference)s « %(title)s »."
            )
            % {
                **_named(application),
                "organisation": opinion.organisation_name,
                "verdict": opinion.get_verdict_display(),
            },
            link=_review_path(application),
            dossier_id=application.pk,
        ),
        recipient_ids=sorted(recipients),
    )


def opinion_requested_notify(*, opinion: Opinion) -> None:
    """An opinion asked: the expert finds it in their centre (the request's e-mail is sent anyway)."""
    if opinion.expert_id is None:  # only requests migrated already answered have no expert
        return
    application = Application.objects.get(pk=opinion.application_id)
    notify(
        event=Event(
            kind=K.OPINION_REQUESTED,
            key=f"opinion-requested:{opinion.pk}",
            title=_("Avis demandé sur le dossier %(reference)s") % _named(application),
            text=_("%(organisation)s : votre avis est attendu avant le %(date)s.")
            % {"organisation": opinion.organisation_name, "date": format_date(opinion.due_on)},
            link=reverse("applications:expert-request", kwargs={"opinion_id": opinion.pk}),
            dossier_id=application.pk,
        ),
        recipient_ids=[opinion.expert_id],
    )


def message_notify(*, message: Message) -> None:
    """A message in a dossier's thread: the other side hears of it (by e-mail as each prefers)."""
    application = message.application
    if message.side == Message.Side.INSTRUCTION:
        kind, other, link = (
            K.MESSAGE_FROM_INSTRUCTION,
            Message.Side.APPLICANT,
            _messages_path(application.reference),
        )
        title = _("Nouveau message de l'instruction sur le dossier %(reference)s")
    else:
        kind, other, link = K.MESSAGE_FROM_APPLICANT, Message.Side.INSTRUCTION, _review_path(application)
        title = _("Nouveau message du porteur du dossier %(reference)s")
    notify(
        event=Event(
            kind=kind,
            key=f"message:{message.pk}",
            title=title % _named(application),
            text=_("Un nouveau message vous attend sur le dossier %(reference)s « %(title)s ».")
            % _named(application),
            link=link,
            dossier_id=application.pk,
        ),
        recipient_ids=dossier_recipient_ids(application, side=other),
    )


def corrections_notify(*, application: Application, change: StatusChange) -> None:
    """Corrections asked: in the centre only, the request itself (with its due date) being e-mailed."""
    notify(
        event=Event(
            kind=K.CORRECTIONS_ASKED,
            key=f"corrections-asked:{change.pk}",
            title=_("Compléments demandés sur votre dossier %(reference)s") % _named(application),
            text=change.note,
            link=_dossier_path(application),
            dossier_id=application.pk,
        ),
        recipient_ids=dossier_recipient_ids(application, side=Message.Side.APPLICANT),
    )


def broadcast_recipient_ids(dossier_ids: Sequence[int]) -> dict[int, set[int]]:
    """The applicant side of each dossier (`dossier_recipient_ids`' rule), in two queries."""
    found: dict[int, set[int]] = {}
    authors = Application.objects.filter(pk__in=dossier_ids, created_by__is_active=True).values_list(
        "pk", "created_by_id"
    )
    leads = Member.objects.filter(
        application_id__in=dossier_ids, is_lead=True, organisation__memberships__user__is_active=True
    ).values_list("application_id", "organisation__memberships__user_id")
    for dossier_id, user_id in [*authors, *leads]:
        if user_id is not None:
            found.setdefault(dossier_id, set()).add(user_id)
    return found


def broadcast_notify(*, broadcast_id: int, subject: str, scoped: Sequence[tuple[int, str]]) -> None:
    """A group message: one event per dossier, in bulk. Its own e-mail carries the text to each
    dossier's applicants, so the notifications stay in the centre (not e-mailed twice)."""
    recipients = broadcast_recipient_ids([pk for pk, _reference in scoped])
    notify_many(
        events=[
            (
                Event(
                    kind=K.MESSAGE_FROM_INSTRUCTION,
                    key=f"broadcast:{broadcast_id}:{pk}",
                    title=_("Message de l'instruction sur le dossier %(reference)s : %(subject)s")
                    % {"reference": reference, "subject": subject},
                    text=subject,
                    link=_messages_path(reference),
                    dossier_id=pk,
                    emailed_elsewhere=True,
                ),
                sorted(recipients.get(pk, ())),
            )
            for pk, reference in scoped
        ]
    )


def dossiers_overdue_notify(*, now: datetime | None = None) -> int:
    """Daily: each dossier submitted or in review past its call's instruction delay, once per
    submission (the key holds the day it was submitted), to its instruction side. Returns how
    many notifications were written."""
    now = now or timezone.now()
    delays = list(Call.objects.order_by().values_list("instruction_delay_days", flat=True).distinct())
    overdue = (
        Application.objects.filter(status__in=(S.SUBMITTED, S.IN_REVIEW))
        .alias(instruction_since=Coalesce("last_submitted_at", "submitted_at"))
        .filter(overdue_condition(now=now, delays=delays))
        .select_related("call")
        .order_by("pk")
    )
    events: list[tuple[Event, list[int]]] = []
    for application in overdue:
        since = application.last_submitted_at or application.submitted_at
        assert since is not None  # noqa: S101 (overdue_condition keeps submitted dossiers only)
        key = f"dossier-overdue:{application.pk}:{since.date().isoformat()}"
        events.append(
            (
                Event(
                    kind=K.DOSSIER_OVERDUE,
                    key=key,
                    title=_("Dossier %(reference)s en retard d'instruction") % _named(application),
                    text=_(
                        "Le dossier %(reference)s « %(title)s » attend une décision depuis plus de "
                        "%(days)s jours, "
                        "le délai d'instruction de l'appel."
                    )
                    % {**_named(application), "days": application.call.instruction_delay_days},
                    link=_review_path(application),
                    dossier_id=application.pk,
                ),
                dossier_recipient_ids(application, side=Message.Side.INSTRUCTION),
            )
        )
    return len(notify_many(events=events)) if events else 0
