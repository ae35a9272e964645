"""A computed scenario's states: one table, one funnel (core.workflow), as the background exports.

    queued ──> running ──> done
       │         │ └─────> failed
       │         └──> queued   (the sweep, when its worker died)
       └──> failed              (the sweep, after MAX_ATTEMPTS starts)

A scenario built by hand is created « prêt » and never moves.
"""

from typing import Any

from django.utils.translation import gettext_lazy

from accounts.models import User
from allocation.models import Scenario, ScenarioChange
from core.workflow import Machine

S = Scenario.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.RUNNING, S.FAILED}),
    S.RUNNING: frozenset({S.DONE, S.FAILED, S.QUEUED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset(),
}

REFUSAL = gettext_lazy("Un scénario « %(from)s » ne peut pas passer à l'état « %(to)s ».")
MACHINE = Machine(Scenario, TRANSITIONS, ScenarioChange, REFUSAL)


def transition(
    *, scenario: Scenario, to_status: str, note: str = "", actor: User | None = None, **fields: Any
) -> Scenario:
    """Move a scenario under its row lock, with `fields` saved alongside, and log it. Inside the
    caller's transaction; `actor` is None when the worker or the sweep moves it."""
    change = MACHINE.move(row=scenario, to_status=to_status, actor=actor, note=note, **fields)
    return change.scenario
