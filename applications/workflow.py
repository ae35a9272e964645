"""The dossier's states and the moves allowed between them: one table, read by one funnel.

Public verbs (application_submit, application_withdraw, and the review's verbs) add their own
guards, then call `transition`, which locks the row, checks this table, saves and logs the move.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application, StatusChange

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


def can_move(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def transition(
    *,
    application: Application,
    to_status: str,
    actor: User | None,
    note: str = "",
) -> StatusChange:
    """Move a dossier to `to_status` under a row lock, and write the status-change row.

    Must run inside the caller's transaction, which also writes the move's notifications (rows).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transition() must run inside a transaction")
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if not can_move(locked.status, to_status):
        raise ValidationError(
            _("Un dossier « %(from)s » ne peut pas passer à l'état « %(to)s ».")
            % {"from": S(locked.status).label, "to": S(to_status).label},
            code="invalid_transition",
        )
    change = StatusChange.objects.create(
        application=locked,
        from_status=locked.status,
        to_status=to_status,
        actor=actor,
        note=note,
        at=timezone.now(),
    )
    locked.status = to_status
    update_fields = ["status", "updated_at"]
    if to_status == S.SUBMITTED:
        locked.submitted_at = change.at
        update_fields.append("submitted_at")
    locked.save(update_fields=update_fields)
    application.status = locked.status
    application.submitted_at = locked.submitted_at
    return change
