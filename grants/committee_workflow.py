"""A committee session's states and the moves allowed between them: one table, read by one funnel.

Prepared (« en préparation »: members and agenda set), convened (the members are called; the
agenda may still change), in session (the decisions are recorded), then applied once every decision
is applied through the decision services (grants.services.committees.committee_apply). A session
is cancelled before it is held, or while held as long as nothing was applied (the service checks
it). Applied and cancelled are final.

The public verbs (grants.services.committees) check who acts and their own rules, then call
`committee_transition`; the funnel (core.workflow) locks the session row, checks this table,
saves, writes the log row (`CommitteeStatusChange`) and the audit row (`committee.<verb>`).
"""

from typing import Any

from django.utils.translation import gettext_lazy

from accounts.services import audit_record
from core.workflow import Machine
from grants.models import CommitteeSession, CommitteeStatusChange

C = CommitteeSession.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    C.DRAFT: frozenset({C.CONVENED, C.CANCELLED}),
    C.CONVENED: frozenset({C.DRAFT, C.HELD, C.CANCELLED}),
    C.HELD: frozenset({C.APPLIED, C.CANCELLED}),
    C.APPLIED: frozenset(),
    C.CANCELLED: frozenset(),
}

# The agenda and the members change before the session only; the decisions are taken in session.
AGENDA_EDITABLE = frozenset({C.DRAFT, C.CONVENED})
DECIDING = frozenset({C.HELD})

REFUSAL = gettext_lazy(
    "La séance « %(title)s » est « %(from)s » : elle ne peut pas passer à l'état « %(to)s »."
)

MACHINE: Machine[CommitteeSession, CommitteeStatusChange] = Machine(
    CommitteeSession,
    TRANSITIONS,
    CommitteeStatusChange,
    REFUSAL,
    refusal_code="state",
    refusal_context=lambda session: {"title": session.title},
    auditor=audit_record,
)
can_move = MACHINE.can_move


def committee_transition(*, session: CommitteeSession, to_status: str, **move: Any) -> CommitteeStatusChange:
    """Move a session (`actor`, `action`, `note`, `data`, and the fields saved alongside).

    Must run inside the caller's transaction."""
    return MACHINE.move(row=session, to_status=to_status, **move)
