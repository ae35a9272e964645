"""Payments of a grant: the yearly tranches, from the beneficiary's request to the payment.

A tranche moves scheduled → requested → validated → paid, and may be cancelled before it is paid
(`grants.workflow.TRANCHE_TRANSITIONS`; its funnel `tranche_transition` makes every move). The
beneficiary (a member of the lead structure) requests it with the IBAN of the account to credit:
the payment request is a PDF (a `notifications.Document` row) written in the request's
transaction. The territory's instructor validates it, a programme admin records the payment (date
and reference); the State pays within 60 days of the request (`Tranche.pay_by`).

Locks are taken grant, agreement, then tranche (the order of grants.services.agreements). Who may
act is a PermissionDenied; what may not be done is a ValidationError with a French message, and
nothing is written.
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import stdnum.exceptions
import stdnum.iban
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from applications.models import Member
from applications.services.review import ensure_no_conflict, ensure_reviewer
from core.formatting import format_date, format_money
from grants.models import Agreement, Grant, Report, ReportKind, Tranche
from grants.services.agreements import lead_organisation
from grants.services.document_contexts import PaymentRequestContext
from grants.services.envelope import envelope_release, lock_dossier_and_envelope
from grants.services.establishment_checks import CheckResult, lead_establishment_check
from grants.services.notify import tranche_paid_notify
from grants.services.recipients import representative_recipients
from grants.workflow import agreement_transition, ensure_tranche_can_move, tranche_transition
from notifications.services import document_request, email_queue

T = Tranche.Status

PAYMENT_REQUEST_TEMPLATE = "pdf/payment_request.html"

# A previous tranche in one of these states no longer holds the next one back.
REQUESTED_OR_LATER = frozenset({T.REQUESTED, T.VALIDATED, T.PAID, T.CANCELLED})
SETTLED = frozenset({T.PAID, T.CANCELLED})
OPEN_AGREEMENT = (Agreement.Status.SIGNED, Agreement.Status.ACTIVE)


# --- who --------------------------------------------------------------------------------------


def is_beneficiary(user: User, grant: Grant) -> bool:
    """A member of the lead structure of the grant's dossier (the beneficiary of the grant)."""
    return (
        user.is_authenticated
        and Member.objects.filter(
            application_id=grant.application_id, is_lead=True, organisation__memberships__user=user
        ).exists()
    )


def ensure_beneficiary(user: User, grant: Grant, *, admin_too: bool = False) -> None:
    if admin_too and has_role(user, Role.ADMIN):
        return
    if not is_beneficiary(user, grant):
        raise PermissionDenied(
            _("Seul un membre de la structure cheffe de file peut agir pour cette subvention.")
        )


def ensure_admin(user: User) -> None:
    if not has_role(user, Role.ADMIN):
        raise PermissionDenied(_("Cette action est réservée aux administrateurs du programme."))


# --- reads shared by the services and the pages -------------------------------------------------


def agreement_of(grant: Grant) -> Agreement | None:
    """The grant's agreement, if one was drawn up (`grant.agreement` raises when there is none)."""
    return Agreement.objects.filter(grant_id=grant.pk).first()


def grant_years(grant: Grant) -> int:
    """How many years the grant (and its agreement) covers: one tranche per year."""
    last = grant.tranches.order_by("-year_index").values_list("year_index", flat=True).first()
    return last or grant.call.duration_years


def iban_compact(value: str) -> str:
    """The IBAN typed by the requester, checked (country format and check digits) and compacted."""
    try:
        return str(stdnum.iban.validate(value or ""))
    except stdnum.exceptions.ValidationError as error:
        raise ValidationError(
            {
                "iban": _(
                    "Cet IBAN n'est pas valide : vérifiez-le sur le RIB de la structure "
                    "(par exemple FR76 3000 6000 0112 3456 7890 189)."
                )
            },
            code="iban",
        ) from error


def iban_masked(value: str) -> str:
    """An IBAN as shown in pages: every character hidden but the last four."""
    compact = stdnum.iban.compact(value or "")
    if len(compact) <= 4:
        return compact
    hidden = "•" * (len(compact) - 4)
    groups = [hidden[max(0, end - 4) : end] for end in range(len(hidden), 0, -4)][::-1]
    return " ".join([*groups, compact[-4:]])


def _label(status: str) -> str:
    return str(T(status).label)


def tranche_request_refusals(
    tranche: Tranche,
    agreement: Agreement | None = None,
    *,
    tranches: list[Tranche] | None = None,
    accepted_reports: set[tuple[int, str]] | None = None,
) -> list[str]:
    """Why the tranche cannot be requested now (empty when it can). Who asks is checked apart.

    A caller that loaded many grants at once (the homes' next steps) passes the grant's
    `tranches` and its accepted reports as (year, kind) pairs, so that no query runs here.
    """
    grant = tranche.grant
    if grant.status != Grant.Status.ACTIVE:
        return [_("Cette subvention est annulée : aucune tranche ne peut être demandée.")]
    if tranche.status != T.SCHEDULED:
        return [
            _("La tranche de l'année %(year)d est « %(status)s » : elle ne peut plus être demandée.")
            % {"year": tranche.year_index, "status": _label(tranche.status)}
        ]
    refusals = []
    agreement = agreement if agreement is not None else agreement_of(grant)
    if agreement is None or agreement.status not in OPEN_AGREEMENT:
        refusals.append(
            _("La convention de cette subvention doit être signée avant toute demande de versement.")
        )
    elif not agreement.commitment_number:
        # The payment request carries the commitment number, given when the programme activates
        # the agreement.
        refusals.append(
            _(
                "La convention n'a pas encore de numéro d'engagement juridique : la demande de "
                "versement sera possible dès son activation par le programme."
            )
        )
    if tranches is not None:
        earlier_years = [
            other.year_index
            for other in sorted(tranches, key=lambda other: other.year_index)
            if other.year_index < tranche.year_index and other.status not in REQUESTED_OR_LATER
        ]
    else:
        earlier_years = list(
            grant.tranches.filter(year_index__lt=tranche.year_index)
            .exclude(status__in=REQUESTED_OR_LATER)
            .values_list("year_index", flat=True)
        )
    for year in earlier_years:
        refusals.append(
            _("Demandez d'abord la tranche de l'année %(previous)d : les tranches se demandent dans l'ordre.")
            % {"previous": year}
        )
    if tranche.year_index >= 2:
        previous = tranche.year_index - 1
        if accepted_reports is not None:
            accepted = {kind for year, kind in accepted_reports if year == previous}
        else:
            accepted = set(
                Report.objects.filter(
                    grant=grant, year_index=previous, status=Report.Status.ACCEPTED
                ).values_list("kind", flat=True)
            )
        missing = [str(kind.label).lower() for kind in ReportKind if kind.value not in accepted]
        if missing:
            # One sentence for the reports still awaited, not one per report.
            refusals.append(
                ngettext(
                    "La tranche de l'année %(year)d se demande une fois le %(kinds)s de l'année "
                    "%(previous)d accepté.",
                    "La tranche de l'année %(year)d se demande une fois le %(kinds)s de l'année "
                    "%(previous)d acceptés.",
                    len(missing),
                )
                % {
                    "year": tranche.year_index,
                    "kinds": _(" et le ").join(missing),
                    "previous": previous,
                }
            )
    return refusals


def _lock_agreement(grant: Grant) -> Agreement | None:
    return Agreement.objects.select_for_update().filter(grant_id=grant.pk).first()


def _lock(tranche: Tranche) -> tuple[Grant, Agreement | None, Tranche]:
    """Lock the grant, its agreement, then the tranche: the order of amendments and terminations
    (grants.services.agreements), so that a payment and a termination never wait on each other."""
    grant = Grant.objects.select_for_update().select_related("application", "call").get(pk=tranche.grant_id)
    agreement = _lock_agreement(grant)
    locked = Tranche.objects.select_for_update().get(pk=tranche.pk)
    locked.grant = grant
    return grant, agreement, locked


def cancellation_settles_agreement(tranche: Tranche) -> bool:
    """Whether cancelling this tranche leaves nothing to pay on an agreement in force, which the
    cancellation then completes (the rule of _complete_agreement_if_settled, read before the act)."""
    others = tranche.grant.tranches.exclude(pk=tranche.pk)
    return (
        not others.exclude(status__in=SETTLED).exists()
        and others.filter(status=T.PAID).exists()
        and Agreement.objects.filter(grant_id=tranche.grant_id, status=Agreement.Status.ACTIVE).exists()
    )


def _complete_agreement_if_settled(grant: Grant, actor: User) -> bool:
    """Once every tranche is paid (or cancelled, at least one paid), the agreement in force is
    completed (soldée), with its audit row like agreement_complete's. True if it was."""
    tranches = grant.tranches.all()
    if tranches.exclude(status__in=SETTLED).exists() or not tranches.filter(status=T.PAID).exists():
        return False
    agreement = Agreement.objects.filter(grant_id=grant.pk, status=Agreement.Status.ACTIVE).first()
    if agreement is None:
        return False
    agreement_transition(
        agreement=agreement,
        to_status=Agreement.Status.COMPLETED,
        actor=actor,
        action="agreement.complete",
        data={"last_tranche": True},
    )
    return True


# --- the verbs ----------------------------------------------------------------------------------


def _payment_request_context(
    grant: Grant, tranche: Tranche, agreement: Agreement, iban: str, actor: User
) -> PaymentRequestContext:
    application = grant.application
    organisation = lead_organisation(application)
    now = timezone.now()
    paid = sum(grant.tranches.filter(status=T.PAID).values_list("amount", flat=True), Decimal("0"))
    pay_by = tranche.pay_by
    return {
        "reference": application.reference,
        "title": application.title,
        "call": grant.call.title,
        **grant.call.letterhead(),
        "date": format_date(timezone.localtime(now)),
        "beneficiary_name": organisation.name if organisation else "",
        "beneficiary_siret": organisation.siret_display if organisation else "",
        "beneficiary_address": (
            f"{organisation.address}, {organisation.postal_code} {organisation.commune_name}"
            if organisation
            else ""
        ),
        "iban": stdnum.iban.format(iban),
        "year": tranche.year_index,
        "years": grant_years(grant),
        "amount": format_money(tranche.amount),
        "grant_amount": format_money(grant.amount),
        "paid_before": format_money(paid),
        "agreement_number": agreement.number,
        "commitment_number": agreement.commitment_number,
        "pay_by": format_date(pay_by) if pay_by else "",
        "requested_by": actor.get_full_name() or actor.email,
        "requested_by_email": actor.email,
    }


@transaction.atomic
def tranche_request(*, tranche: Tranche, iban: str, actor: User) -> Tranche:
    """The beneficiary asks for a tranche: agreement signed, earlier tranches requested, the
    previous year's reports accepted. Writes the payment request PDF with the IBAN typed."""
    grant, agreement, tranche = _lock(tranche)
    ensure_beneficiary(actor, grant, admin_too=True)
    refusals = tranche_request_refusals(tranche, agreement)
    if refusals:
        raise ValidationError(refusals, code="state")
    assert agreement is not None  # noqa: S101 (tranche_request_refusals refuses a missing agreement)
    compact = iban_compact(iban)
    ensure_tranche_can_move(tranche, T.REQUESTED)
    # The request's date and author go into the PDF's context before the move saves them.
    tranche.requested_at = timezone.now()
    tranche.requested_by = actor
    payment_request = document_request(
        key=f"tranche:{tranche.pk}:payment-request",
        kind="payment-request",
        template_name=PAYMENT_REQUEST_TEMPLATE,
        context=_payment_request_context(grant, tranche, agreement, compact, actor),
        filename=f"demande-de-versement-{grant.application.reference}-annee-{tranche.year_index}.pdf",
    )
    tranche_transition(
        tranche=tranche,
        to_status=T.REQUESTED,
        actor=actor,
        action="tranche.request",
        data={"amount": str(tranche.amount), "iban": iban_masked(compact)},
        requested_at=tranche.requested_at,
        requested_by=actor,
        payment_request=payment_request,
    )
    return tranche


def tranche_validate(*, tranche: Tranche, actor: User) -> Tranche:
    """An instructor of the dossier's territory (or an admin) validates a requested tranche.

    The lead structure's establishment is looked up again first, outside the transaction (no
    network call while the grant is locked), once the user and the tranche's state are known to
    allow it; what the directory said is kept on the tranche (grants.services.establishment_checks)."""
    grant = Grant.objects.select_related("application").get(pk=tranche.grant_id)
    ensure_reviewer(actor, grant.application)
    ensure_no_conflict(actor, grant.application)
    ensure_tranche_can_move(Tranche.objects.get(pk=tranche.pk), T.VALIDATED)
    return _tranche_validate(tranche=tranche, actor=actor, check=lead_establishment_check(grant))


@transaction.atomic
def _tranche_validate(*, tranche: Tranche, actor: User, check: CheckResult) -> Tranche:
    grant, _agreement, tranche = _lock(tranche)
    ensure_reviewer(actor, grant.application)
    ensure_no_conflict(actor, grant.application)
    now = timezone.now()
    tranche_transition(
        tranche=tranche,
        to_status=T.VALIDATED,
        actor=actor,
        action="tranche.validate",
        data={"establishment_check": check.status, "establishment_check_note": check.note},
        validated_at=now,
        validated_by=actor,
        establishment_check=check.status,
        establishment_check_note=check.note,
        establishment_checked_at=now if check.status else None,
    )
    return tranche


def _check_payment(tranche: Tranche, paid_on: date | None, payment_reference: str) -> tuple[date, str]:
    """The payment's rules on a tranche; the date and the reference, stripped, if they hold."""
    ensure_tranche_can_move(tranche, T.PAID)
    errors: dict[str, str] = {}
    reference = (payment_reference or "").strip()
    if not reference:
        errors["payment_reference"] = _(
            "Indiquez la référence du paiement (numéro de mandat ou de virement)."
        )
    if paid_on is None:
        errors["paid_on"] = _("Indiquez la date du versement.")
    elif paid_on > timezone.localdate():
        errors["paid_on"] = _("La date du versement ne peut pas être dans le futur.")
    elif tranche.requested_at is not None and paid_on < timezone.localdate(tranche.requested_at):
        errors["paid_on"] = _("La date du versement ne peut pas précéder la demande (%(date)s).") % {
            "date": format_date(timezone.localdate(tranche.requested_at))
        }
    if errors or paid_on is None:
        raise ValidationError(errors)
    return paid_on, reference


def tranche_pay_check(*, tranche: Tranche, paid_on: date | None, payment_reference: str, actor: User) -> bool:
    """The payment's checks without writing (for the recap shown first): True if it settles the grant.

    `tranche_pay` checks everything again under its locks.
    """
    ensure_admin(actor)
    _check_payment(tranche, paid_on, payment_reference)
    others = tranche.grant.tranches.exclude(pk=tranche.pk)
    return not others.exclude(status__in=SETTLED).exists()


@transaction.atomic
def tranche_pay(*, tranche: Tranche, paid_on: date | None, payment_reference: str, actor: User) -> Tranche:
    """An admin records the payment of a validated tranche; the last one completes the agreement."""
    ensure_admin(actor)
    grant, _agreement, tranche = _lock(tranche)
    paid_on, reference = _check_payment(tranche, paid_on, payment_reference)
    tranche_transition(
        tranche=tranche,
        to_status=T.PAID,
        actor=actor,
        action="tranche.pay",
        note=reference,
        data={"paid_on": paid_on.isoformat(), "reference": reference, "amount": str(tranche.amount)},
        paid_on=paid_on,
        payment_reference=reference,
        paid_recorded_by=actor,
    )
    completed = _complete_agreement_if_settled(grant, actor)
    email_queue(
        key=f"tranche:{tranche.pk}:paid-email",
        to=representative_recipients(grant.application),
        subject=_("Versement de la tranche de l'année %(year)d – %(reference)s")
        % {"year": tranche.year_index, "reference": grant.application.reference},
        body=_(
            "Bonjour,\n\nLe versement de %(amount)s au titre de la tranche de l'année %(year)d de la "
            "subvention du projet « %(title)s » (dossier %(reference)s) est enregistré : il a été "
            "effectué le %(date)s sous la référence %(payment_reference)s.\n\n%(completed)s"
            "L'équipe Fabriques de territoires"
        )
        % {
            "completed": _("C'était la dernière tranche : la convention est soldée.\n\n")
            if completed
            else "",
            "amount": format_money(tranche.amount),
            "year": tranche.year_index,
            "title": grant.application.title,
            "reference": grant.application.reference,
            "date": format_date(paid_on),
            "payment_reference": reference,
        },
    )
    tranche_paid_notify(tranche=tranche)
    return tranche


def tranche_cancel_check(*, tranche: Tranche, reason: str, actor: User) -> Decimal:
    """The cancellation's checks without writing (for the recap shown first): the amount it gives
    back to the envelope. `tranche_cancel` checks everything again under its locks."""
    ensure_admin(actor)
    ensure_tranche_can_move(tranche, T.CANCELLED)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("L'annulation d'une tranche doit être motivée.")})
    return tranche.amount if tranche.grant.status == Grant.Status.ACTIVE else Decimal("0")


@transaction.atomic
def tranche_cancel(*, tranche: Tranche, reason: str, actor: User) -> Tranche:
    """An admin cancels a tranche not paid yet, with a reason; its amount goes back to the envelope.

    Locks follow the awards' order: the dossier and the call (the envelope) first, then the grant,
    its agreement and the tranche. The beneficiary's legal representative is told by e-mail.
    """
    ensure_admin(actor)
    application, call = lock_dossier_and_envelope(tranche.grant.application)
    grant, _agreement, tranche = _lock(tranche)
    ensure_tranche_can_move(tranche, T.CANCELLED)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("L'annulation d'une tranche doit être motivée.")})
    tranche_transition(
        tranche=tranche,
        to_status=T.CANCELLED,
        actor=actor,
        action="tranche.cancel",
        note=reason.strip(),
        data={"reason": reason.strip()},
        cancel_reason=reason.strip(),
    )
    if grant.status == Grant.Status.ACTIVE:
        envelope_release(call=call, application=application, amount=tranche.amount)
    completed = _complete_agreement_if_settled(grant, actor)
    email_queue(
        key=f"tranche:{tranche.pk}:cancel-email",
        to=representative_recipients(grant.application),
        subject=_("Annulation de la tranche de l'année %(year)d – %(reference)s")
        % {"year": tranche.year_index, "reference": grant.application.reference},
        body=_(
            "Bonjour,\n\nLa tranche de l'année %(year)d (%(amount)s) de la subvention du projet "
            "« %(title)s » (dossier %(reference)s) est annulée : elle ne sera pas versée.\n\n"
            "Motif :\n%(reason)s\n\n%(completed)sL'équipe Fabriques de territoires"
        )
        % {
            "year": tranche.year_index,
            "amount": format_money(tranche.amount),
            "title": grant.application.title,
            "reference": grant.application.reference,
            "reason": reason.strip(),
            # The last open tranche cancelled settles the agreement, as the last payment does.
            "completed": _("Plus aucune tranche n'est à verser : la convention est soldée.\n\n")
            if completed
            else "",
        },
    )
    return tranche


@transaction.atomic
def schedule_update(
    *, grant: Grant, parts: Sequence[Decimal], due_dates: Sequence[date | None], actor: User
) -> list[Tranche]:
    """An admin changes the amounts and due dates of the tranches still scheduled.

    The parts add up to the grant's amount, each within the call's yearly cap, each due date within
    the agreement's dates when they are known. A tranche already requested, validated, paid or
    cancelled keeps its amount and date. Every error is reported at once; nothing is written.
    """
    ensure_admin(actor)
    grant = Grant.objects.select_for_update().select_related("call", "application").get(pk=grant.pk)
    if grant.status != Grant.Status.ACTIVE:
        raise ValidationError(
            _("Cette subvention est annulée : son échéancier ne change plus."), code="state"
        )
    agreement = _lock_agreement(grant)
    tranches = list(Tranche.objects.select_for_update().filter(grant=grant).order_by("year_index"))
    if len(parts) != len(tranches) or len(due_dates) != len(tranches):
        raise ValidationError(
            {"parts": _("L'échéancier compte une tranche par année (%(n)d).") % {"n": len(tranches)}}
        )
    cap = grant.call.max_per_year
    errors: dict[str, list[str]] = {}
    for tranche, part, due in zip(tranches, parts, due_dates, strict=True):
        year = tranche.year_index
        if tranche.status != T.SCHEDULED:
            if part != tranche.amount or due != tranche.due_date:
                errors.setdefault(f"part_{year}", []).append(
                    _(
                        "La tranche de l'année %(year)d est « %(status)s » : son montant et son échéance "
                        "ne changent plus."
                    )
                    % {"year": year, "status": _label(tranche.status)}
                )
            continue
        if part < 0:
            errors.setdefault(f"part_{year}", []).append(_("Une tranche ne peut pas être négative."))
        elif part != part.quantize(Decimal("0.01")):
            errors.setdefault(f"part_{year}", []).append(_("Un montant a au plus deux décimales."))
        # The first tranche also carries the FNT bonus, which the yearly cap does not count.
        if part - (grant.bonus if year == 1 else Decimal("0")) > cap:
            errors.setdefault(f"part_{year}", []).append(
                _("L'année %(year)d (%(part)s) dépasse le plafond annuel de %(cap)s.")
                % {"year": year, "part": format_money(part), "cap": format_money(cap)}
            )
        if due is None:
            errors.setdefault(f"due_date_{year}", []).append(
                _("Indiquez l'échéance de l'année %(year)d.") % {"year": year}
            )
        elif agreement is not None and agreement.starts_on and due < agreement.starts_on:
            errors.setdefault(f"due_date_{year}", []).append(
                _("L'échéance de l'année %(year)d précède le début de la convention (%(start)s).")
                % {"year": year, "start": format_date(agreement.starts_on)}
            )
        elif agreement is not None and agreement.ends_on and due > agreement.ends_on:
            errors.setdefault(f"due_date_{year}", []).append(
                _("L'échéance de l'année %(year)d dépasse la fin de la convention (%(end)s).")
                % {"year": year, "end": format_date(agreement.ends_on)}
            )
    total = sum(parts, Decimal("0"))
    if total != grant.committed:
        errors.setdefault("parts", []).append(
            _("La somme des tranches (%(sum)s) ne correspond pas au montant de la subvention (%(amount)s).")
            % {"sum": format_money(total), "amount": format_money(grant.committed)}
        )
    if errors:
        raise ValidationError(errors)
    before = [(str(t.amount), t.due_date.isoformat() if t.due_date else None) for t in tranches]
    for tranche, part, due in zip(tranches, parts, due_dates, strict=True):
        if tranche.status != T.SCHEDULED or (tranche.amount, tranche.due_date) == (part, due):
            continue
        tranche.amount = part
        tranche.due_date = due  # checked above: a scheduled tranche without a date was refused
        tranche.full_clean()
        tranche.save(update_fields=["amount", "due_date"])
    audit_record(
        actor=actor,
        action="grant.schedule_update",
        target=grant,
        data={
            "before": before,
            "after": [(str(t.amount), t.due_date.isoformat() if t.due_date else None) for t in tranches],
        },
    )
    return tranches
