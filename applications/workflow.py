"""The dossier's states and the moves allowed between them: one table, read by one funnel.

Public verbs (application_submit, application_withdraw, and the review's verbs) add their own
guards, then call `transition`, which locks the row, checks this table, saves and logs the move
(the mechanics are core.workflow's, shared by every state machine of the portal).
"""

from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import User
from applications.models import Application, StatusChange
from core.workflow import Machine

S = Application.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.IN_REVIEW, S.WITHDRAWN, S.CLOSED}),
    S.IN_REVIEW: frozenset({S.CORRECTIONS, S.AWARDED, S.REFUSED, S.CLOSED, S.WITHDRAWN}),
    S.CORRECTIONS: frozenset({S.SUBMITTED, S.WITHDRAWN, S.CLOSED}),
    # A decided dossier goes back to review only through application_reopen (admins, with a reason).
    S.AWARDED: frozenset({S.IN_REVIEW}),
    S.REFUSED: frozenset({S.IN_REVIEW}),
    S.CLOSED: frozenset({S.IN_REVIEW}),
    S.WITHDRAWN: frozenset(),
}

# The applicant may change the dossier only in these states.
EDITABLE_STATES = frozenset({S.DRAFT, S.CORRECTIONS})
# The states an instructor sees; a draft belongs to its applicant alone.
REVIEWABLE_STATES = frozenset({S.SUBMITTED, S.IN_REVIEW, S.CORRECTIONS})
DECIDED_STATES = frozenset({S.AWARDED, S.REFUSED, S.CLOSED})


# A draft's fields may be incomplete (the submission checks completeness): no `full_clean` here.
REFUSAL = gettext_lazy("Un dossier « %(from)s » ne peut pas passer à l'état « %(to)s ».")
MACHINE = Machine(Application, TRANSITIONS, StatusChange, REFUSAL, stamps=("updated_at",), validate=False)
can_move = MACHINE.can_move


def transition(
    *,
    application: Application,
    to_status: str,
    actor: User | None,
    note: str = "",
    corrections_due_on: date | None = None,
) -> StatusChange:
    """Move a dossier to `to_status` under a row lock, and write the status-change row.

    Must run inside the caller's transaction, which also writes the move's notifications (rows).
    The verbs write their own audit rows, under their own actions (`decision.award`...).

    The due date of corrections is saved with every move: the request for corrections sets it,
    any other move clears it (answered, withdrawn, closed), so that no path leaves a stale date
    (a CHECK constraint on the dossier backs this).
    """
    if corrections_due_on is not None and to_status != S.CORRECTIONS:
        raise ValueError("only a request for corrections has a due date")
    at = timezone.now()
    stamped: dict[str, Any] = {"corrections_due_on": corrections_due_on}
    if to_status == S.SUBMITTED:
        stamped["submitted_at"] = at
    return MACHINE.move(
        row=application,
        to_status=to_status,
        actor=actor,
        note=note,
        at=at,
        **stamped,
    )
