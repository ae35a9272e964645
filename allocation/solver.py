"""Allocation scenarios as an integer programme, solved by HiGHS; and the greedy ranking beside it.

Pure: no Django, no database. The input is plain dataclasses (`Problem`), built from the call by
`allocation.selectors.problem_for_call`; the output is `Solution`.

The model (money in whole euros inside, Decimal outside):

- `x_i` ∈ {0, 1}: candidate `i` is selected (1 for a dossier fixed in; a dossier fixed out is not
  in the model at all);
- `a_i` ∈ ℤ, only when amounts may be reduced: its amount, `low_i·x_i ≤ a_i ≤ high_i·x_i`, where
  `low_i` is the call's minimum and `high_i` the least of the asked amount, the call's maximum and
  the yearly cap times the years; otherwise the amount is `high_i` itself;
- `y_d` ∈ {0, 1} for each département not funded yet that has a candidate: `y_d ≤ Σ_{i in d} x_i`.

Subject to: the cost (amount plus the FNT bonus) of the selection within the remaining envelope
and within each budget group's remaining amount (the sub-envelopes), at most `target` selected.

Objectives, maximised in the order the user sets (lexicographic): (a) départements covered
(those funded already plus Σ y_d), (b) selected dossiers in a priority zone, (c) total score (in
tenths, so an integer). Solved level by level: each level's optimum (or, at a time limit, the
best value found) becomes a constraint `objective ≥ value` of the next levels, and the previous
level's selection is handed to HiGHS as a starting solution. When amounts may be reduced, a last
linear step keeps the selection and gives each dossier as much of its amount as the money allows
(no objective depends on amounts, so nothing else moves).

Rounding keeps the result on the safe side: costs are rounded up to the euro, limits down.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

import highspy
import numpy as np

EURO = Decimal("1")


class Objective(StrEnum):
    COVERAGE = "coverage"
    PRIORITY = "priority"
    SCORE = "score"


DEFAULT_ORDER: tuple[Objective, ...] = (Objective.COVERAGE, Objective.PRIORITY, Objective.SCORE)


class Fixed(StrEnum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True)
class Candidate:
    id: int
    departement: str
    priority_zone: bool
    score: Decimal
    asked: Decimal
    # Added to the envelope's cost when selected (the FNT bonus), never reduced.
    bonus: Decimal = Decimal("0")
    fixed: Fixed | None = None


@dataclass(frozen=True)
class BudgetGroup:
    """A sub-envelope: what is left of it, and the départements it pays for."""

    name: str
    departements: frozenset[str]
    remaining: Decimal


@dataclass(frozen=True)
class Problem:
    candidates: tuple[Candidate, ...]
    envelope: Decimal
    target: int
    min_amount: Decimal
    max_amount: Decimal
    funded_departements: frozenset[str] = frozenset()
    budget_groups: tuple[BudgetGroup, ...] = ()
    min_score: Decimal | None = None
    reducible: bool = False
    order: tuple[Objective, ...] = DEFAULT_ORDER
    time_limit: float = 30.0
    threads: int = 2


class Refusal(StrEnum):
    """Why a problem cannot be solved; `allocation.messages` words each one in French."""

    ORDER = "order"
    FIXED_IN_UNKNOWN = "fixed_in_unknown"
    FIXED_IN_BELOW_SCORE = "fixed_in_below_score"
    FIXED_IN_AMOUNT = "fixed_in_amount"
    FIXED_IN_TARGET = "fixed_in_target"
    FIXED_IN_ENVELOPE = "fixed_in_envelope"
    FIXED_IN_GROUP = "fixed_in_group"
    SOLVER = "solver"


@dataclass(frozen=True)
class Infeasible:
    code: Refusal
    data: dict[str, str] = field(default_factory=dict)


class ProblemInfeasible(Exception):  # noqa: N818 - what it is, as Django's ValidationError
    def __init__(self, reasons: Sequence[Infeasible]) -> None:
        super().__init__(", ".join(reason.code.value for reason in reasons))
        self.reasons = list(reasons)


@dataclass(frozen=True)
class Level:
    objective: Objective
    value: int
    bound: float
    optimal: bool
    seconds: float

    @property
    def gap(self) -> float:
        """Relative distance between the value found and the best possible (0 when proven)."""
        if self.optimal:
            return 0.0
        return max(0.0, (self.bound - self.value) / max(1.0, abs(self.bound)))


@dataclass(frozen=True)
class Solution:
    selected: dict[int, Decimal]  # candidate id -> amount (without the bonus)
    total: Decimal  # amounts plus bonuses: what the envelope would commit
    departements_covered: int
    priority_zone_dossiers: int
    score_sum: Decimal
    optimal: bool
    gap: float
    seconds: float
    levels: tuple[Level, ...] = ()
    excluded: dict[int, str] = field(default_factory=dict)  # candidate id -> why left out


def _euros_up(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def _euros_down(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def upper_amount(problem: Problem, candidate: Candidate) -> Decimal:
    """The most a candidate may get: what it asked, within the call's maximum."""
    return min(candidate.asked, problem.max_amount)


def _eligible(problem: Problem) -> tuple[list[Candidate], dict[int, str]]:
    """The candidates the model may choose, and why the others are left out."""
    kept: list[Candidate] = []
    excluded: dict[int, str] = {}
    for candidate in problem.candidates:
        if candidate.fixed == Fixed.OUT:
            excluded[candidate.id] = "fixed_out"
        elif problem.min_score is not None and candidate.score < problem.min_score:
            excluded[candidate.id] = "below_score"
        elif upper_amount(problem, candidate) < problem.min_amount:
            excluded[candidate.id] = "amount"
        else:
            kept.append(candidate)
    return kept, excluded


def _cost(problem: Problem, candidate: Candidate, *, least: bool) -> Decimal:
    amount = problem.min_amount if least and problem.reducible else upper_amount(problem, candidate)
    return amount + candidate.bonus


def _groups_of(problem: Problem, departement: str) -> list[int]:
    return [index for index, group in enumerate(problem.budget_groups) if departement in group.departements]


def check(problem: Problem) -> list[Infeasible]:
    """The reasons a problem has no solution that can be told before solving (fixed-in dossiers)."""
    reasons: list[Infeasible] = []
    if sorted(problem.order) != sorted(Objective) or len(problem.order) != len(Objective):
        reasons.append(Infeasible(Refusal.ORDER))
    kept, excluded = _eligible(problem)
    fixed = [candidate for candidate in problem.candidates if candidate.fixed == Fixed.IN]
    for candidate in fixed:
        why = excluded.get(candidate.id)
        if why == "below_score":
            reasons.append(Infeasible(Refusal.FIXED_IN_BELOW_SCORE, {"id": str(candidate.id)}))
        elif why == "amount":
            reasons.append(Infeasible(Refusal.FIXED_IN_AMOUNT, {"id": str(candidate.id)}))
    if len(fixed) > problem.target:
        reasons.append(
            Infeasible(Refusal.FIXED_IN_TARGET, {"count": str(len(fixed)), "target": str(problem.target)})
        )
    least = sum((_cost(problem, candidate, least=True) for candidate in fixed), Decimal("0"))
    if least > problem.envelope:
        reasons.append(
            Infeasible(Refusal.FIXED_IN_ENVELOPE, {"cost": str(least), "envelope": str(problem.envelope)})
        )
    for index, group in enumerate(problem.budget_groups):
        in_group = sum(
            (_cost(problem, c, least=True) for c in fixed if index in _groups_of(problem, c.departement)),
            Decimal("0"),
        )
        if in_group > group.remaining:
            reasons.append(
                Infeasible(
                    Refusal.FIXED_IN_GROUP,
                    {"group": group.name, "cost": str(in_group), "remaining": str(group.remaining)},
                )
            )
    return reasons


def _summary(
    problem: Problem, chosen: dict[int, Decimal], by_id: dict[int, Candidate]
) -> tuple[Decimal, int, int, Decimal]:
    total = sum((amount + by_id[cid].bonus for cid, amount in chosen.items()), Decimal("0"))
    covered = set(problem.funded_departements) | {by_id[cid].departement for cid in chosen}
    priority = sum(1 for cid in chosen if by_id[cid].priority_zone)
    score = sum((by_id[cid].score for cid in chosen), Decimal("0"))
    return total, len(covered), priority, score


def greedy(problem: Problem) -> Solution:
    """The pure ranking: fixed-in dossiers first, then by score (then the lesser cost, then the id)
    while the envelope, the budget groups and the target allow, at the amount asked (within the
    call's maximum), never reduced."""
    started = time.perf_counter()
    kept, excluded = _eligible(problem)
    by_id = {candidate.id: candidate for candidate in problem.candidates}
    ordered = sorted(
        kept,
        key=lambda c: (c.fixed != Fixed.IN, -c.score, upper_amount(problem, c) + c.bonus, c.id),
    )
    left = problem.envelope
    group_left = [group.remaining for group in problem.budget_groups]
    chosen: dict[int, Decimal] = {}
    for candidate in ordered:
        if len(chosen) >= problem.target:
            break
        amount = upper_amount(problem, candidate)
        cost = amount + candidate.bonus
        groups = _groups_of(problem, candidate.departement)
        if cost > left or any(cost > group_left[index] for index in groups):
            continue
        chosen[candidate.id] = amount
        left -= cost
        for index in groups:
            group_left[index] -= cost
    total, covered, priority, score = _summary(problem, chosen, by_id)
    return Solution(
        selected=chosen,
        total=total,
        departements_covered=covered,
        priority_zone_dossiers=priority,
        score_sum=score,
        optimal=False,
        gap=0.0,
        seconds=time.perf_counter() - started,
        excluded=excluded,
    )


class _Model:
    """The HiGHS model of a problem: columns x (and a when reducible), then y; the rows."""

    def __init__(self, problem: Problem, kept: list[Candidate]) -> None:
        self.problem = problem
        self.kept = kept
        n = len(kept)
        self.n = n
        self.reducible = problem.reducible
        self.high = [_euros_down(upper_amount(problem, c)) if problem.reducible else 0 for c in kept]
        self.low = _euros_up(problem.min_amount)
        # Whole-euro cost of a selected candidate at its full amount (rounded up: never over).
        self.full_cost = [_euros_up(upper_amount(problem, c) + c.bonus) for c in kept]
        self.bonus = [_euros_up(c.bonus) for c in kept]
        funded = problem.funded_departements
        by_dep: dict[str, list[int]] = defaultdict(list)
        for index, candidate in enumerate(kept):
            by_dep[candidate.departement].append(index)
        self.open_deps = sorted(dep for dep in by_dep if dep not in funded)
        self.by_dep = by_dep
        self.a0 = n  # first amount column
        self.y0 = n + (n if self.reducible else 0)
        self.columns = self.y0 + len(self.open_deps)
        self.highs = highspy.Highs()  # type: ignore[no-untyped-call]
        highs = self.highs
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("threads", max(1, problem.threads))
        highs.setOptionValue("mip_rel_gap", 0.0)
        # Every objective is an integer: a gap under one proves the optimum.
        highs.setOptionValue("mip_abs_gap", 0.999)
        inf = highspy.kHighsInf
        lower = np.zeros(self.columns)
        upper = np.ones(self.columns)
        for index, candidate in enumerate(kept):
            if candidate.fixed == Fixed.IN:
                lower[index] = 1.0
        if self.reducible:
            upper[self.a0 : self.a0 + n] = np.array(self.high, dtype=float)
        highs.addVars(self.columns, lower, upper)
        highs.changeColsIntegrality(
            self.columns,
            np.arange(self.columns, dtype=np.int32),
            np.array([highspy.HighsVarType.kInteger] * self.columns),
        )
        rows: list[tuple[float, float, list[int], list[float]]] = []
        # The envelope, then each budget group.
        rows.append((-inf, float(_euros_down(problem.envelope)), *self._cost_terms(range(n))))
        for group in problem.budget_groups:
            members = [i for i, c in enumerate(kept) if c.departement in group.departements]
            rows.append((-inf, float(_euros_down(group.remaining)), *self._cost_terms(members)))
        rows.append((-inf, float(problem.target), list(range(n)), [1.0] * n))
        for offset, dep in enumerate(self.open_deps):
            members = by_dep[dep]
            rows.append((-inf, 0.0, [self.y0 + offset, *members], [1.0] + [-1.0] * len(members)))
        if self.reducible:
            for i in range(n):
                # low·x ≤ a ≤ high·x
                rows.append((-inf, 0.0, [self.a0 + i, i], [1.0, -float(self.high[i])]))
                rows.append((0.0, inf, [self.a0 + i, i], [1.0, -float(self.low)]))
        self._add_rows(rows)

    def _cost_terms(self, members: Iterable[int]) -> tuple[list[int], list[float]]:
        indices: list[int] = []
        values: list[float] = []
        for i in members:
            if self.reducible:
                indices += [self.a0 + i, i]
                values += [1.0, float(self.bonus[i])]
            else:
                indices.append(i)
                values.append(float(self.full_cost[i]))
        return indices, values

    def _add_rows(self, rows: list[tuple[float, float, list[int], list[float]]]) -> None:
        starts = np.zeros(len(rows), dtype=np.int32)
        indices: list[int] = []
        values: list[float] = []
        for position, (_low, _up, row_indices, row_values) in enumerate(rows):
            starts[position] = len(indices)
            indices += row_indices
            values += row_values
        self.highs.addRows(
            len(rows),
            np.array([row[0] for row in rows]),
            np.array([row[1] for row in rows]),
            len(indices),
            starts,
            np.array(indices, dtype=np.int32),
            np.array(values),
        )

    def objective(self, objective: Objective) -> tuple[list[int], list[float]]:
        if objective == Objective.COVERAGE:
            return list(range(self.y0, self.columns)), [1.0] * len(self.open_deps)
        if objective == Objective.PRIORITY:
            members = [i for i, c in enumerate(self.kept) if c.priority_zone]
            return members, [1.0] * len(members)
        return list(range(self.n)), [float(int(c.score * 10)) for c in self.kept]

    def solve_level(
        self, objective: Objective, time_limit: float, start: np.ndarray | None
    ) -> tuple[Level, np.ndarray | None]:
        highs = self.highs
        costs = np.zeros(self.columns)
        indices, values = self.objective(objective)
        costs[indices] = values
        highs.changeColsCost(self.columns, np.arange(self.columns, dtype=np.int32), costs)
        highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
        highs.setOptionValue("time_limit", max(0.1, time_limit))
        if start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = list(start)
            solution.value_valid = True
            highs.setSolution(solution)
        started = time.perf_counter()
        highs.run()
        seconds = time.perf_counter() - started
        status = highs.getModelStatus()
        info = highs.getInfo()
        if info.primal_solution_status != 2:  # kSolutionStatusFeasible
            if status == highspy.HighsModelStatus.kInfeasible:
                raise ProblemInfeasible([Infeasible(Refusal.SOLVER)])
            raise ProblemInfeasible(
                [Infeasible(Refusal.SOLVER, {"status": highs.modelStatusToString(status)})]
            )
        columns = np.array(highs.getSolution().col_value)
        value = int(round(float(np.dot(costs, columns))))
        optimal = status == highspy.HighsModelStatus.kOptimal
        bound = float(info.mip_dual_bound) if not optimal else float(value)
        # The next levels keep this one's value.
        self._add_rows([(float(value), highspy.kHighsInf, indices, values)])
        return Level(objective, value, bound, optimal, seconds), columns

    def fill_amounts(self, columns: np.ndarray, time_limit: float) -> np.ndarray:
        """Keep the selection and give each dossier as much of its amount as the money allows."""
        highs = self.highs
        selected = columns[: self.n] > 0.5
        lower = np.zeros(self.columns)
        upper = np.ones(self.columns)
        lower[: self.n] = selected.astype(float)
        upper[: self.n] = selected.astype(float)
        upper[self.a0 : self.a0 + self.n] = np.array(self.high, dtype=float)
        upper[self.y0 :] = columns[self.y0 :].round()
        lower[self.y0 :] = columns[self.y0 :].round()
        everything = np.arange(self.columns, dtype=np.int32)
        highs.changeColsBounds(self.columns, everything, lower, upper)
        costs = np.zeros(self.columns)
        costs[self.a0 : self.a0 + self.n] = 1.0
        highs.changeColsCost(self.columns, everything, costs)
        highs.setOptionValue("time_limit", max(0.1, time_limit))
        highs.setSolution(_solution(columns))
        highs.run()
        if highs.getInfo().primal_solution_status != 2:
            return columns
        return np.array(highs.getSolution().col_value)


def _solution(columns: np.ndarray) -> highspy.HighsSolution:
    solution = highspy.HighsSolution()
    solution.col_value = list(columns)
    solution.value_valid = True
    return solution


def solve(problem: Problem) -> Solution:
    """The lexicographic optimum of `problem` (see the module), or `ProblemInfeasible`."""
    reasons = check(problem)
    if reasons:
        raise ProblemInfeasible(reasons)
    started = time.perf_counter()
    kept, excluded = _eligible(problem)
    by_id = {candidate.id: candidate for candidate in problem.candidates}
    if not kept:
        return Solution(
            selected={},
            total=Decimal("0"),
            departements_covered=len(problem.funded_departements),
            priority_zone_dossiers=0,
            score_sum=Decimal("0"),
            optimal=True,
            gap=0.0,
            seconds=time.perf_counter() - started,
            excluded=excluded,
        )
    model = _Model(problem, kept)
    levels: list[Level] = []
    columns: np.ndarray | None = None
    deadline = started + problem.time_limit
    for objective in problem.order:
        level, columns = model.solve_level(objective, deadline - time.perf_counter(), columns)
        levels.append(level)
    assert columns is not None  # noqa: S101 - the order has three objectives (check)
    if problem.reducible and model.n:
        columns = model.fill_amounts(columns, max(1.0, deadline - time.perf_counter()))
    chosen: dict[int, Decimal] = {}
    for index, candidate in enumerate(kept):
        if columns[index] > 0.5:
            if problem.reducible:
                amount = Decimal(int(round(columns[model.a0 + index])))
            else:
                amount = upper_amount(problem, candidate)
            chosen[candidate.id] = amount
    total, covered, priority, score = _summary(problem, chosen, by_id)
    return Solution(
        selected=chosen,
        total=total,
        departements_covered=covered,
        priority_zone_dossiers=priority,
        score_sum=score,
        optimal=all(level.optimal for level in levels),
        gap=max((level.gap for level in levels), default=0.0),
        seconds=time.perf_counter() - started,
        levels=tuple(levels),
        excluded=excluded,
    )


__all__ = [
    "DEFAULT_ORDER",
    "BudgetGroup",
    "Candidate",
    "Fixed",
    "Infeasible",
    "Level",
    "Objective",
    "Problem",
    "ProblemInfeasible",
    "Refusal",
    "Solution",
    "check",
    "greedy",
    "solve",
]
