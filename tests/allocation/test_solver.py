"""The solver on small cases whose optimum is known by hand, and its properties on random ones."""

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation.solver import (
    BudgetGroup,
    Candidate,
    Fixed,
    Objective,
    Problem,
    ProblemInfeasible,
    Refusal,
    greedy,
    solve,
)

D = Decimal
COVERAGE, PRIORITY, SCORE = Objective.COVERAGE, Objective.PRIORITY, Objective.SCORE


def candidate(pk: int, dep: str, score: str, asked: int = 100_000, **kwargs: object) -> Candidate:
    return Candidate(
        id=pk,
        departement=dep,
        priority_zone=bool(kwargs.pop("priority", False)),
        score=D(score),
        asked=D(asked),
        **kwargs,
    )  # type: ignore[arg-type]


def problem(
    candidates: list[Candidate], envelope: int = 300_000, target: int = 3, **kwargs: object
) -> Problem:
    return Problem(
        candidates=tuple(candidates),
        envelope=D(envelope),
        target=target,
        min_amount=D(50_000),
        max_amount=D(150_000),
        **kwargs,  # type: ignore[arg-type]
    )


# Three dossiers in the Gers with the best scores, one in the Landes and one in the Lot with less.
FIVE = [
    candidate(1, "32", "90"),
    candidate(2, "32", "85"),
    candidate(3, "32", "80"),
    candidate(4, "40", "60"),
    candidate(5, "46", "50", priority=True),
]


def test_solver_module_imports_no_django():
    tree = ast.parse(Path("allocation/solver.py").read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(
        name.split(".")[0] in {"django", "applications", "grants", "accounts"} for name in imported
    )


def test_greedy_takes_the_best_scores_and_coverage_first_spreads():
    ranked = greedy(problem(FIVE))
    assert set(ranked.selected) == {1, 2, 3}
    assert ranked.departements_covered == 1
    solved = solve(problem(FIVE))
    # Three départements is the most three dossiers can cover; then the only priority dossier; then
    # the best of the Gers.
    assert set(solved.selected) == {1, 4, 5}
    assert solved.departements_covered == 3
    assert solved.priority_zone_dossiers == 1
    assert solved.score_sum == D("200")
    assert solved.optimal is True
    assert solved.gap == 0
    assert solved.total == D("300000")
    assert [level.objective for level in solved.levels] == [COVERAGE, PRIORITY, SCORE]


def test_score_first_gives_the_greedy_selection_here():
    solved = solve(problem(FIVE, order=(SCORE, COVERAGE, PRIORITY)))
    assert set(solved.selected) == {1, 2, 3}
    assert solved.score_sum == D("255")


def test_priority_before_coverage_is_honoured():
    # Two priority dossiers in the same département against two départements without priority.
    candidates = [
        candidate(1, "32", "50", priority=True),
        candidate(2, "32", "50", priority=True),
        candidate(3, "40", "90"),
        candidate(4, "46", "90"),
    ]
    by_priority = solve(problem(candidates, target=2, order=(PRIORITY, COVERAGE, SCORE)))
    assert set(by_priority.selected) == {1, 2}
    by_coverage = solve(problem(candidates, target=2, order=(COVERAGE, SCORE, PRIORITY)))
    assert set(by_coverage.selected) == {3, 4}
    by_coverage_then_priority = solve(problem(candidates, target=2, order=(COVERAGE, PRIORITY, SCORE)))
    assert by_coverage_then_priority.departements_covered == 2
    assert by_coverage_then_priority.priority_zone_dossiers == 1
    assert by_coverage_then_priority.score_sum == D("140")


def test_already_funded_departements_count_and_are_not_sought_again():
    solved = solve(problem(FIVE, target=2, funded_departements=frozenset({"40", "46"})))
    assert solved.departements_covered == 3
    assert set(solved.selected) == {1, 5}  # the Gers, then the priority dossier


def test_the_envelope_is_never_exceeded_and_costs_include_the_bonus():
    candidates = [
        candidate(1, "32", "90", asked=150_000, bonus=D(100_000)),
        candidate(2, "40", "80", asked=150_000),
        candidate(3, "46", "70", asked=150_000),
    ]
    solved = solve(problem(candidates, envelope=300_000))
    assert set(solved.selected) == {2, 3}
    assert solved.total == D("300000")


def test_reducible_amounts_let_one_more_dossier_in():
    candidates = [candidate(pk, dep, "80", asked=150_000) for pk, dep in ((1, "32"), (2, "40"), (3, "46"))]
    fixed_amounts = solve(problem(candidates, envelope=350_000))
    assert len(fixed_amounts.selected) == 2
    reduced = solve(problem(candidates, envelope=350_000, reducible=True))
    assert len(reduced.selected) == 3
    assert sum(reduced.selected.values()) == D("350000")  # as much as the money allows
    assert all(D(50_000) <= amount <= D(150_000) for amount in reduced.selected.values())


def test_amounts_are_capped_by_the_calls_maximum():
    solved = solve(problem([candidate(1, "32", "80", asked=200_000)]))
    assert solved.selected == {1: D("150000")}


def test_budget_groups_are_honoured():
    group = BudgetGroup("Occitanie", frozenset({"32", "46"}), D(100_000))
    solved = solve(problem(FIVE, budget_groups=(group,)))
    in_group = [pk for pk in solved.selected if pk in (1, 2, 3, 5)]
    assert len(in_group) == 1
    assert set(solved.selected) == {4, 5}  # the Landes, and the Lot for its priority zone
    ranked = greedy(problem(FIVE, budget_groups=(group,)))
    assert set(ranked.selected) == {1, 4}


def test_fixed_in_and_out_are_honoured():
    solved = solve(
        problem(
            [
                candidate(1, "32", "90", fixed=Fixed.OUT),
                candidate(2, "32", "85", fixed=Fixed.IN),
                candidate(3, "32", "80", fixed=Fixed.IN),
                candidate(4, "40", "60"),
                candidate(5, "46", "50", priority=True),
            ]
        )
    )
    assert 1 not in solved.selected
    assert {2, 3} <= set(solved.selected)
    assert solved.departements_covered == 2
    assert solved.excluded[1] == "fixed_out"


def test_min_score_leaves_weaker_dossiers_out():
    solved = solve(problem(FIVE, min_score=D("55")))
    assert set(solved.selected) == {1, 4, 2}
    assert solved.excluded == {5: "below_score"}


@pytest.mark.parametrize(
    ("candidates", "kwargs", "code"),
    [
        (
            [candidate(1, "32", "90", fixed=Fixed.IN), candidate(2, "40", "90", fixed=Fixed.IN)],
            {"target": 1},
            Refusal.FIXED_IN_TARGET,
        ),
        (
            [candidate(1, "32", "90", asked=150_000, fixed=Fixed.IN)],
            {"envelope": 100_000},
            Refusal.FIXED_IN_ENVELOPE,
        ),
        ([candidate(1, "32", "40", fixed=Fixed.IN)], {"min_score": D("50")}, Refusal.FIXED_IN_BELOW_SCORE),
        ([candidate(1, "32", "90", asked=10_000, fixed=Fixed.IN)], {}, Refusal.FIXED_IN_AMOUNT),
        (
            [candidate(1, "32", "90", fixed=Fixed.IN)],
            {"budget_groups": (BudgetGroup("Gers", frozenset({"32"}), D(10_000)),)},
            Refusal.FIXED_IN_GROUP,
        ),
        ([candidate(1, "32", "90")], {"order": (SCORE, SCORE, COVERAGE)}, Refusal.ORDER),
    ],
)
def test_infeasible_problems_are_refused_with_their_reason(candidates, kwargs, code):
    with pytest.raises(ProblemInfeasible) as refused:
        solve(problem(candidates, **kwargs))
    assert [reason.code for reason in refused.value.reasons] == [code]


def test_an_empty_problem_selects_nothing():
    solved = solve(problem([]))
    assert solved.selected == {}
    assert solved.optimal is True


# --- properties ---------------------------------------------------------------------------------

DEPS = ["01", "2A", "32", "40", "46", "75", "971"]


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    count = draw(st.integers(min_value=0, max_value=14))
    candidates = [
        Candidate(
            id=pk,
            departement=draw(st.sampled_from(DEPS)),
            priority_zone=draw(st.booleans()),
            score=D(draw(st.integers(min_value=0, max_value=1000))) / 10,
            asked=D(draw(st.integers(min_value=20_000, max_value=200_000))) + D("0.50"),
            bonus=draw(st.sampled_from([D(0), D(0), D(100_000)])),
        )
        for pk in range(count)
    ]
    groups = tuple(
        BudgetGroup(
            f"g{index}",
            frozenset(draw(st.sets(st.sampled_from(DEPS), min_size=1))),
            D(draw(st.integers(0, 600_000))),
        )
        for index in range(draw(st.integers(0, 2)))
    )
    return Problem(
        candidates=tuple(candidates),
        envelope=D(draw(st.integers(min_value=0, max_value=1_500_000))),
        target=draw(st.integers(min_value=0, max_value=8)),
        min_amount=D(50_000),
        max_amount=D(150_000),
        funded_departements=frozenset(draw(st.sets(st.sampled_from(DEPS), max_size=2))),
        budget_groups=groups,
        min_score=draw(st.sampled_from([None, D("30"), D("60")])),
        reducible=draw(st.booleans()),
        order=tuple(draw(st.permutations(list(Objective)))),
    )


def cost(problem_: Problem, chosen: dict[int, Decimal], pks: set[int] | None = None) -> Decimal:
    by_id = {c.id: c for c in problem_.candidates}
    return sum((amount + by_id[pk].bonus for pk, amount in chosen.items() if pks is None or pk in pks), D(0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_properties_of_every_solution(problem_):
    solved = solve(problem_)
    ranked = greedy(problem_)
    by_id = {c.id: c for c in problem_.candidates}
    for chosen in (solved.selected, ranked.selected):
        assert cost(problem_, chosen) <= problem_.envelope
        for group in problem_.budget_groups:
            members = {pk for pk in chosen if by_id[pk].departement in group.departements}
            assert cost(problem_, chosen, members) <= group.remaining
        assert len(chosen) <= problem_.target
        for pk, amount in chosen.items():
            assert problem_.min_score is None or by_id[pk].score >= problem_.min_score
            assert problem_.min_amount <= amount <= min(by_id[pk].asked, problem_.max_amount)
            if not problem_.reducible:
                assert amount == min(by_id[pk].asked, problem_.max_amount)
    assert solved.optimal
    if problem_.order[0] == Objective.COVERAGE:
        assert solved.departements_covered >= ranked.departements_covered
    if problem_.order[0] == Objective.SCORE and not problem_.reducible:
        assert solved.score_sum >= ranked.score_sum


def test_a_level_stopped_by_the_time_limit_states_its_gap():
    from allocation.solver import Level

    assert Level(SCORE, value=900, bound=1000.0, optimal=False, seconds=2.0).gap == pytest.approx(0.1)
    assert Level(SCORE, value=900, bound=1000.0, optimal=True, seconds=2.0).gap == 0.0
