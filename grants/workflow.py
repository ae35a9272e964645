"""The money's states and the moves allowed between them: one table per machine, one funnel each.

Three machines hold the money's states: the grant (`Grant.Status`), its agreement
(`Agreement.Status`) and its tranches (`Tranche.Status`). A payment request has no states of its
own: it is the tranche's « requested » state and the PDF (a `notifications.Document`) written with
it. A fourth machine, the yearly report (`Report.Status`), holds no money but gates it (a tranche
after the first waits for the previous year's reports accepted), and runs on the same funnel.

Public verbs (grants.services.decisions, agreements, payments, reopening, reports) check who acts
and their own rules, with the messages the pages show, then call `grant_transition`,
`agreement_transition`, `tranche_transition` or `report_transition`. The funnel (core.workflow,
shared by every machine of the portal) locks the row in the documented order (the caller holds the
dossier and the call when the envelope moves; the funnel takes the grant, then the row: re-taking a
lock already held costs nothing; a report is locked alone), checks the table, saves the status with
the fields the move sets (`update_fields`), writes the log row (who, when, from, to, note) and the
audit row. A move that cascades (a reopening cancelling the grant, its tranches and its agreement; a
termination cancelling the unpaid tranches) goes through the funnel of each row it moves, declared
here as the machine's `cascade`; the last payment completing the agreement is the payment verb's
own rule. `tests/grants/test_workflow.py` fails if any other module writes these statuses.
"""

from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.services import audit_record
from core.formatting import format_date
from core.workflow import Machine, Move
from grants.models import (
    Agreement,
    AgreementStatusChange,
    Grant,
    GrantStatusChange,
    Report,
    ReportKind,
    ReportStatusChange,
    Tranche,
    TrancheStatusChange,
)

G = Grant.Status
A = Agreement.Status
T = Tranche.Status
R = Report.Status

# The grant machine. The award creates the grant « en cours » (application_award), which it stays
# through its agreement's life, a termination included (what was paid stays committed; the unpaid
# tranches are cancelled and released). Reopening the decision cancels it (application_reopen,
# refused once a tranche is paid); a cancelled grant stays on record, final, and a new award
# creates a new grant.
GRANT_TRANSITIONS: dict[str, frozenset[str]] = {
    G.ACTIVE: frozenset({G.CANCELLED}),
    G.CANCELLED: frozenset(),
}

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

# The report machine: filed « déposé » (report_upload creates it so, and replaces it while it is),
# then examined once by the instruction, accepted or sent back with a note. Both are final: a report
# sent back stays on record as it was, and the beneficiary files a new one (a new row).
REPORT_TRANSITIONS: dict[str, frozenset[str]] = {
    R.SUBMITTED: frozenset({R.ACCEPTED, R.REJECTED}),
    R.ACCEPTED: frozenset(),
    R.REJECTED: frozenset(),
}


def _tranche_label(status: str) -> str:
    return str(T(status).label)


def _explain_tranche_refusal(tranche: Tranche, to_status: str) -> None:
    """The tranche machine's refusals in the words of the usual cases; the others fall through to
    the machine's generic sentence."""
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
        return
    raise ValidationError(message, code="state")


def _explain_report_refusal(report: Report, to_status: str) -> None:
    """A report examined already is refused in the words the pages have always shown."""
    if report.status in (R.ACCEPTED, R.REJECTED):
        message = _("Ce rapport a déjà été examiné (« %(status)s »).") % {
            "status": report.get_status_display()
        }
        raise ValidationError(message, code="state")


def _lock_grant_first(row: Agreement | Tranche) -> None:
    """Lock the grant before its agreement or tranche: the documented order (dossier, call, grant,
    agreement, tranches), whose first links the caller holds when the envelope moves."""
    list(Grant.objects.select_for_update().filter(pk=row.grant_id).values_list("pk", flat=True))


def _cancel_tranches(move: Move[Any, Any], *, statuses: frozenset[str], **fields: Any) -> None:
    """Cancel the grant's tranches in `statuses` through their funnel, each move logged and audited
    with the reason and what started it."""
    grant_id = move.row.pk if isinstance(move.row, Grant) else move.row.grant_id
    tranches = Tranche.objects.filter(grant_id=grant_id, status__in=statuses).order_by("year_index")
    for tranche in tranches:
        move.follow(TRANCHE, tranche, T.CANCELLED, "tranche.cancel", **fields)


def _cascade_grant_cancelled(move: Move[Grant, GrantStatusChange]) -> None:
    """A cancelled grant takes its live tranches with it (a tranche cancelled earlier stays as it
    was; a paid one is refused by its funnel, as the reopening refuses it first), then its
    agreement, signed or not, which carries out a decision that no longer stands."""
    _cancel_tranches(move, statuses=frozenset(set(T) - {T.CANCELLED}))
    agreement = Agreement.objects.filter(grant=move.row).first()
    if agreement is not None and agreement.status not in (A.COMPLETED, A.TERMINATED, A.CANCELLED):
        fields = {"terminated_at": timezone.now(), "termination_reason": move.note}
        move.follow(AGREEMENT, agreement, A.CANCELLED, "agreement.cancel", **fields)


def _cascade_agreement_terminated(move: Move[Agreement, AgreementStatusChange]) -> None:
    """A terminated agreement cancels the grant's tranches not paid yet, with the reason."""
    unpaid = frozenset({T.SCHEDULED, T.REQUESTED, T.VALIDATED})
    _cancel_tranches(move, statuses=unpaid, cancel_reason=move.note)


# The funnels' last word, for a move no verb offers: the verbs say why in their own words first.
GRANT_REFUSAL = gettext_lazy(
    "La subvention du dossier %(reference)s est « %(from)s » : elle ne peut pas passer à l'état « %(to)s »."
)
AGREEMENT_REFUSAL = gettext_lazy(
    "La convention %(number)s est « %(from)s » : elle ne peut pas passer à l'état « %(to)s »."
)
TRANCHE_REFUSAL = gettext_lazy(
    "La tranche de l'année %(year)d ne peut pas passer de « %(from)s » à « %(to)s »."
)
REPORT_REFUSAL = gettext_lazy(
    "Le %(kind)s de l'année %(year)d est « %(from)s » : il ne peut pas passer à l'état « %(to)s »."
)

# Every money move is audited, and refused with the code the pages read as a state error.
money_machine = partial(Machine, refusal_code="state", auditor=audit_record)
GRANT: Machine[Grant, GrantStatusChange] = money_machine(
    Grant,
    GRANT_TRANSITIONS,
    GrantStatusChange,
    GRANT_REFUSAL,
    cascade={G.CANCELLED: _cascade_grant_cancelled},
    refusal_context=lambda grant: {"reference": grant.application.reference},
)
AGREEMENT: Machine[Agreement, AgreementStatusChange] = money_machine(
    Agreement,
    AGREEMENT_TRANSITIONS,
    AgreementStatusChange,
    AGREEMENT_REFUSAL,
    lock_first=_lock_grant_first,
    refusal_context=lambda agreement: {"number": agreement.number},
    cascade={A.TERMINATED: _cascade_agreement_terminated},
)
TRANCHE: Machine[Tranche, TrancheStatusChange] = money_machine(
    Tranche,
    TRANCHE_TRANSITIONS,
    TrancheStatusChange,
    TRANCHE_REFUSAL,
    refusal_context=lambda tranche: {"year": tranche.year_index},
    explain=_explain_tranche_refusal,
    lock_first=_lock_grant_first,
)

# The report funnel locks the report alone: it moves no money, and an accepted report never goes
# back, so the tranche request that reads it (under the grant's lock) needs no lock on it.
REPORT: Machine[Report, ReportStatusChange] = money_machine(
    Report,
    REPORT_TRANSITIONS,
    ReportStatusChange,
    REPORT_REFUSAL,
    refusal_context=lambda report: {
        "kind": str(ReportKind(report.kind).label).lower(),
        "year": report.year_index,
    },
    explain=_explain_report_refusal,
)

# Refuse any move that is not in the tranche machine, with a message for the usual cases.
ensure_tranche_can_move = TRANCHE.ensure_can_move
# Refuse a review of a report examined already, before the review's own checks.
ensure_report_can_move = REPORT.ensure_can_move


# The funnels of the four machines (`core.workflow.Machine.move`): `actor`, `action`, `note`,
# `data`, and the fields the move saves alongside. Each must run inside the caller's transaction.
def grant_transition(*, grant: Grant, to_status: str, **move: Any) -> GrantStatusChange:
    """Cancelling a grant cascades to its tranches and its agreement."""
    return GRANT.move(row=grant, to_status=to_status, **move)


def agreement_transition(*, agreement: Agreement, to_status: str, **move: Any) -> AgreementStatusChange:
    """Terminating an agreement cascades to its unpaid tranches; the grant is locked first."""
    return AGREEMENT.move(row=agreement, to_status=to_status, **move)


def tranche_transition(*, tranche: Tranche, to_status: str, **move: Any) -> TrancheStatusChange:
    """The grant is locked first (the documented order)."""
    return TRANCHE.move(row=tranche, to_status=to_status, **move)


def report_transition(*, report: Report, to_status: str, **move: Any) -> ReportStatusChange:
    """The report is locked alone (see REPORT)."""
    return REPORT.move(row=report, to_status=to_status, **move)
