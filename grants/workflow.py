"""The money's states and the moves allowed between them: one table per machine, one funnel each.

Two machines hold the money's states: the agreement (`Agreement.Status`) and its tranches
(`Tranche.Status`). A payment request has no states of its own: it is the tranche's « requested »
state and the PDF (a `notifications.Document`) written with it.

Public verbs (grants.services.agreements, payments, reopening) check who acts and their own rules,
with the messages the pages show, then call `agreement_transition` or `tranche_transition`. The
funnel locks the row in the documented order (the caller holds the dossier and the call when the
envelope moves; the funnel takes the grant, then the row: re-taking a lock already held costs
nothing), checks the table, saves the status with the fields the move sets (`update_fields`),
writes the log row (who, when, from, to, note) and the audit row. A move that cascades (a
termination or a reopening cancelling the tranches, the last payment completing the agreement)
goes through the funnel of each row it moves, never around it; `tests/grants/test_workflow.py`
fails if any other module writes these statuses.
"""

from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from core.formatting import format_date
from grants.models import Agreement, AgreementStatusChange, Grant, Tranche, TrancheStatusChange

A = Agreement.Status
T = Tranche.Status

# The agreement machine. Signed by acceptance or by the signed copy, in force once activated with
# its commitment number; completed once every tranche is settled, or terminated (signed or in
# force); cancelled when the award it carries out is reopened (never once a tranche is paid, which
# application_reopen refuses). The last three are final.
AGREEMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    A.AWAITING_SIGNATURE: frozenset({A.SIGNED, A.CANCELLED}),
    A.SIGNED: frozenset({A.ACTIVE, A.TERMINATED, A.CANCELLED}),
    A.ACTIVE: frozenset({A.COMPLETED, A.TERMINATED, A.CANCELLED}),
    A.COMPLETED: frozenset(),
    A.TERMINATED: frozenset(),
    A.CANCELLED: frozenset(),
}

# The tranche machine: requested by the beneficiary, validated by the instruction, paid by the
# programme; cancelled before it is paid (alone, by a termination or by a reopening). Nothing goes
# back to « scheduled », and a paid or cancelled tranche stays so.
TRANCHE_TRANSITIONS: dict[str, frozenset[str]] = {
    T.SCHEDULED: frozenset({T.REQUESTED, T.CANCELLED}),
    T.REQUESTED: frozenset({T.VALIDATED, T.CANCELLED}),
    T.VALIDATED: frozenset({T.PAID, T.CANCELLED}),
    T.PAID: frozenset(),
    T.CANCELLED: frozenset(),
}


def agreement_can_move(from_status: str, to_status: str) -> bool:
    return to_status in AGREEMENT_TRANSITIONS.get(from_status, frozenset())


def tranche_can_move(from_status: str, to_status: str) -> bool:
    return to_status in TRANCHE_TRANSITIONS.get(from_status, frozenset())


def _tranche_label(status: str) -> str:
    return str(T(status).label)


def ensure_tranche_can_move(tranche: Tranche, to_status: str) -> None:
    """Refuse any move that is not in the tranche machine, with a message for the usual cases."""
    if tranche_can_move(tranche.status, to_status):
        return
    if tranche.status == T.PAID and to_status == T.PAID:
        message = _(
            "La tranche de l'année %(year)d a déjà été versée le %(date)s (référence %(reference)s) : "
            "un second versement est refusé."
        ) % {
            "year": tranche.year_index,
            "date": format_date(tranche.paid_on) if tranche.paid_on else "",
            "reference": tranche.payment_reference,
        }
        raise ValidationError(message, code="already_paid")
    if to_status == T.PAID:
        message = _(
            "Seule une tranche validée peut être versée : la tranche de l'année %(year)d est « %(status)s »."
        ) % {"year": tranche.year_index, "status": _tranche_label(tranche.status)}
    elif to_status == T.VALIDATED:
        message = _(
            "Seule une tranche demandée peut être validée : "
            "la tranche de l'année %(year)d est « %(status)s »."
        ) % {"year": tranche.year_index, "status": _tranche_label(tranche.status)}
    elif to_status == T.CANCELLED and tranche.status == T.PAID:
        message = _("La tranche de l'année %(year)d est versée : elle ne peut plus être annulée.") % {
            "year": tranche.year_index
        }
    elif to_status == T.CANCELLED:
        message = _("La tranche de l'année %(year)d est déjà annulée.") % {"year": tranche.year_index}
    else:
        message = _("La tranche de l'année %(year)d ne peut pas passer de « %(from)s » à « %(to)s ».") % {
            "year": tranche.year_index,
            "from": _tranche_label(tranche.status),
            "to": _tranche_label(to_status),
        }
    raise ValidationError(message, code="state")


def ensure_agreement_can_move(agreement: Agreement, to_status: str) -> None:
    """Refuse any move that is not in the agreement machine. The verbs say why in their own words
    first; this is the funnel's last word, for a move no verb offers."""
    if agreement_can_move(agreement.status, to_status):
        return
    raise ValidationError(
        _("La convention %(number)s est « %(from)s » : elle ne peut pas passer à l'état « %(to)s ».")
        % {"number": agreement.number, "from": A(agreement.status).label, "to": A(to_status).label},
        code="state",
    )


Row = TypeVar("Row", Agreement, Tranche)


def _lock(row: Row) -> Row:
    """Lock the grant, then the row: the documented order (dossier, call, grant, agreement,
    tranches), whose first links the caller holds when the envelope moves."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a money transition must run inside a transaction")
    list(Grant.objects.select_for_update().filter(pk=row.grant_id).values_list("pk", flat=True))
    return type(row).objects.select_for_update().get(pk=row.pk)


def _apply(row: models.Model, locked: models.Model, to_status: str, fields: dict[str, Any]) -> None:
    """Save the status and the fields the move sets on the locked row, then mirror them on the
    caller's copy (which may be stale or carry unsaved values)."""
    locked.status = to_status  # type: ignore[attr-defined]
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean()
    update_fields = ["status", *fields]
    locked.save(update_fields=update_fields)
    for name in update_fields:
        setattr(row, name, getattr(locked, name))


def agreement_transition(
    *,
    agreement: Agreement,
    to_status: str,
    actor: User | None,
    action: str,
    note: str = "",
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> AgreementStatusChange:
    """Move an agreement to `to_status` with `fields` saved alongside; log it and audit it
    (`action`, `data`). Must run inside the caller's transaction."""
    locked = _lock(agreement)
    ensure_agreement_can_move(locked, to_status)
    change = AgreementStatusChange.objects.create(
        agreement=locked,
        from_status=locked.status,
        to_status=to_status,
        actor=actor,
        note=note,
        at=timezone.now(),
    )
    _apply(agreement, locked, to_status, fields)
    audit_record(
        actor=actor,
        action=action,
        target=locked,
        data={**(data or {}), "from": change.from_status, "to": to_status},
    )
    return change


def tranche_transition(
    *,
    tranche: Tranche,
    to_status: str,
    actor: User | None,
    action: str,
    note: str = "",
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> TrancheStatusChange:
    """Move a tranche to `to_status` with `fields` saved alongside; log it and audit it
    (`action`, `data`). Must run inside the caller's transaction."""
    locked = _lock(tranche)
    ensure_tranche_can_move(locked, to_status)
    change = TrancheStatusChange.objects.create(
        tranche=locked,
        from_status=locked.status,
        to_status=to_status,
        actor=actor,
        note=note,
        at=timezone.now(),
    )
    _apply(tranche, locked, to_status, fields)
    audit_record(
        actor=actor,
        action=action,
        target=tranche,
        data={**(data or {}), "from": change.from_status, "to": to_status},
    )
    return change
