"""Expert opinions (« avis d'expert »): asked by the instruction, given by the expert, reminded.

The machine: one table (`TRANSITIONS`) and one funnel (`MACHINE.move`, core.workflow): an open
request (« demandé ») is given once by its expert, or cancelled by the instruction; both are final.
There is no « expiré » state: a request whose due date has passed stays open and answerable (an
opinion that comes late is still worth reading), is shown overdue to the instruction, and both
sides are told once (`opinions_reminders_send`). Each move leaves its log row (`OpinionChange`)
and its audit row; the creation is logged as a move from "" to « demandé ».

Files go both ways (the request's, the answer's) as `MessageFile` rows: the same check by content
as every upload (applications.services.messaging.message_files_check), stored only once every
other rule has passed, removed again if the transaction fails after them.

E-mails are rows (notifications.OutgoingEmail) under unique keys: the invitation
(`opinion:<id>:request`), the answer (`opinion:<id>:given`), the cancellation, the reminder before
the due date (`opinion:<id>:reminder`), the overdue notices (`opinion:<id>:overdue-expert` and
`opinion:<id>:overdue-instruction`), each written once whatever the number of runs; a manual
reminder (« Relancer ») once a day at most (`opinion:<id>:relance:<date>`).
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.services import audit_record, user_invite_expert
from applications.models import Access, Application, Call, Member, MessageFile, Opinion, OpinionChange
from applications.selectors import applications_reviewable_by
from applications.services.messaging import (
    FileUpload,
    message_files_check,
    message_files_discard,
    message_files_store,
)
from applications.services.notify import opinion_notify, opinion_requested_notify
from applications.workflow import REVIEWABLE_STATES
from core import uploads
from core.formatting import format_date
from core.links import absolute_url
from core.workflow import Machine
from notifications.models import OutgoingEmail
from notifications.services import email_queue

OS = Opinion.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    OS.REQUESTED: frozenset({OS.GIVEN, OS.CANCELLED}),
    OS.GIVEN: frozenset(),
    OS.CANCELLED: frozenset(),
}

REFUSAL = gettext_lazy("Une demande d'avis « %(from)s » ne peut pas passer à l'état « %(to)s ».")
MACHINE: Machine[Opinion, OpinionChange] = Machine(
    Opinion, TRANSITIONS, OpinionChange, REFUSAL, auditor=audit_record
)
can_move = MACHINE.can_move

# The answers each form of request accepts.
ANSWERS: dict[str, tuple[str, ...]] = {
    Opinion.AnswerKind.VERDICT: (
        Opinion.Verdict.FAVOURABLE,
        Opinion.Verdict.RESERVED,
        Opinion.Verdict.UNFAVOURABLE,
    ),
    Opinion.AnswerKind.YES_NO: (Opinion.Verdict.YES, Opinion.Verdict.NO),
}


def _ensure_reviewer(user: User, application: Application) -> None:
    if not applications_reviewable_by(user).filter(pk=application.pk).exists():
        raise PermissionDenied(_("Ce dossier n'est pas dans votre périmètre d'instruction."))


def _review_link(application: Application) -> str:
    return absolute_url("applications:review-detail", reference=application.reference)


def _entry_link(opinion: Opinion) -> str:
    return absolute_url("applications:opinion-give", token=opinion.token)


# --- the request -------------------------------------------------------------------------------


def opinion_default_due(call: Call, *, today: date | None = None) -> date:
    """The due date proposed to the instructor: today plus the call's delay for opinions."""
    return (today or timezone.localdate()) + timedelta(days=call.opinion_delay_days)


@dataclass(frozen=True)
class OpinionAsk:
    """A request as checked, before it is written (what the recap shows)."""

    email: str
    organisation_name: str
    question: str
    answer_kind: str
    due_on: date
    confidential: bool


def opinion_request_check(
    *,
    application: Application,
    email: str,
    organisation_name: str,
    question: str,
    answer_kind: str,
    due_on: date | None,
    confidential: bool,
    actor: User,
    today: date | None = None,
) -> OpinionAsk:
    """Every rule of a request, all errors at once under the form's field names; writes nothing."""
    _ensure_reviewer(actor, application)
    if application.status not in REVIEWABLE_STATES:
        raise ValidationError(
            _(
                "Un avis se demande sur un dossier déposé ou en instruction, "
                "pas sur un dossier « %(status)s »."
            )
            % {"status": application.get_status_display()},
            code="state",
        )
    today = today or timezone.localdate()
    email = email.strip().lower()
    errors: dict[str, list[str]] = {}
    if not email:
        errors["email"] = [_("Indiquez l'adresse e-mail de l'expert.")]
    elif email == actor.email.lower():
        errors["email"] = [_("Vous ne pouvez pas vous demander un avis à vous-même.")]
    elif _is_applicant_of(email, application):
        errors["email"] = [
            _("Cette personne est porteuse de ce dossier : elle ne peut pas en être l'expert.")
        ]
    elif Opinion.objects.filter(application=application, email=email, status=OS.REQUESTED).exists():
        errors["email"] = [
            _("Un avis est déjà demandé à cette adresse sur ce dossier et n'est pas encore rendu.")
        ]
    if not organisation_name.strip():
        errors["organisation_name"] = [_("Indiquez le service consulté.")]
    if not question.strip():
        errors["question"] = [_("Posez la question à laquelle l'expert doit répondre.")]
    if answer_kind not in ANSWERS:
        errors["answer_kind"] = [_("Choisissez la forme de la réponse.")]
    if due_on is None:
        due_on = opinion_default_due(application.call, today=today)
    if due_on <= today:
        errors["due_on"] = [
            _("La date limite doit être postérieure à aujourd'hui (%(today)s).")
            % {"today": format_date(today)}
        ]
    if errors:
        raise ValidationError(errors)
    return OpinionAsk(
        email=email,
        organisation_name=organisation_name.strip(),
        question=question.strip(),
        answer_kind=answer_kind,
        due_on=due_on,
        confidential=confidential,
    )


def _is_applicant_of(email: str, application: Application) -> bool:
    """The address is one of the dossier's own side (author, member of a structure, invited)."""
    return (
        application.created_by.email.lower() == email
        or Member.objects.filter(
            application=application, organisation__memberships__user__email__iexact=email
        ).exists()
        or Access.objects.filter(application=application, email__iexact=email).exists()
    )


@transaction.atomic
def opinion_request(
    *,
    application: Application,
    email: str,
    organisation_name: str,
    question: str,
    actor: User,
    answer_kind: str = Opinion.AnswerKind.VERDICT,
    due_on: date | None = None,
    confidential: bool = True,
    files: Sequence[FileUpload] = (),
    today: date | None = None,
) -> Opinion:
    """Ask an expert's opinion on a dossier: their account is found or created, the request and its
    files are written, the expert is invited by e-mail (the link leads them in, through choosing a
    password for a new account)."""
    ask = opinion_request_check(
        application=application,
        email=email,
        organisation_name=organisation_name,
        question=question,
        answer_kind=answer_kind,
        due_on=due_on,
        confidential=confidential,
        actor=actor,
        today=today,
    )
    checked = message_files_check(files, field="attachments") if files else []
    expert, created = user_invite_expert(email=ask.email, actor=actor)
    opinion = Opinion(
        application=application,
        status=OS.REQUESTED,
        email=ask.email,
        organisation_name=ask.organisation_name,
        expert=expert,
        token=secrets.token_urlsafe(32),
        question=ask.question,
        answer_kind=ask.answer_kind,
        due_on=ask.due_on,
        confidential=ask.confidential,
        requested_by=actor,
    )
    opinion.full_clean()
    opinion.save()
    OpinionChange.objects.create(opinion=opinion, from_status="", to_status=OS.REQUESTED, actor=actor)
    stored = _store(checked, actor=actor)
    try:
        if stored:
            opinion.request_files.add(*stored)
        email_queue(
            key=f"opinion:{opinion.pk}:request",
            to=[opinion.email],
            subject=_("Avis d'expert demandé sur le dossier %(reference)s")
            % {"reference": application.reference},
            body=_(
                "Bonjour,\n\nL'instruction de l'appel « %(call)s » sollicite l'avis de %(organisation)s "
                "sur le dossier %(reference)s « %(title)s ».\n\nLa question :\n%(question)s\n\n"
                "Réponse attendue avant "
                "le %(date)s. %(access)s\n%(link)s\n\nL'équipe Fabriques de territoires"
            )
            % {
                "call": application.call.title,
                "organisation": opinion.organisation_name,
                "reference": application.reference,
                "title": application.title,
                "question": opinion.question,
                "date": format_date(opinion.due_on),
                "access": _(
                    "Un compte a été créé pour votre adresse : ce lien vous fait choisir votre mot de passe, "
                    "puis ouvre la demande dans votre espace « Mes demandes d'avis » :"
                )
                if created
                else _("Ce lien ouvre la demande dans votre espace « Mes demandes d'avis » :"),
                "link": _entry_link(opinion),
            },
        )
        opinion_requested_notify(opinion=opinion)
        audit_record(
            actor=actor,
            action="opinion.request",
            target=application,
            data={
                "opinion": opinion.pk,
                "email": opinion.email,
                "due_on": opinion.due_on.isoformat(),
                "confidential": opinion.confidential,
                "answer_kind": opinion.answer_kind,
                "files": [row.sha256 for row in stored],
            },
        )
    except Exception:
        message_files_discard(stored)
        raise
    return opinion


def _store(checked: list[uploads.CheckedUpload], *, actor: User) -> list[MessageFile]:
    """Store the checked files (the callers store them after every other rule has passed, and
    remove them again if a later write fails: files are not transactional)."""
    return message_files_store(checked, actor=actor) if checked else []


# --- the answer --------------------------------------------------------------------------------


def _ensure_expert(opinion: Opinion, actor: User) -> None:
    if opinion.expert_id != actor.pk:
        raise PermissionDenied(_("Cette demande d'avis ne vous est pas adressée."))


def opinion_answer_check(*, opinion: Opinion, verdict: str, comment: str, actor: User) -> None:
    """The rules of an answer, under the form's field names; writes nothing (the recap)."""
    _ensure_expert(opinion, actor)
    MACHINE.ensure_can_move(opinion, OS.GIVEN)
    errors: dict[str, list[str]] = {}
    if verdict not in ANSWERS.get(opinion.answer_kind, ()):
        errors["verdict"] = [
            _("Répondez par oui ou par non.")
            if opinion.answer_kind == Opinion.AnswerKind.YES_NO
            else _("Choisissez un avis : favorable, réservé ou défavorable.")
        ]
    if verdict in (Opinion.Verdict.RESERVED, Opinion.Verdict.UNFAVOURABLE) and not comment.strip():
        errors["comment"] = [_("Un avis réservé ou défavorable est motivé : écrivez un commentaire.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def opinion_give(
    *,
    opinion: Opinion,
    verdict: str,
    comment: str,
    actor: User,
    author_name: str = "",
    files: Sequence[FileUpload] = (),
) -> Opinion:
    """The expert's answer, given once: it cannot be changed afterwards. The requesting instructor
    and the dossier's are notified; a shared opinion shows on the applicant's dossier page."""
    opinion = Opinion.objects.select_related("application").get(pk=opinion.pk)
    opinion_answer_check(opinion=opinion, verdict=verdict, comment=comment, actor=actor)
    checked = message_files_check(files, field="attachments") if files else []
    signature = author_name.strip() or actor.get_full_name() or actor.email
    MACHINE.move(
        row=opinion,
        to_status=OS.GIVEN,
        actor=actor,
        action="opinion.give",
        data={"opinion": opinion.pk, "verdict": verdict},
        verdict=verdict,
        comment=comment.strip(),
        author_name=f"{signature} ({opinion.organisation_name})"[:200],
        given_at=timezone.now(),
    )
    stored = _store(checked, actor=actor)
    try:
        if stored:
            opinion.answer_files.add(*stored)
        # The requester and the dossier's instructors, in the centre and by e-mail as each prefers.
        opinion_notify(opinion=opinion)
    except Exception:
        message_files_discard(stored)
        raise
    return opinion


# --- the instruction's moves -------------------------------------------------------------------


@transaction.atomic
def opinion_cancel(*, opinion: Opinion, reason: str, actor: User) -> Opinion:
    """The instruction withdraws an open request (no longer needed, wrong expert): the expert is
    told, and loses access to the dossier at once."""
    opinion = Opinion.objects.select_related("application", "expert").get(pk=opinion.pk)
    _ensure_reviewer(actor, opinion.application)
    if not reason.strip():
        raise ValidationError({"reason": _("Indiquez pourquoi la demande est annulée.")})
    MACHINE.move(
        row=opinion,
        to_status=OS.CANCELLED,
        actor=actor,
        note=reason.strip(),
        action="opinion.cancel",
        data={"opinion": opinion.pk},
        cancelled_at=timezone.now(),
    )
    _cancelled_notice(opinion, application=opinion.application, reason=reason.strip())
    return opinion


def _cancelled_notice(opinion: Opinion, *, application: Application, reason: str) -> None:
    email_queue(
        key=f"opinion:{opinion.pk}:cancelled",
        to=[opinion.email],
        subject=_("Demande d'avis annulée – dossier %(reference)s") % {"reference": application.reference},
        body=_(
            "Bonjour,\n\nLa demande d'avis sur le dossier %(reference)s est annulée : vous n'avez "
            "plus à y répondre.\n\nMotif : %(reason)s\n\nL'équipe Fabriques de territoires"
        )
        % {"reference": application.reference, "reason": reason},
    )


def opinions_close_for_withdrawal(*, application: Application, actor: User) -> int:
    """The dossier is withdrawn: its open requests are cancelled through the funnel (logged and
    audited under `opinion.cancel`, the expert told), so that no expert keeps reading a dossier
    that is no longer examined. Runs inside the withdrawal's transaction; returns how many."""
    reason = _("Le dossier a été retiré par le porteur.")
    cancelled = 0
    for opinion in Opinion.objects.filter(application=application, status=OS.REQUESTED).order_by("pk"):
        MACHINE.move(
            row=opinion,
            to_status=OS.CANCELLED,
            actor=actor,
            note=reason,
            action="opinion.cancel",
            data={"opinion": opinion.pk, "by": "application.withdraw"},
            cancelled_at=timezone.now(),
        )
        _cancelled_notice(opinion, application=application, reason=reason)
        cancelled += 1
    return cancelled


def opinion_remind_key(opinion_id: int, day: date) -> str:
    return f"opinion:{opinion_id}:relance:{day.isoformat()}"


@transaction.atomic
def opinion_remind(*, opinion: Opinion, actor: User, today: date | None = None) -> Opinion:
    """« Relancer »: the instruction reminds the expert of an open request, once a day at most."""
    opinion = Opinion.objects.select_related("application").get(pk=opinion.pk)
    _ensure_reviewer(actor, opinion.application)
    if opinion.status != OS.REQUESTED:
        raise ValidationError(_("Seule une demande d'avis en attente se relance."), code="not_open")
    today = today or timezone.localdate()
    key = opinion_remind_key(opinion.pk, today)
    if OutgoingEmail.objects.filter(key=key).exists():
        raise ValidationError(_("L'expert a déjà été relancé aujourd'hui."), code="already")
    subject, body = _reminder_text(opinion, today=today)
    email_queue(key=key, to=[opinion.email], subject=subject, body=body)
    audit_record(
        actor=actor,
        action="opinion.remind",
        target=opinion.application,
        data={"opinion": opinion.pk, "due_on": opinion.due_on.isoformat()},
    )
    return opinion


def _reminder_text(opinion: Opinion, *, today: date) -> tuple[str, str]:
    """The reminder's subject and body: before the due date, or once it has passed."""
    application = opinion.application
    late = opinion.due_on < today
    return (
        (
            _("Avis en retard sur le dossier %(reference)s")
            if late
            else _("Rappel : avis attendu avant le %(date)s – dossier %(reference)s")
        )
        % {"reference": application.reference, "date": format_date(opinion.due_on)},
        _(
            "Bonjour,\n\nL'instruction attend votre avis sur le dossier %(reference)s « %(title)s », "
            "%(when)s.\n\nLa question :\n%(question)s\n\nVous pouvez le rendre depuis votre espace "
            "« Mes demandes d'avis » :\n"
            "%(link)s\n\nL'équipe Fabriques de territoires"
        )
        % {
            "reference": application.reference,
            "title": application.title,
            "when": (_("qui était attendu avant le %(date)s") if late else _("attendu avant le %(date)s"))
            % {"date": format_date(opinion.due_on)},
            "question": opinion.question or _("(voir la demande)"),
            "link": _entry_link(opinion),
        },
    )


# --- the daily reminders -----------------------------------------------------------------------


def opinion_reminder_key(opinion_id: int) -> str:
    return f"opinion:{opinion_id}:reminder"


def opinion_overdue_keys(opinion_id: int) -> tuple[str, str]:
    return f"opinion:{opinion_id}:overdue-expert", f"opinion:{opinion_id}:overdue-instruction"


def opinions_reminders_send(*, today: date | None = None) -> dict[str, int]:
    """Today's reminders of open requests: to the expert the call's `opinion_reminder_days` before
    the due date; once it has passed, to the expert again and to the instructor who asked.

    Each e-mail is written once (its key names the request, never the day) and in a transaction of
    its own: a run missed is caught up by the next, a second run writes nothing.
    """
    today = today or timezone.localdate()
    opinions = list(
        Opinion.objects.filter(status=OS.REQUESTED)
        .select_related("application__call", "requested_by")
        .order_by("due_on", "pk")
    )
    wanted: dict[str, tuple[str, Opinion]] = {}
    for opinion in opinions:
        if opinion.due_on < today:
            expert_key, instruction_key = opinion_overdue_keys(opinion.pk)
            wanted[expert_key] = ("overdue_expert", opinion)
            wanted[instruction_key] = ("overdue_instruction", opinion)
        else:
            days = opinion.application.call.opinion_reminder_days
            if days and today >= opinion.due_on - timedelta(days=days):
                wanted[opinion_reminder_key(opinion.pk)] = ("reminder", opinion)
    present = set(OutgoingEmail.objects.filter(key__in=list(wanted)).values_list("key", flat=True))
    sent = {"reminders": 0, "overdue_expert": 0, "overdue_instruction": 0}
    for key, (kind, opinion) in wanted.items():
        if key in present:
            continue
        with transaction.atomic():
            if kind == "overdue_instruction":
                requester = opinion.requested_by
                if not (requester.is_active and requester.email):
                    continue
                subject, body = _overdue_instruction_text(opinion)
                email_queue(key=key, to=[requester.email], subject=subject, body=body)
            else:
                subject, body = _reminder_text(opinion, today=today)
                email_queue(key=key, to=[opinion.email], subject=subject, body=body)
        sent["reminders" if kind == "reminder" else kind] += 1
    return sent


def _overdue_instruction_text(opinion: Opinion) -> tuple[str, str]:
    application = opinion.application
    return (
        _("Avis en retard – dossier %(reference)s") % {"reference": application.reference},
        _(
            "Bonjour,\n\nL'avis demandé le %(asked)s à %(organisation)s (%(email)s) sur le dossier "
            "%(reference)s "
            "« %(title)s » était attendu avant le %(date)s : il n'est pas encore rendu. L'expert en a été "
            "relancé.\n\nVous pouvez le relancer encore ou annuler la demande depuis la page "
            "d'instruction :\n"
            "%(link)s\n\nL'équipe Fabriques de territoires"
        )
        % {
            "asked": format_date(opinion.requested_at),
            "organisation": opinion.organisation_name,
            "email": opinion.email,
            "reference": application.reference,
            "title": application.title,
            "date": format_date(opinion.due_on),
            "link": _review_link(application),
        },
    )
