"""Decisions on dossiers: award, refuse, close without follow-up, reopen.

An award commits its amount against the call's envelope. The call's row is the envelope's row: it
is locked (`SELECT ... FOR NO KEY UPDATE`) after the dossier's row, always in that order, and its
`committed_amount` can never exceed `envelope` (a CHECK constraint backs the service's test). No
path (view, bulk action, admin, command) commits money except through `_commit`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.formatting import format_money
from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from applications.models import Application, Call, EligibilityCheck, StatusChange
from applications.services.review import ensure_no_conflict, ensure_reviewer
from applications.workflow import DECIDED_STATES, transition
from fabriques.models import OrganisationMembership
from grants.models import Agreement, Grant, Tranche
from notifications.services import document_request, email_queue

S = Application.Status

AWARD_TEMPLATE = "pdf/decision_award.html"
REFUSAL_TEMPLATE = "pdf/decision_refusal.html"


def _lock(application: Application) -> tuple[Application, Call]:
    """Lock the dossier, then its call (the envelope): the one order every decision follows."""
    locked = Application.objects.select_for_update().get(pk=application.pk)
    call = Call.objects.select_for_update(no_key=True).get(pk=locked.call_id)
    return locked, call


def lock_dossier_and_envelope(application: Application) -> tuple[Application, Call]:
    """The lock every write on the envelope takes first: the dossier, then its call."""
    return _lock(application)


def release(call: Call, amount: Decimal, laureates: int = 0) -> None:
    """Give back to the envelope of a locked call what a cancellation frees."""
    call.committed_amount -= amount
    call.laureate_count -= laureates
    call.save(update_fields=["committed_amount", "laureate_count"])


def _commit(call: Call, amount: Decimal, laureates: int) -> None:
    """Move the envelope's counters of a locked call row."""
    if amount > call.remaining_amount:
        message = _(
            "L'enveloppe de l'appel n'a plus que %(remaining)s disponibles : %(amount)s ne peuvent "
            "pas être engagés."
        ) % {"remaining": format_money(call.remaining_amount), "amount": format_money(amount)}
        raise ValidationError({"amount": ValidationError(message, code="envelope")})
    call.committed_amount += amount
    call.laureate_count += laureates
    call.save(update_fields=["committed_amount", "laureate_count"])


def add_years(start: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def split_yearly(amount: Decimal, years: int, asked: list[Decimal]) -> list[Decimal]:
    """The default breakdown: what was asked when the award matches it, else equal parts."""
    if len(asked) == years and sum(asked) == amount:
        return list(asked)
    # In cents: the leftover cents go one by one to the last years, so parts differ by a cent at most.
    cents = int((amount * 100).to_integral_value())
    base, extra = divmod(cents, years)
    return [Decimal(base + (1 if index >= years - extra else 0)) / 100 for index in range(years)]


def tranche_amounts(yearly: list[Decimal], bonus: Decimal) -> list[Decimal]:
    """What each tranche pays: its year's part of the operating grant, plus the FNT bonus on the first.

    The bonus is a one-off sum paid with the first tranche, outside the yearly cap: every euro
    committed is scheduled, so what is paid can reach what is committed. Awards and amendments
    both build their tranches here; `schedule_update` applies the same rule to the cap.
    """
    return [part + (bonus if index == 1 else Decimal("0")) for index, part in enumerate(yearly, start=1)]


def _check_award(call: Call, amount: Decimal, yearly: list[Decimal]) -> None:
    errors: dict[str, list[str]] = {}
    if not call.min_award <= amount <= call.max_award:
        errors.setdefault("amount", []).append(
            _("Le montant attribué doit être compris entre %(min)s et %(max)s.")
            % {"min": format_money(call.min_award), "max": format_money(call.max_award)}
        )
    if len(yearly) != call.duration_years:
        errors.setdefault("yearly", []).append(
            _("La répartition compte une tranche par année (%(n)d).") % {"n": call.duration_years}
        )
    for index, part in enumerate(yearly, start=1):
        if part < 0:
            errors.setdefault(f"yearly_{index}", []).append(_("Une tranche ne peut pas être négative."))
        if part > call.max_per_year:
            errors.setdefault(f"yearly_{index}", []).append(
                _("L'année %(year)d (%(part)s) dépasse le plafond annuel de %(cap)s.")
                % {"year": index, "part": format_money(part), "cap": format_money(call.max_per_year)}
            )
    if sum(yearly, Decimal("0")) != amount:
        errors.setdefault("yearly", []).append(
            _("La répartition par année (%(sum)s) ne correspond pas au montant attribué (%(amount)s).")
            % {"sum": format_money(sum(yearly, Decimal("0"))), "amount": format_money(amount)}
        )
    if errors:
        raise ValidationError(errors)


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


def _appeal_context(call: Call) -> dict[str, str]:
    """The issuer of the letter (body, signatory, place), from the call: never from the template."""
    return call.letterhead()


def decision_recipients(application: Application) -> list[str]:
    """Who receives a decision letter: the dossier's author and the lead structure's members."""
    lead = application.members.filter(is_lead=True).first()
    recipients = {application.created_by.email}
    if lead is not None:
        recipients |= set(lead.organisation.memberships.values_list("user__email", flat=True))
    return sorted(recipients)


@dataclass(frozen=True)
class AwardPreview:
    """What an award would commit, computed by the award's own rules without writing anything."""

    amount: Decimal
    bonus: Decimal
    yearly: list[Decimal]
    # The calendar year of each tranche's first due date (tranche 1 this year, then one a year).
    calendar_years: list[int]
    remaining_after: Decimal


# The call's settings every letter and agreement prints (`Call.letterhead`): with one empty, a
# letter would go out unsigned or from nobody, so no decision nor agreement is issued until the
# programme fills it in (migration applications/0010 left the seeded call's signatory empty).
LETTERHEAD_SETTINGS: tuple[tuple[str, str], ...] = (
    ("signatory_name", gettext_noop("le nom du signataire")),
    ("signatory_title", gettext_noop("la qualité du signataire")),
    ("signature_place", gettext_noop("le lieu de signature")),
    ("grantor_name", gettext_noop("l'autorité qui attribue")),
)


def letterhead_check(call: Call, *, before: str) -> None:
    """Refuse, naming each empty setting of the call, what would print a letter without it.

    `before` ends the sentence: « avant de prendre une décision », « avant d'établir une convention ».
    """
    missing = [
        (name, label) for name, label in LETTERHEAD_SETTINGS if not (getattr(call, name) or "").strip()
    ]
    if missing:
        raise ValidationError(
            [
                ValidationError(
                    _(
                        "Renseignez %(setting)s de l'appel dans l'administration %(action)s "
                        "(champ « %(field)s » de l'appel « %(call)s »)."
                    )
                    % {
                        "setting": _(label),
                        "action": before,
                        "field": getattr(Call._meta.get_field(name), "verbose_name", name),
                        "call": call.title,
                    },
                    code="letterhead",
                )
                for name, label in missing
            ]
        )


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
    _check_award(call, amount, parts)
    _check_eligibility(application)
    bonus = call.fnt_bonus if application.kind == Application.Kind.FNT else Decimal("0")
    if amount + bonus > call.remaining_amount:
        message = _(
            "L'enveloppe de l'appel n'a plus que %(remaining)s disponibles : %(amount)s ne peuvent "
            "pas être engagés."
        ) % {"remaining": format_money(call.remaining_amount), "amount": format_money(amount + bonus)}
        raise ValidationError({"amount": ValidationError(message, code="envelope")})
    start = timezone.localdate()
    return AwardPreview(
        amount=amount,
        bonus=bonus,
        yearly=parts,
        calendar_years=[add_years(start, index).year for index in range(len(parts))],
        remaining_after=call.remaining_amount - amount - bonus,
    )


def _letter(
    application: Application, change: StatusChange, *, kind: str, template: str, context: dict[str, object]
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
        to=decision_recipients(application),
        subject=_("Décision sur votre dossier %(reference)s") % {"reference": application.reference},
        body=_(
            "Bonjour,\n\nLa décision prise sur votre dossier %(reference)s « %(title)s » est jointe à ce "
            "message. Elle est aussi disponible sur la page du dossier.\n\nL'équipe Fabriques de territoires"
        )
        % {"reference": application.reference, "title": application.title},
        attachments=[letter],
    )


def _letter_base(application: Application, change: StatusChange) -> dict[str, object]:
    lead = application.members.select_related("organisation").filter(is_lead=True).first()
    return {
        "reference": application.reference,
        "title": application.title,
        "call": application.call.title,
        "date": date_format(timezone.localtime(change.at), "j F Y"),
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
    application, call = _lock(application)
    letterhead_check(call, before=_("avant de prendre une décision"))
    if application.status != S.IN_REVIEW:
        raise ValidationError(
            _("Seul un dossier en instruction peut être retenu (ce dossier est « %(status)s »).")
            % {"status": S(application.status).label},
            code="state",
        )
    asked = list(application.budget_years.order_by("year_index").values_list("requested", flat=True))
    yearly = list(yearly) if yearly is not None else split_yearly(amount, call.duration_years, asked)
    _check_award(call, amount, yearly)
    _check_eligibility(application)
    bonus = call.fnt_bonus if application.kind == Application.Kind.FNT else Decimal("0")
    _commit(call, amount + bonus, laureates=1)
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
    context = _letter_base(application, change) | {
        "amount": format_money(amount),
        "bonus": format_money(bonus) if bonus else "",
        "duration": call.duration_years,
        "tranches": [
            {"year": index, "amount": format_money(part)} for index, part in enumerate(yearly, start=1)
        ],
    }
    _letter(application, change, kind="award-letter", template=AWARD_TEMPLATE, context=context)
    # The grant agreement (convention), mandatory above 23 000 € a year, is drawn up at once.
    from grants.services.agreements import agreement_create  # agreements imports this module

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
    application, call = _lock(application)
    letterhead_check(call, before=_("avant de prendre une décision"))
    change = transition(application=application, to_status=S.REFUSED, actor=actor, note=reasons.strip())
    context = _letter_base(application, change) | {"reasons": reasons.strip().splitlines()}
    _letter(application, change, kind="refusal-letter", template=REFUSAL_TEMPLATE, context=context)
    audit_record(actor=actor, action="decision.refuse", target=application)
    return change


@transaction.atomic
def application_close(*, application: Application, reason: str, actor: User) -> StatusChange:
    """Close without follow-up (for instance a dossier abandoned after a request for corrections)."""
    _decider(actor, application)
    if not reason.strip():
        raise ValidationError({"reason": _("Indiquez pourquoi le dossier est classé sans suite.")})
    application, call = _lock(application)
    letterhead_check(call, before=_("avant de prendre une décision"))
    change = transition(application=application, to_status=S.CLOSED, actor=actor, note=reason.strip())
    # No letter (no decision on the merits), but the applicant learns it, and why.
    email_queue(
        key=f"application:{application.pk}:close-email:{change.pk}",
        to=decision_recipients(application),
        subject=_("Votre dossier %(reference)s est classé sans suite") % {"reference": application.reference},
        body=_(
            "Bonjour,\n\nVotre dossier %(reference)s « %(title)s » est classé sans suite.\n\nMotif :\n"
            "%(reason)s\n\nL'équipe Fabriques de territoires"
        )
        % {"reference": application.reference, "title": application.title, "reason": reason.strip()},
    )
    audit_record(actor=actor, action="decision.close", target=application)
    return change


def lead_legal_representative(application: Application) -> OrganisationMembership | None:
    """The lead structure's declared legal representative (the earliest declared when there are several)."""
    return (
        OrganisationMembership.objects.select_related("user", "organisation")
        .filter(
            is_legal_representative=True,
            user__is_active=True,
            organisation__application_memberships__application=application,
            organisation__application_memberships__is_lead=True,
        )
        .order_by("created_at", "pk")
        .first()
    )


def representative_recipients(application: Application) -> list[str]:
    """Who is told of what happens to a decided dossier: the lead's legal representative, or, when
    the structure declared none, the recipients of the decision letter."""
    representative = lead_legal_representative(application)
    if representative is not None:
        return [representative.user.email]
    return decision_recipients(application)


def instructor_recipients(application: Application) -> list[str]:
    """The dossier's assigned instructors."""
    return sorted(
        set(
            application.assignments.filter(instructor__is_active=True).values_list(
                "instructor__email", flat=True
            )
        )
    )


@dataclass(frozen=True)
class ReopenPreview:
    """What reopening a decided dossier cancels and releases, computed without writing anything."""

    grant: Grant | None
    agreement: Agreement | None
    # The agreement is cancelled too (it was neither completed nor terminated).
    agreement_cancelled: bool
    # The tranches not paid nor cancelled yet: (year, amount, state label).
    tranches: list[tuple[int, Decimal, str]]
    released: Decimal
    remaining_after: Decimal
    representative: list[str]
    instructors: list[str]


def _reopen_guards(application: Application, reason: str, actor: User, *, state: bool = True) -> None:
    if not has_role(actor, Role.ADMIN):
        raise PermissionDenied(_("Seul un administrateur du programme peut rouvrir un dossier décidé."))
    if not reason.strip():
        raise ValidationError({"reason": _("La réouverture d'un dossier décidé doit être motivée.")})
    if state and application.status not in DECIDED_STATES:
        raise ValidationError(_("Seul un dossier décidé peut être rouvert."), code="state")


def _paid_refusal(tranches: list[Tranche]) -> None:
    if any(tranche.status == Tranche.Status.PAID for tranche in tranches):
        raise ValidationError(
            _("Une tranche de cette subvention est déjà versée : la décision ne se rouvre pas."), code="state"
        )


def reopen_preview(*, application: Application, reason: str, actor: User) -> ReopenPreview:
    """The reopening's checks and what it would undo, read-only (for the recap shown first).

    `application_reopen` checks everything again under its locks.
    """
    _reopen_guards(application, reason, actor)
    call = Call.objects.get(pk=application.call_id)
    grant = Grant.objects.filter(application=application, status=Grant.Status.ACTIVE).first()
    agreement = None
    live: list[Tranche] = []
    if grant is not None:
        agreement = Agreement.objects.filter(grant=grant).first()
        tranches = list(grant.tranches.order_by("year_index"))
        _paid_refusal(tranches)
        live = [tranche for tranche in tranches if tranche.status != Tranche.Status.CANCELLED]
    released = sum((tranche.amount for tranche in live), Decimal("0"))
    return ReopenPreview(
        grant=grant,
        agreement=agreement,
        agreement_cancelled=agreement is not None
        and agreement.status not in (Agreement.Status.COMPLETED, Agreement.Status.TERMINATED),
        tranches=[(tranche.year_index, tranche.amount, tranche.get_status_display()) for tranche in live],
        released=released,
        remaining_after=call.remaining_amount + released,
        representative=representative_recipients(application),
        instructors=instructor_recipients(application),
    )


def _reopen_emails(
    application: Application,
    change: StatusChange,
    reason: str,
    grant: Grant | None,
    agreement: Agreement | None,
) -> None:
    """Tell the beneficiary's representative and the instructors, in the reopening's transaction."""
    undone = ""
    if grant is not None:
        undone = _(
            "La subvention de %(amount)s%(bonus)s est annulée, avec sa convention%(number)s et ses "
            "tranches non versées.\n\n"
        ) % {
            "amount": format_money(grant.amount),
            "bonus": _(" (et le bonus de %(bonus)s)") % {"bonus": format_money(grant.bonus)}
            if grant.bonus
            else "",
            "number": f" {agreement.number}" if agreement is not None else "",
        }
    values = {
        "reference": application.reference,
        "title": application.title,
        "reason": reason,
        "undone": undone,
    }
    email_queue(
        key=f"application:{application.pk}:reopen-email:{change.pk}",
        to=representative_recipients(application),
        subject=_("Votre dossier %(reference)s est rouvert") % values,
        body=_(
            "Bonjour,\n\nLa décision prise sur votre dossier %(reference)s « %(title)s » est rouverte "
            "par l'administration du programme : le dossier revient en instruction et une nouvelle "
            "décision vous sera notifiée.\n\n%(undone)sMotif :\n%(reason)s\n\n"
            "L'équipe Fabriques de territoires"
        )
        % values,
    )
    instructors = instructor_recipients(application)
    if instructors:
        email_queue(
            key=f"application:{application.pk}:reopen-instructors-email:{change.pk}",
            to=instructors,
            subject=_("Dossier %(reference)s rouvert : à instruire de nouveau") % values,
            body=_(
                "Bonjour,\n\nLa décision prise sur le dossier %(reference)s « %(title)s », dont vous êtes "
                "instructeur, est rouverte par l'administration du programme : le dossier revient en "
                "instruction.\n\n%(undone)sMotif :\n%(reason)s\n\nLe dossier vous attend à cette "
                "adresse :\n%(link)s\n\nL'équipe Fabriques de territoires"
            )
            % {
                **values,
                "link": settings.SITE_URL
                + reverse("applications:review-detail", kwargs={"reference": application.reference}),
            },
        )


@transaction.atomic
def application_reopen(*, application: Application, reason: str, actor: User) -> StatusChange:
    """An admin sends a decided dossier back to review; an award's grant is cancelled and released.

    The beneficiary's legal representative and the assigned instructors are told, by e-mails
    written in this transaction.
    """
    # Who and why before any lock; the state on the locked row (the caller's copy may be stale).
    _reopen_guards(application, reason, actor, state=False)
    application, call = _lock(application)
    _reopen_guards(application, reason, actor)
    grant = (
        Grant.objects.select_for_update().filter(application=application, status=Grant.Status.ACTIVE).first()
    )
    agreement = None
    if grant is not None:
        # The order of every write on money: dossier, call, grant, then its agreement and tranches.
        agreement = Agreement.objects.select_for_update().filter(grant=grant).first()
        tranches = list(Tranche.objects.select_for_update().filter(grant=grant))
        _paid_refusal(tranches)
        # What the envelope still holds for the grant: a tranche cancelled earlier (alone, or by
        # a termination) was released then, and must not be released twice.
        live = [tranche.amount for tranche in tranches if tranche.status != Tranche.Status.CANCELLED]
        release(call, sum(live, Decimal("0")), laureates=1)
        grant.status = Grant.Status.CANCELLED
        grant.save(update_fields=["status"])
        Tranche.objects.filter(grant=grant).update(status=Tranche.Status.CANCELLED)
        # Its agreement, signed or not, carries out a decision that no longer stands.
        if agreement is not None and agreement.status not in (
            Agreement.Status.COMPLETED,
            Agreement.Status.TERMINATED,
        ):
            agreement.status = Agreement.Status.CANCELLED
            agreement.terminated_at = timezone.now()
            agreement.termination_reason = reason.strip()
            agreement.save(update_fields=["status", "terminated_at", "termination_reason"])
    change = transition(application=application, to_status=S.IN_REVIEW, actor=actor, note=reason.strip())
    _reopen_emails(application, change, reason.strip(), grant, agreement)
    audit_record(actor=actor, action="decision.reopen", target=application, data={"reason": reason.strip()})
    return change


@dataclass(frozen=True)
class BulkResult:
    reference: str
    done: bool
    message: str


@dataclass(frozen=True)
class BulkPreviewRow:
    """What a bulk decision would do to one dossier: its award's figures, or why it would be refused."""

    application: Application
    preview: AwardPreview | None
    refusal: str
    # The envelope of the dossier's call once this award and those listed before it are committed.
    remaining_after: Decimal | None = None

    @property
    def done(self) -> bool:
        return not self.refusal


def _error_text(error: ValidationError | PermissionDenied) -> str:
    messages = error.messages if isinstance(error, ValidationError) else [str(error)]
    return " ".join(str(message) for message in messages)


def decisions_bulk_preview(
    *,
    applications: Iterable[Application],
    decision: str,
    actor: User,
    reasons: str = "",
    amount: Decimal | None = None,
) -> list[BulkPreviewRow]:
    """What `decisions_bulk` would do, dossier by dossier and in its order, without writing.

    An award is previewed by `award_preview` (bounds, cap, eligibility, envelope), and the
    envelope is counted down across the list: a dossier the remainder no longer covers is shown
    as refused, as the bulk decision would refuse it.
    """
    rows: list[BulkPreviewRow] = []
    remaining: dict[int, Decimal] = {}
    for application in applications:
        try:
            if decision == "award":
                asked = sum(application.budget_years.values_list("requested", flat=True), Decimal("0"))
                preview = award_preview(application=application, amount=amount or asked, actor=actor)
                left = remaining.setdefault(
                    application.call_id, Call.objects.get(pk=application.call_id).remaining_amount
                )
                total = preview.amount + preview.bonus
                if total > left:
                    raise ValidationError(
                        _(
                            "L'enveloppe de l'appel n'a plus que %(remaining)s disponibles : %(amount)s ne "
                            "peuvent pas être engagés."
                        )
                        % {"remaining": format_money(left), "amount": format_money(total)},
                        code="envelope",
                    )
                remaining[application.call_id] = left - total
                rows.append(BulkPreviewRow(application, preview, "", left - total))
                continue
            if decision not in ("refuse", "close"):
                raise ValidationError(_("Décision inconnue."))
            decision_check(application=application, actor=actor)
            if not reasons.strip():
                raise ValidationError(
                    _("Une décision de refus doit être motivée.")
                    if decision == "refuse"
                    else _("Indiquez pourquoi le dossier est classé sans suite.")
                )
            rows.append(BulkPreviewRow(application, None, ""))
        except (ValidationError, PermissionDenied) as error:
            rows.append(BulkPreviewRow(application, None, _error_text(error)))
    return rows


def decisions_bulk(
    *,
    applications: Iterable[Application],
    decision: str,
    actor: User,
    reasons: str = "",
    amount: Decimal | None = None,
) -> list[BulkResult]:
    """Apply one decision to several dossiers; each succeeds or fails alone, with its reason."""
    results = []
    for application in applications:
        try:
            with transaction.atomic():
                if decision == "award":
                    asked = sum(application.budget_years.values_list("requested", flat=True), Decimal("0"))
                    application_award(application=application, amount=amount or asked, actor=actor)
                elif decision == "refuse":
                    application_refuse(application=application, reasons=reasons, actor=actor)
                elif decision == "close":
                    application_close(application=application, reason=reasons, actor=actor)
                else:
                    raise ValidationError(_("Décision inconnue."))
        except (ValidationError, PermissionDenied) as error:
            messages = error.messages if isinstance(error, ValidationError) else [str(error)]
            results.append(BulkResult(application.reference, False, " ".join(str(m) for m in messages)))
        else:
            results.append(BulkResult(application.reference, True, _("Décision enregistrée.")))
    return results
