"""Writes of the allocation scenarios: built by hand, or computed (at once when small, else by a
worker), each with its audit row.

A scenario is a proposal: it commits nothing. Its checks are those the awards will make again under
their locks (the bounds, the envelope, the eligibility), so that a scenario that is saved can be
applied as it stands when nothing has moved since.
"""

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.services import audit_record
from allocation import solver
from allocation.messages import refusal_messages
from allocation.models import Scenario, ScenarioItem, ScenarioPin
from allocation.selectors import (
    budget_groups_for,
    candidate_rows,
    problem_for_call,
    remaining_target,
    scenario_items,
)
from allocation.workflow import transition
from applications.models import Application, Call, Wave
from core.background_jobs import JobKind
from core.formatting import format_money
from grants.models import CommitteeSession

logger = logging.getLogger(__name__)

NOT_CANDIDATE = gettext_lazy(
    "Le dossier %(reference)s n'est pas candidat : il doit être en instruction, noté et éligible."
)

S = Scenario.Status

# Up to this many candidates the solver runs in the request (well under a second, measured in
# docs/benchmarks.md); above, a worker computes the scenario and the page follows its state.
INLINE_MAX_CANDIDATES = 1500
# The solver's time limit in a worker, within the task's own limits; at the limit, the best
# selection found is kept and its gap to the optimum reported.
SOLVE_TIME_LIMIT = 60.0
SWEEP_GRACE = timedelta(minutes=5)
RUNNING_STALE = timedelta(minutes=10)
MAX_ATTEMPTS = 3


def _send(job_id: str) -> None:
    from allocation.tasks import scenario_compute_task  # the task module imports this one

    scenario_compute_task.delay(job_id)


JOBS = JobKind(
    model=Scenario,
    label="Scenario",
    queued=S.QUEUED,
    running=S.RUNNING,
    grace=SWEEP_GRACE,
    stale_after=RUNNING_STALE,
    max_attempts=MAX_ATTEMPTS,
    send=_send,
)


def _name_check(call: Call, name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Donnez un nom au scénario.")})
    if Scenario.objects.filter(call=call, name=name).exists():
        raise ValidationError({"name": _("Un scénario de cet appel porte déjà ce nom.")})
    return name


def _wave_check(call: Call, wave: Wave | None) -> None:
    if wave is not None and wave.call_id != call.pk:
        raise ValidationError({"wave": _("Cette vague n'appartient pas à l'appel.")})


def _write_items(scenario: Scenario, amounts: Mapping[int, Decimal]) -> None:
    ScenarioItem.objects.bulk_create(
        [ScenarioItem(scenario=scenario, application_id=pk, amount=amount) for pk, amount in amounts.items()]
    )


@transaction.atomic
def scenario_build(
    *,
    call: Call,
    wave: Wave | None,
    name: str,
    amounts: Mapping[int, Decimal],
    budget_groups: Sequence[solver.BudgetGroup] = (),
    actor: User,
) -> Scenario:
    """A scenario built by hand from the ranked list: the dossiers chosen with their amounts.

    Refused, in French and writing nothing: a dossier that is not a candidate (not in review,
    unscored, ineligible, another call or wave), an amount outside the call's bounds or above what
    was asked, a selection over the remaining envelope, a budget group or the target.
    """
    _wave_check(call, wave)
    name = _name_check(call, name)
    if not amounts:
        raise ValidationError({"selected": _("Choisissez au moins un dossier.")})
    rows = {row.id: row for row in candidate_rows(call, wave)}
    errors: list[str] = []
    unknown = [pk for pk in amounts if pk not in rows]
    if unknown:
        references = dict(Application.objects.filter(pk__in=unknown).values_list("pk", "reference"))
        for pk in unknown:
            errors.append(str(NOT_CANDIDATE) % {"reference": references.get(pk, str(pk))})
    problem = problem_for_call(call, wave=wave, budget_groups=budget_groups, rows=list(rows.values()))
    by_id = {candidate.id: candidate for candidate in problem.candidates}
    for pk, amount in amounts.items():
        if pk not in rows:
            continue
        high = solver.upper_amount(problem, by_id[pk])
        if not problem.min_amount <= amount <= high:
            errors.append(
                _("Le montant du dossier %(reference)s doit être compris entre %(min)s et %(max)s.")
                % {
                    "reference": rows[pk].reference,
                    "min": format_money(problem.min_amount),
                    "max": format_money(high),
                }
            )
    if errors:
        raise ValidationError({"selected": errors})
    total = sum((amount + rows[pk].bonus for pk, amount in amounts.items()), Decimal("0"))
    if total > problem.envelope:
        errors.append(
            _("La sélection coûte %(total)s, plus que les %(remaining)s restant dans l'enveloppe.")
            % {"total": format_money(total), "remaining": format_money(problem.envelope)}
        )
    for group in problem.budget_groups:
        in_group = sum(
            (
                amount + rows[pk].bonus
                for pk, amount in amounts.items()
                if rows[pk].departement in group.departements
            ),
            Decimal("0"),
        )
        if in_group > group.remaining:
            errors.append(
                _(
                    "La sélection coûte %(total)s dans « %(group)s », "
                    "plus que les %(remaining)s qui y restent."
                )
                % {
                    "total": format_money(in_group),
                    "group": group.name,
                    "remaining": format_money(group.remaining),
                }
            )
    if len(amounts) > problem.target:
        errors.append(
            _("La sélection compte %(count)d dossiers, plus que les %(target)d lauréats restant à désigner.")
            % {"count": len(amounts), "target": problem.target}
        )
    if errors:
        raise ValidationError({"selected": errors})
    covered = set(problem.funded_departements) | {rows[pk].departement for pk in amounts}
    scenario = Scenario(
        call=call,
        wave=wave,
        name=name,
        kind=Scenario.Kind.MANUAL,
        status=S.DONE,
        target=problem.target or None,
        total=total,
        departements_covered=len(covered),
        priority_zone_dossiers=sum(1 for pk in amounts if rows[pk].priority_zone),
        score_sum=sum((rows[pk].score for pk in amounts), Decimal("0")),
        candidate_count=len(rows),
        created_by=actor,
        finished_at=timezone.now(),
    )
    scenario.full_clean()
    scenario.save()
    _write_items(scenario, amounts)
    audit_record(
        actor=actor,
        action="scenario.build",
        target=scenario,
        data={"call": call.slug, "dossiers": len(amounts), "total": str(total)},
    )
    return scenario


def _enqueue(job_id: UUID | str) -> bool:
    """Hand the scenario's computation to the broker; note on the row when the broker cannot be reached."""
    return JOBS.enqueue(job_id)


@transaction.atomic
def scenario_compute_request(
    *,
    call: Call,
    wave: Wave | None,
    name: str,
    order: Sequence[str],
    min_score: Decimal | None,
    target: int | None,
    reducible: bool,
    pins: Mapping[int, str] | None = None,
    actor: User,
) -> Scenario:
    """Ask for a computed scenario: its row (queued) with its parameters and pinned dossiers,
    audited. A small call is solved at once, in this transaction; a large one by a worker, queued
    after commit."""
    _wave_check(call, wave)
    name = _name_check(call, name)
    if sorted(order) != sorted(objective.value for objective in solver.Objective) or len(order) != 3:
        raise ValidationError({"order": _("Classez les trois objectifs, chacun une fois.")})
    if target is not None and target < 1:
        raise ValidationError({"target": _("Le nombre de lauréats visé est d'au moins un.")})
    pins = dict(pins or {})
    candidate_ids = set(candidate_rows_ids(call, wave))
    outside = [pk for pk in pins if pk not in candidate_ids]
    if outside:
        references = dict(Application.objects.filter(pk__in=outside).values_list("pk", "reference"))
        raise ValidationError(
            {"pins": [str(NOT_CANDIDATE) % {"reference": references.get(pk, str(pk))} for pk in outside]}
        )
    scenario = Scenario(
        call=call,
        wave=wave,
        name=name,
        kind=Scenario.Kind.COMPUTED,
        status=S.QUEUED,
        objective_order=list(order),
        min_score=min_score,
        target=target,
        reducible=reducible,
        candidate_count=len(candidate_ids),
        created_by=actor,
    )
    scenario.full_clean()
    scenario.save()
    ScenarioPin.objects.bulk_create(
        [ScenarioPin(scenario=scenario, application_id=pk, choice=choice) for pk, choice in pins.items()]
    )
    audit_record(
        actor=actor,
        action="scenario.compute_request",
        target=scenario,
        data={
            "call": call.slug,
            "wave": wave.number if wave else None,
            "order": list(order),
            "min_score": str(min_score) if min_score is not None else None,
            "target": target,
            "reducible": reducible,
            "pins": {str(pk): choice for pk, choice in pins.items()},
        },
    )
    if len(candidate_ids) <= INLINE_MAX_CANDIDATES:
        scenario_compute(scenario_id=scenario.pk, time_limit=10.0)
        scenario.refresh_from_db()
    else:
        # robust: a refused publication leaves the row queued for the sweep; the request stands.
        transaction.on_commit(lambda: _enqueue(scenario.pk), robust=True)
    return scenario


def candidate_rows_ids(call: Call, wave: Wave | None) -> list[int]:
    return [row.id for row in candidate_rows(call, wave)]


def _start(scenario_id: UUID | str) -> Scenario | None:
    with transaction.atomic():
        scenario = Scenario.objects.select_for_update().filter(pk=scenario_id).first()
        if scenario is None or scenario.status in (S.DONE, S.FAILED):
            return None
        if scenario.status == S.RUNNING:
            return scenario
        return transition(
            scenario=scenario,
            to_status=S.RUNNING,
            started_at=timezone.now(),
            attempts=scenario.attempts + 1,
            waiting_for_queue=False,
        )


def scenario_problem(scenario: Scenario, *, time_limit: float = SOLVE_TIME_LIMIT) -> solver.Problem:
    """The solver's input for a computed scenario, from its parameters and pins."""
    pins = {
        pk: solver.Fixed(choice)
        for pk, choice in ScenarioPin.objects.filter(scenario=scenario).values_list(
            "application_id", "choice"
        )
    }
    return problem_for_call(
        scenario.call,
        wave=scenario.wave,
        budget_groups=budget_groups_for(scenario.call),
        order=[solver.Objective(value) for value in scenario.objective_order] or solver.DEFAULT_ORDER,
        min_score=scenario.min_score,
        target=scenario.target,
        reducible=scenario.reducible,
        pins=pins,
        time_limit=time_limit,
    )


def scenario_compute(*, scenario_id: UUID | str, time_limit: float = SOLVE_TIME_LIMIT) -> None:
    """Solve a computed scenario and save its selection (done), or its refusal (failed).

    Idempotent: a done or failed scenario is left alone; a redelivered task solves again and
    replaces the items of the first, unfinished attempt."""
    scenario = _start(scenario_id)
    if scenario is None:
        return
    problem = scenario_problem(scenario, time_limit=time_limit)
    try:
        solution = solver.solve(problem)
    except solver.ProblemInfeasible as refusal:
        references = dict(
            Application.objects.filter(pk__in=[c.id for c in problem.candidates if c.fixed]).values_list(
                "pk", "reference"
            )
        )
        message = "\n".join(refusal_messages(refusal.reasons, references))
        with transaction.atomic():
            transition(
                scenario=scenario, to_status=S.FAILED, note=message, error=message, finished_at=timezone.now()
            )
        return
    with transaction.atomic():
        ScenarioItem.objects.filter(scenario=scenario).delete()
        _write_items(scenario, solution.selected)
        transition(
            scenario=scenario,
            to_status=S.DONE,
            total=solution.total,
            departements_covered=solution.departements_covered,
            priority_zone_dossiers=solution.priority_zone_dossiers,
            score_sum=solution.score_sum,
            optimal=solution.optimal,
            gap=solution.gap,
            solve_seconds=solution.seconds,
            candidate_count=len(problem.candidates),
            finished_at=timezone.now(),
        )


def _scenario_fail_interrupted(scenario: Scenario, moment: datetime) -> None:
    message = _("Le calcul a été interrompu trop de fois.")
    transition(scenario=scenario, to_status=S.FAILED, note=message, error=message, finished_at=moment)


def scenarios_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Queue again the jobs left queued (the broker was down, a message lost) and those whose
    worker died while running; fail those started MAX_ATTEMPTS times (core.background_jobs)."""
    return JOBS.sweep(
        requeue=lambda scenario: transition(scenario=scenario, to_status=S.QUEUED, note="sweep: worker lost"),
        fail=_scenario_fail_interrupted,
        now=now,
        enqueue=_enqueue,
    )


__all__ = [
    "INLINE_MAX_CANDIDATES",
    "remaining_target",
    "scenario_build",
    "scenario_compute",
    "scenario_compute_request",
    "scenarios_sweep",
]


@transaction.atomic
def scenario_to_agenda(*, scenario: Scenario, session: CommitteeSession, actor: User) -> int:
    """Put a scenario's dossiers, with its amounts, on a committee session's agenda, in place of
    what the agenda held (`grants.services.committees.committee_agenda_set`: all or nothing, each
    refused dossier named). Returns the number of dossiers on the agenda."""
    from grants.services.committees import committee_agenda_set

    if scenario.status != Scenario.Status.DONE:
        raise ValidationError(_("Ce scénario n'a pas de sélection à inscrire."), code="not_done")
    if session.call_id != scenario.call_id or (scenario.wave_id and session.wave_id != scenario.wave_id):
        raise ValidationError(
            {"session": _("Choisissez une séance de l'appel et de la vague du scénario.")}, code="other_call"
        )
    items = scenario_items(scenario)
    rows = committee_agenda_set(session=session, items=items, actor=actor)
    audit_record(
        actor=actor,
        action="scenario.to_agenda",
        target=scenario,
        data={"session": session.pk, "dossiers": len(rows)},
    )
    return len(rows)
