"""Scenarios built by hand and computed, their checks, audit rows, items and comparisons."""

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import TestCase
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent
from allocation import solver
from allocation.messages import refusal_message
from allocation.models import Scenario, ScenarioItem
from allocation.selectors import (
    candidate_rows,
    comparison,
    problem_for_call,
    scenario_items,
    selection_of,
    selection_of_solution,
)
from allocation.services import scenario_build, scenario_compute, scenario_compute_request
from applications.models import Application, EligibilityAnswer
from tests.factories import in_review_application

pytestmark = pytest.mark.django_db

FULL = Decimal("150000")


def test_candidates_are_the_eligible_scored_dossiers_in_review(candidates, call):
    rows = candidate_rows(call)
    assert [row.reference for row in rows] == [
        candidates[name].reference for name in ("gers1", "gers2", "landes", "lot")
    ]
    assert [row.priority_zone for row in rows] == [False, False, False, True]
    assert {row.asked for row in rows} == {FULL}
    # Unscored, or an eligibility condition not met: no longer a candidate.
    Application.objects.filter(pk=candidates["gers2"].pk).update(score=None)
    EligibilityAnswer.objects.filter(application=candidates["landes"]).update(satisfied=False)
    assert [row.reference for row in candidate_rows(call)] == [
        candidates["gers1"].reference,
        candidates["lot"].reference,
    ]


def test_problem_builder_takes_the_budget_groups_it_is_given(call):
    group = solver.BudgetGroup("Occitanie", frozenset({"32", "46"}), Decimal("150000"))
    problem = problem_for_call(call, budget_groups=[group])
    assert problem.budget_groups == (group,)
    assert problem.envelope == Decimal("450000")
    assert problem.target == 3
    solution = solver.solve(problem)
    # One dossier only in Occitanie: the Landes and the best of Occitanie's two zones.
    assert len(solution.selected) == 2


def test_computed_scenario_is_solved_at_once_when_small(candidates, call, admin_user):
    scenario = scenario_compute_request(
        call=call,
        wave=None,
        name="Couverture d'abord",
        order=["coverage", "priority", "score"],
        min_score=None,
        target=None,
        reducible=False,
        actor=admin_user,
    )
    assert scenario.status == Scenario.Status.DONE
    assert scenario.optimal is True
    assert scenario.departements_covered == 3
    assert scenario.priority_zone_dossiers == 1
    assert scenario.total == Decimal("450000")
    chosen = {application.reference for application, _amount in scenario_items(scenario)}
    assert chosen == {candidates[name].reference for name in ("gers1", "landes", "lot")}
    assert all(amount == FULL for _application, amount in scenario_items(scenario))
    event = AuditEvent.objects.get(action="scenario.compute_request")
    assert event.data["order"] == ["coverage", "priority", "score"]
    assert list(scenario.changes.values_list("from_status", "to_status")) == [
        ("queued", "running"),
        ("running", "done"),
    ]


def test_fixed_dossiers_are_honoured_and_an_impossible_one_is_refused_in_french(candidates, call, admin_user):
    scenario = scenario_compute_request(
        call=call,
        wave=None,
        name="Le Gers d'abord",
        order=["score", "coverage", "priority"],
        min_score=None,
        target=None,
        reducible=False,
        pins={candidates["gers2"].pk: "in", candidates["gers1"].pk: "out"},
        actor=admin_user,
    )
    chosen = {application.pk for application, _amount in scenario_items(scenario)}
    assert candidates["gers2"].pk in chosen
    assert candidates["gers1"].pk not in chosen
    failed = scenario_compute_request(
        call=call,
        wave=None,
        name="Trop exigeant",
        order=["score", "coverage", "priority"],
        min_score=Decimal("70"),
        target=None,
        reducible=False,
        pins={candidates["lot"].pk: "in"},
        actor=admin_user,
    )
    assert failed.status == Scenario.Status.FAILED
    assert failed.error == (
        f"Le dossier {candidates['lot'].reference}, retenu d'office, a une note inférieure à la note minimale."
    )
    assert not ScenarioItem.objects.filter(scenario=failed).exists()


def test_compute_request_refuses_bad_input_and_writes_nothing(candidates, call, admin_user):
    other, _reviewer = in_review_application()
    with pytest.raises(ValidationError) as refused:
        scenario_compute_request(
            call=call,
            wave=None,
            name="Mauvais",
            order=["score", "score", "priority"],
            min_score=None,
            target=None,
            reducible=False,
            actor=admin_user,
        )
    assert refused.value.message_dict == {"order": ["Classez les trois objectifs, chacun une fois."]}
    with pytest.raises(ValidationError) as refused:
        scenario_compute_request(
            call=call,
            wave=None,
            name="Mauvais",
            order=["score", "coverage", "priority"],
            min_score=None,
            target=None,
            reducible=False,
            pins={other.pk: "in"},
            actor=admin_user,
        )
    assert refused.value.message_dict["pins"] == [
        f"Le dossier {other.reference} n'est pas candidat : il doit être en instruction, noté et éligible."
    ]
    assert not Scenario.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="scenario.").exists()


def test_a_large_scenario_is_left_to_a_worker(candidates, call, admin_user, monkeypatch):
    import allocation.services as services

    queued: list[Any] = []
    monkeypatch.setattr(services, "INLINE_MAX_CANDIDATES", 2)
    monkeypatch.setattr(services, "_enqueue", queued.append)
    with TestCase.captureOnCommitCallbacks(execute=True):
        scenario = scenario_compute_request(
            call=call,
            wave=None,
            name="En arrière-plan",
            order=["coverage", "priority", "score"],
            min_score=None,
            target=2,
            reducible=True,
            actor=admin_user,
        )
    assert scenario.status == Scenario.Status.QUEUED
    assert queued == [scenario.pk]
    scenario_compute(scenario_id=scenario.pk)
    scenario.refresh_from_db()
    assert scenario.status == Scenario.Status.DONE
    assert scenario.departements_covered == 2
    # Done: a redelivered task does nothing.
    scenario_compute(scenario_id=scenario.pk)
    assert scenario.changes.count() == 2


def test_scenario_built_by_hand_checks_bounds_envelope_and_candidates(candidates, call, admin_user):
    amounts = {candidates["gers1"].pk: FULL, candidates["landes"].pk: Decimal("100000")}
    scenario = scenario_build(call=call, wave=None, name="À la main", amounts=amounts, actor=admin_user)
    assert scenario.status == Scenario.Status.DONE
    assert scenario.total == Decimal("250000")
    assert scenario.departements_covered == 2
    assert dict((a.pk, amount) for a, amount in scenario_items(scenario)) == amounts
    assert AuditEvent.objects.filter(action="scenario.build", target_id=str(scenario.pk)).exists()
    with pytest.raises(ValidationError) as refused:
        scenario_build(
            call=call,
            wave=None,
            name="Trop cher",
            amounts={candidates["gers1"].pk: Decimal("160000"), candidates["lot"].pk: Decimal("10000")},
            actor=admin_user,
        )
    assert refused.value.message_dict["selected"] == [
        f"Le montant du dossier {candidates['gers1'].reference} doit être compris entre 75\xa0000\xa0€ "
        "et 150\xa0000\xa0€.",
        f"Le montant du dossier {candidates['lot'].reference} doit être compris entre 75\xa0000\xa0€ "
        "et 150\xa0000\xa0€.",
    ]
    with pytest.raises(ValidationError) as refused:
        scenario_build(
            call=call,
            wave=None,
            name="À la main",
            amounts={candidates["gers1"].pk: FULL},
            actor=admin_user,
        )
    assert refused.value.message_dict == {"name": ["Un scénario de cet appel porte déjà ce nom."]}
    assert Scenario.objects.count() == 1


def test_comparison_with_the_greedy_ranking(candidates, call, admin_user):
    scenario = scenario_compute_request(
        call=call,
        wave=None,
        name="Couverture",
        order=["coverage", "priority", "score"],
        min_score=None,
        target=None,
        reducible=False,
        actor=admin_user,
    )
    ranked = solver.greedy(problem_for_call(call))
    result = comparison(call, selection_of_solution("Classement", ranked), selection_of(scenario))
    assert [row["reference"] for row in result["only_left"]] == [candidates["gers2"].reference]
    assert [row["reference"] for row in result["only_right"]] == [candidates["lot"].reference]
    assert [row["code"] for row in result["gained"]] == ["46"]
    assert result["lost"] == []
    assert result["left"].departements_covered == 2
    assert result["right"].departements_covered == 3


def test_command_writes_the_json_the_issue_specifies(candidates, call, tmp_path: Path):
    output = tmp_path / "scenario.json"
    call_command("allocation_scenario", "--call", call.slug, "--output", str(output))
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document == {
        "call": call.slug,
        "selected": sorted(candidates[name].reference for name in ("gers1", "landes", "lot")),
        "total": "450000.00",
        "departements_covered": 3,
        "priority_zone_dossiers": 1,
        "score_sum": "200.0",
        "optimal": True,
        "solve_seconds": document["solve_seconds"],
        "greedy": {
            "selected": sorted(candidates[name].reference for name in ("gers1", "gers2", "landes")),
            "total": "450000.00",
            "departements_covered": 2,
            "score_sum": "235.0",
        },
    }
    assert isinstance(document["solve_seconds"], float)
    with pytest.raises(CommandError, match="Aucun appel n'a l'identifiant « inconnu »."):
        call_command("allocation_scenario", "--call", "inconnu", "--output", str(output))
    with pytest.raises(CommandError, match="L'appel n'a pas de vague numéro 9."):
        call_command("allocation_scenario", "--call", call.slug, "--wave", "9", "--output", str(output))


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (
            solver.Infeasible(solver.Refusal.ORDER),
            "L'ordre des objectifs doit citer chacun des trois objectifs une fois.",
        ),
        (
            solver.Infeasible(solver.Refusal.FIXED_IN_AMOUNT, {"id": "7"}),
            "Le dossier FDT-7, retenu d'office, demande moins que la subvention minimale de l'appel.",
        ),
        (
            solver.Infeasible(solver.Refusal.FIXED_IN_TARGET, {"count": "4", "target": "3"}),
            "4 dossiers sont retenus d'office, plus que les 3 lauréats restant à désigner.",
        ),
        (
            solver.Infeasible(solver.Refusal.FIXED_IN_ENVELOPE, {"cost": "300000", "envelope": "150000.00"}),
            "Les dossiers retenus d'office coûtent au moins 300\xa0000\xa0€, plus que les 150\xa0000\xa0€ "
            "restant dans l'enveloppe.",
        ),
        (
            solver.Infeasible(
                solver.Refusal.FIXED_IN_GROUP, {"group": "Occitanie", "cost": "200000", "remaining": "100000"}
            ),
            "Les dossiers retenus d'office coûtent au moins 200\xa0000\xa0€ dans « Occitanie », plus que les "
            "100\xa0000\xa0€ qui y restent.",
        ),
        (
            solver.Infeasible(solver.Refusal.SOLVER),
            "Aucune sélection ne respecte toutes les contraintes (enveloppe, sous-enveloppes, dossiers fixés).",
        ),
    ],
)
def test_every_refusal_of_the_solver_is_worded_in_french(reason, message):
    assert refusal_message(reason, {7: "FDT-7"}) == message


BREAKAGES = ("unscored", "ineligible", "not_in_review", None)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.sampled_from(BREAKAGES), min_size=4, max_size=4),
    st.permutations(["coverage", "priority", "score"]),
)
def test_a_computed_scenario_never_holds_an_unscored_or_ineligible_dossier(
    candidates, call, admin_user, broken, order
):
    dossiers = [candidates[name] for name in ("gers1", "gers2", "landes", "lot")]
    valid = set()
    for dossier, breakage, score in zip(dossiers, broken, ("90", "85", "60", "50"), strict=True):
        Application.objects.filter(pk=dossier.pk).update(
            score=None if breakage == "unscored" else Decimal(score),
            status=Application.Status.CORRECTIONS
            if breakage == "not_in_review"
            else Application.Status.IN_REVIEW,
        )
        EligibilityAnswer.objects.filter(application=dossier).update(satisfied=breakage != "ineligible")
        if breakage is None:
            valid.add(dossier.pk)
    scenario = scenario_compute_request(
        call=call,
        wave=None,
        name=f"Essai {Scenario.objects.count()}",
        order=order,
        min_score=None,
        target=None,
        reducible=False,
        actor=admin_user,
    )
    chosen = {application.pk for application, _amount in scenario_items(scenario)}
    assert chosen <= valid
    assert scenario.total <= call.remaining_amount
    ranked = solver.greedy(problem_for_call(call))
    if order[0] == "coverage":
        assert scenario.departements_covered >= ranked.departements_covered


def test_the_sweep_queues_again_what_the_broker_or_a_dead_worker_left(
    candidates, call, admin_user, monkeypatch
):
    import allocation.services as services
    from allocation.workflow import transition

    published: list[Any] = []
    monkeypatch.setattr(services, "INLINE_MAX_CANDIDATES", 0)
    monkeypatch.setattr(services, "_enqueue", lambda pk: published.append(pk) or True)

    def request(name: str) -> Scenario:
        return scenario_compute_request(
            call=call,
            wave=None,
            name=name,
            order=["coverage", "priority", "score"],
            min_score=None,
            target=None,
            reducible=False,
            actor=admin_user,
        )

    waiting = request("Broker en panne")
    Scenario.objects.filter(pk=waiting.pk).update(waiting_for_queue=True)
    lost = request("Worker perdu")
    tired = request("Trop de tentatives")
    long_ago = timezone.now() - timedelta(hours=1)
    with transaction.atomic():
        transition(scenario=lost, to_status=Scenario.Status.RUNNING, started_at=long_ago, attempts=1)
        transition(scenario=tired, to_status=Scenario.Status.RUNNING, started_at=long_ago, attempts=3)
    assert services.scenarios_sweep() == {"queued": 2, "failed": 1}
    assert set(published) == {waiting.pk, lost.pk}
    lost.refresh_from_db()
    tired.refresh_from_db()
    assert lost.status == Scenario.Status.QUEUED
    assert tired.status == Scenario.Status.FAILED
    assert tired.error == "Le calcul a été interrompu trop de fois."


def test_a_computed_scenario_keeps_within_the_sub_envelopes_of_the_call(candidates, call, admin_user):
    """The sub-envelopes (grants.SubEnvelope) are the solver's budget groups: Occitanie (the Gers and
    the Lot) is delegated one award only, so one Occitanie dossier is chosen, with the Landes."""
    from grants.services.sub_envelopes import sub_envelopes_set

    sub_envelopes_set(call=call, regions={"76": FULL}, departements={}, actor=admin_user)
    scenario = scenario_compute_request(
        call=call,
        wave=None,
        name="Dans les enveloppes déléguées",
        order=["coverage", "priority", "score"],
        min_score=None,
        target=None,
        reducible=False,
        actor=admin_user,
    )
    assert scenario.status == Scenario.Status.DONE
    chosen = {application.pk for application, _amount in scenario_items(scenario)}
    occitanie = {candidates[name].pk for name in ("gers1", "gers2", "lot")}
    assert len(chosen & occitanie) == 1
    assert candidates["landes"].pk in chosen
    # Two Occitanie dossiers fixed in: impossible, and said with the sub-envelope's name.
    failed = scenario_compute_request(
        call=call,
        wave=None,
        name="Deux en Occitanie",
        order=["coverage", "priority", "score"],
        min_score=None,
        target=None,
        reducible=False,
        pins={candidates["gers1"].pk: "in", candidates["lot"].pk: "in"},
        actor=admin_user,
    )
    assert failed.status == Scenario.Status.FAILED
    assert "l'enveloppe déléguée à la région Occitanie" in failed.error
