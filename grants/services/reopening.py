"""Reopening a decided dossier: an admin sends it back to review, with a reason.

An award's grant is cancelled with its agreement and its tranches not paid, and what the envelope
still holds for it is released, under the locks every write on money takes (the dossier, its
call, then the grant, its agreement and its tranches: `grants.services.envelope`). The
lead structure's legal representative and the assigned instructors are told by e-mails written
in the same transaction; `reopen_preview` gives the recap shown before, by the same rules.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from applications.models import Application, Call, Message, StatusChange
from applications.selectors import dossier_recipients
from applications.workflow import DECIDED_STATES, transition
from core.formatting import format_money
from core.links import absolute_url
from grants.models import Agreement, Grant, Tranche
from grants.services.envelope import envelope_release, lock_dossier_and_envelope
from grants.services.recipients import representative_recipients
from grants.workflow import grant_transition
from notifications.services import email_queue

S = Application.Status


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
        instructors=dossier_recipients(application, side=Message.Side.INSTRUCTION),
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
    instructors = dossier_recipients(application, side=Message.Side.INSTRUCTION)
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
                "link": absolute_url("applications:review-detail", reference=application.reference),
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
    application, call = lock_dossier_and_envelope(application)
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
        envelope_release(call=call, application=application, amount=sum(live, Decimal("0")), laureates=1)
        # The grant's funnel cascades to its live tranches and its agreement, signed or not, which
        # carries out a decision that no longer stands (grants.workflow), each move logged and audited.
        grant_transition(
            grant=grant,
            to_status=Grant.Status.CANCELLED,
            actor=actor,
            action="grant.cancel",
            note=reason.strip(),
            data={"reason": reason.strip(), "by": "decision.reopen"},
        )
    change = transition(application=application, to_status=S.IN_REVIEW, actor=actor, note=reason.strip())
    _reopen_emails(application, change, reason.strip(), grant, agreement)
    audit_record(actor=actor, action="decision.reopen", target=application, data={"reason": reason.strip()})
    return change
