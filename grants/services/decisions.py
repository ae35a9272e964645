"""Decisions on dossiers: award, refuse, close without follow-up.

Reopening a decided dossier is in `grants.services.reopening`, one decision on several dossiers
in `grants.services.bulk_decisions`.

An award commits its amount against the call's envelope. The call's row is the envelope's row: it
is locked (`SELECT ... FOR NO KEY UPDATE`) after the dossier's row, always in that order, and its
`committed_amount` can never exceed `envelope` (a CHECK constraint backs the service's test). No
path (view, bulk action, admin, command) moves money except through `grants.services.envelope`.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from applications.models import Application, Call, EligibilityCheck, Message, StatusChange
from applications.models.calls import Letterhead
from applications.selectors import dossier_recipients
from applications.services.deadlines import corrections_closable
from applications.services.review import ensure_no_conflict, ensure_reviewer
from applications.workflow import transition
from core.formatting import format_date, format_money
from grants.models import Grant, Tranche
from grants.services.agreements import agreement_create
from grants.services.document_contexts import (
    AwardLetterContext,
    ClosingLetterContext,
    DecisionLetterContext,
    RefusalLetterContext,
)
from grants.services.envelope import (
    add_years,
    award_check,
    envelope_commit,
    envelope_room_check,
    lock_dossier_and_envelope,
    split_yearly,
    tranche_amounts,
)
from grants.services.notify import decision_notify
from grants.services.recipients import letterhead_check
from notifications.services import document_request, email_queue

S = Application.Status

AWARD_TEMPLATE = "pdf/decision_award.html"
REFUSAL_TEMPLATE = "pdf/decision_refusal.html"
CLOSING_TEMPLATE = "pdf/decision_closed.html"


def _check_eligibility(application: Application) -> None:
    checks = list(EligibilityCheck.objects.filter(call=application.call))
    answers = {answer.condition_id: answer for answer in application.eligibility_answers.all()}
    failing = [check.label for check in checks if check.pk not in answers or not answers[check.pk].satisfied]
    if failing:
        raise ValidationError(
            [_("Condition d'éligibilité non vérifiée : %(label)s") % {"label": label} for label in failing],
            code="eligibility",
        )


def _decider(actor: User, application: Application) -> None:
    ensure_reviewer(actor, application)
    ensure_no_conflict(actor, application)


def _appeal_context(call: Call) -> Letterhead:
    """The issuer of the letter (body, signatory, place), from the call: never from the template."""
    return call.letterhead()


@dataclass(frozen=True)
class AwardPreview:
    """What an award would commit, computed by the award's own rules without writing anything."""

    amount: Decimal
    bonus: Decimal
    yearly: list[Decimal]
    # The calendar year of each tranche's first due date (tranche 1 this year, then one a year).
    calendar_years: list[int]
    remaining_after: Decimal


def decision_check(*, application: Application, actor: User) -> None:
    """The checks every decision starts with (decider, no conflict, dossier in review, the call's
    letterhead), read-only."""
    _decider(actor, application)
    letterhead_check(Call.objects.get(pk=application.call_id), before=_("avant de prendre une décision"))
    if application.status != S.IN_REVIEW:
        raise ValidationError(
            _("Seul un dossier en instruction peut être décidé (ce dossier est « %(status)s »).")
            % {"status": S(application.status).label},
            code="state",
        )


def _corrections_delay_check(application: Application) -> None:
    """A dossier waiting for corrections is not closed before their due date: the applicant was
    given until then to answer."""
    if application.status == S.CORRECTIONS and not corrections_closable(application):
        raise ValidationError(
            _(
                "Le porteur a jusqu'au %(date)s pour déposer ses compléments : le dossier ne peut être "
                "classé sans suite qu'à partir de cette date."
            )
            % {"date": format_date(application.corrections_due_on)},
            code="state",
        )


def closing_check(*, application: Application, actor: User) -> None:
    """The checks of a closing, read-only: those of every decision, except that a dossier whose
    corrections are overdue may be closed too (the page offers it then)."""
    if application.status != S.CORRECTIONS:
        decision_check(application=application, actor=actor)
        return
    _decider(actor, application)
    letterhead_check(Call.objects.get(pk=application.call_id), before=_("avant de prendre une décision"))
    _corrections_delay_check(application)


def award_preview(
    *, application: Application, amount: Decimal, yearly: list[Decimal] | None = None, actor: User
) -> AwardPreview:
    """The award's checks (decider, state, bounds, yearly cap, eligibility, envelope), read-only.

    For the recap shown before the award: it refuses what `application_award` would refuse, with
    the same messages. The award checks everything again under its locks.
    """
    decision_check(application=application, actor=actor)
    call = Call.objects.get(pk=application.call_id)
    asked = list(application.budget_years.order_by("year_index").values_list("requested", flat=True))
    parts = list(yearly) if yearly is not None else split_yearly(amount, call.duration_years, asked)
    award_check(call, amount, parts)
    _check_eligibility(application)
    bonus = call.fnt_bonus if application.kind == Application.Kind.FNT else Decimal("0")
    envelope_room_check(call=call, amount=amount + bonus, application=application)
    start = timezone.localdate()
    return AwardPreview(
        amount=amount,
        bonus=bonus,
        yearly=parts,
        calendar_years=[add_years(start, index).year for index in range(len(parts))],
        remaining_after=call.remaining_amount - amount - bonus,
    )


def _letter(
    application: Application,
    change: StatusChange,
    *,
    kind: str,
    template: str,
    context: AwardLetterContext | RefusalLetterContext | ClosingLetterContext,
) -> None:
    """The decision letter (a document row) and the e-mail carrying it, in the decision's transaction."""
    letter = document_request(
        key=f"application:{application.pk}:{kind}:{change.pk}",
        kind=kind,
        template_name=template,
        context=context,
        filename=f"decision-{application.reference}-{change.pk}.pdf",
    )
    change.document = letter
    change.save(update_fields=["document"])
    email_queue(
        key=f"application:{application.pk}:{kind}-email:{change.pk}",
        to=dossier_recipients(application, side=Message.Side.APPLICANT),
        subject=_("Décision sur votre dossier %(reference)s") % {"reference": application.reference},
        body=_(
            "Bonjour,\n\nLa décision prise sur votre dossier %(reference)s « %(title)s » est jointe à ce "
            "message. Elle est aussi disponible sur la page du dossier.\n\nL'équipe Fabriques de territoires"
        )
        % {"reference": application.reference, "title": application.title},
        attachments=[letter],
    )
    decision_notify(application=application, change=change)


def _letter_base(application: Application, change: StatusChange) -> DecisionLetterContext:
    lead = application.members.select_related("organisation").filter(is_lead=True).first()
    return {
        "reference": application.reference,
        "title": application.title,
        "call": application.call.title,
        "date": format_date(change.at),
        "lead_name": lead.organisation.name if lead else "",
        "lead_siret": lead.organisation.siret_display if lead else "",
        "lead_address": (
            f"{lead.organisation.address}, {lead.organisation.postal_code} {lead.organisation.commune_name}"
            if lead
            else ""
        ),
        **_appeal_context(application.call),
    }


@transaction.atomic
def application_award(
    *,
    application: Application,
    amount: Decimal,
    yearly: list[Decimal] | None = None,
    actor: User,
) -> Grant:
    """Award a grant: bounds, yearly cap, eligibility, then the envelope, under its lock."""
    _decider(actor, application)
    application, call = lock_dossier_and_envelope(application)
    letterhead_check(call, before=_("avant de prendre une décision"))
    if application.status != S.IN_REVIEW:
        raise ValidationError(
            _("Seul un dossier en instruction peut être retenu (ce dossier est « %(status)s »).")
            % {"status": S(application.status).label},
            code="state",
        )
    asked = list(application.budget_years.order_by("year_index").values_list("requested", flat=True))
    yearly = list(yearly) if yearly is not None else split_yearly(amount, call.duration_years, asked)
    award_check(call, amount, yearly)
    _check_eligibility(application)
    bonus = call.fnt_bonus if application.kind == Application.Kind.FNT else Decimal("0")
    envelope_commit(call=call, application=application, amount=amount + bonus, laureates=1)
    grant = Grant(application=application, call=call, amount=amount, bonus=bonus, awarded_by=actor)
    grant.full_clean()
    grant.save()
    start = timezone.localdate()
    Tranche.objects.bulk_create(
        [
            Tranche(grant=grant, year_index=index, amount=amount, due_date=add_years(start, index - 1))
            for index, amount in enumerate(tranche_amounts(yearly, bonus), start=1)
        ]
    )
    change = transition(
        application=application,
        to_status=S.AWARDED,
        actor=actor,
        note=_("Subvention de %(amount)s attribuée.") % {"amount": format_money(amount)},
    )
    context: AwardLetterContext = {
        **_letter_base(application, change),
        "amount": format_money(amount),
        "bonus": format_money(bonus) if bonus else "",
        "duration": call.duration_years,
        "tranches": [
            {"year": index, "amount": format_money(part)} for index, part in enumerate(yearly, start=1)
        ],
    }
    _letter(application, change, kind="award-letter", template=AWARD_TEMPLATE, context=context)
    # The grant agreement (convention), mandatory above 23 000 € a year, is drawn up at once.

    agreement_create(grant=grant, actor=actor)
    audit_record(
        actor=actor,
        action="decision.award",
        target=application,
        data={"amount": str(amount), "bonus": str(bonus), "yearly": [str(part) for part in yearly]},
    )
    return grant


@transaction.atomic
def application_refuse(*, application: Application, reasons: str, actor: User) -> StatusChange:
    """Refuse with written reasons: they are printed in the letter, with the routes of appeal."""
    _decider(actor, application)
    if not reasons.strip():
        raise ValidationError({"reasons": _("Une décision de refus doit être motivée.")})
    application, call = lock_dossier_and_envelope(application)
    letterhead_check(call, before=_("avant de prendre une décision"))
    change = transition(application=application, to_status=S.REFUSED, actor=actor, note=reasons.strip())
    refusal: RefusalLetterContext = {
        **_letter_base(application, change),
        "reasons": reasons.strip().splitlines(),
    }
    _letter(application, change, kind="refusal-letter", template=REFUSAL_TEMPLATE, context=refusal)
    audit_record(actor=actor, action="decision.refuse", target=application)
    return change


@transaction.atomic
def application_close(
    *, application: Application, reason: str, actor: User, expected_status: str | None = None
) -> StatusChange:
    """Close without follow-up (for instance a dossier abandoned after a request for corrections).

    `expected_status`: the state the closing was decided on (the page's), refused if the dossier
    has moved since, e.g. corrections answered at the last minute while the instructor confirmed.
    """
    _decider(actor, application)
    if not reason.strip():
        raise ValidationError({"reason": _("Indiquez pourquoi le dossier est classé sans suite.")})
    application, call = lock_dossier_and_envelope(application)
    letterhead_check(call, before=_("avant de prendre une décision"))
    # Under the lock, on the dossier as it is now (an answer may have been committed meanwhile).
    if expected_status is not None and application.status != expected_status:
        raise ValidationError(
            _(
                "Le dossier est passé à l'état « %(status)s » depuis l'affichage de la page : "
                "relisez-le avant de décider."
            )
            % {"status": S(application.status).label},
            code="state",
        )
    _corrections_delay_check(application)
    # Read before the move: leaving the corrections clears their due date.
    due_on = application.corrections_due_on if application.status == S.CORRECTIONS else None
    change = transition(application=application, to_status=S.CLOSED, actor=actor, note=reason.strip())
    # A decision all the same (no ruling on the merits): notified by a letter with its reasons and
    # the routes of appeal, as a refusal is, in the same transaction (document and e-mail rows).
    closing: ClosingLetterContext = {
        **_letter_base(application, change),
        "reasons": reason.strip().splitlines(),
        "corrections_due_on": format_date(due_on) if due_on else "",
    }
    _letter(application, change, kind="closing-letter", template=CLOSING_TEMPLATE, context=closing)
    audit_record(actor=actor, action="decision.close", target=application)
    return change
