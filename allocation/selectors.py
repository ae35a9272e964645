"""Reads for the allocation scenarios: the candidates of a call as the solver's input, a scenario's
items, and the comparison of two selections.

A candidate is a dossier of the call (and wave) in review, scored, every eligibility condition of
the call checked as met, with a département: the award would refuse any other
(`grants.services.decisions`). What it asked is the sum of its budget's yearly requests; it is in
a priority zone when one of its places is in a QPV or a rural area (the programme's two targets).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, Exists, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from allocation import solver
from allocation.models import Scenario, ScenarioItem
from applications.models import Application, BudgetYear, Call, EligibilityAnswer, EligibilityCheck, Wave
from fabriques.models import Departement, Region, Zone
from grants.models import Grant
from grants.selectors.envelope import sub_envelopes_remaining

PRIORITY_ZONES = (Zone.QPV.value, Zone.RURAL.value)
MONEY = DecimalField(max_digits=16, decimal_places=2)
ZERO = Decimal("0")


@dataclass(frozen=True)
class CandidateRow:
    """A candidate as the pages show it: the solver's fields and what identifies the dossier."""

    id: int
    reference: str
    title: str
    departement: str
    priority_zone: bool
    score: Decimal
    asked: Decimal
    bonus: Decimal


def candidates_queryset(call: Call, wave: Wave | None = None) -> Any:
    """The call's candidate dossiers, with `asked` and `priority` annotated; one query when read."""
    checks = EligibilityCheck.objects.filter(call=call).count()
    satisfied = Subquery(
        EligibilityAnswer.objects.filter(application=OuterRef("pk"), satisfied=True, condition__call=call)
        .order_by()
        .values("application")
        .annotate(n=Count("pk"))
        .values("n")
    )
    asked = Subquery(
        BudgetYear.objects.filter(application=OuterRef("pk"))
        .order_by()
        .values("application")
        .annotate(total=Sum("requested"))
        .values("total"),
        output_field=MONEY,
    )
    priority = Exists(
        Application.places.through.objects.filter(
            application=OuterRef("pk"), tierslieu__zone__in=PRIORITY_ZONES
        )
    )
    queryset = Application.objects.filter(
        call=call,
        status=Application.Status.IN_REVIEW,
        score__isnull=False,
        departement__isnull=False,
    )
    if wave is not None:
        queryset = queryset.filter(wave=wave)
    return (
        queryset.annotate(
            satisfied=Coalesce(satisfied, Value(0)),
            asked=Coalesce(asked, Value(ZERO), output_field=MONEY),
            priority=priority,
        )
        .filter(satisfied=checks)
        .order_by("-score", "reference")
    )


def candidate_rows(call: Call, wave: Wave | None = None) -> list[CandidateRow]:
    """The candidates, best score first."""
    rows = candidates_queryset(call, wave).values_list(
        "pk", "reference", "title", "departement_id", "priority", "score", "asked", "kind"
    )
    return [
        CandidateRow(
            pk,
            reference,
            title,
            departement,
            bool(priority),
            Decimal(score),
            Decimal(asked),
            call.fnt_bonus if kind == Application.Kind.FNT else ZERO,
        )
        for pk, reference, title, departement, priority, score, asked, kind in rows
    ]


def funded_departements(call: Call) -> frozenset[str]:
    """The départements where the call already has a laureate (an active grant)."""
    return frozenset(
        Grant.objects.filter(call=call, status=Grant.Status.ACTIVE, application__departement__isnull=False)
        .values_list("application__departement_id", flat=True)
        .distinct()
    )


def budget_groups_for(call: Call) -> tuple[solver.BudgetGroup, ...]:
    """The call's sub-envelopes (grants.SubEnvelope) as the solver's budget groups: what is left of
    each, and the départements whose dossiers draw on it (a dossier of a département with a
    sub-envelope of its own draws on its région's too)."""
    rows = sub_envelopes_remaining(call)
    if not rows:
        return ()
    regions = dict(
        Region.objects.filter(code__in={row.region_code for row in rows}).values_list("code", "name")
    )
    departements = dict(
        Departement.objects.filter(
            code__in={row.departement_code for row in rows if row.departement_code}
        ).values_list("code", "name")
    )
    return tuple(
        solver.BudgetGroup(
            name=(
                _("l'enveloppe déléguée au département %(name)s")
                % {"name": departements.get(row.departement_code, row.departement_code)}
                if row.departement_code
                else _("l'enveloppe déléguée à la région %(name)s")
                % {"name": regions.get(row.region_code, row.region_code)}
            ),
            departements=frozenset(row.departements),
            remaining=row.remaining,
        )
        for row in rows
    )


def remaining_target(call: Call) -> int:
    return max(call.target_count - call.laureate_count, 0)


def problem_for_call(
    call: Call,
    *,
    wave: Wave | None = None,
    budget_groups: Sequence[solver.BudgetGroup] = (),
    order: Sequence[solver.Objective] = solver.DEFAULT_ORDER,
    min_score: Decimal | None = None,
    target: int | None = None,
    reducible: bool = False,
    pins: Mapping[int, solver.Fixed] | None = None,
    rows: Iterable[CandidateRow] | None = None,
    time_limit: float = 30.0,
) -> solver.Problem:
    """The solver's input for a call: its candidates, what is left of its envelope and target,
    the départements funded already, the budget groups handed in (the sub-envelopes)."""
    pins = pins or {}
    candidates = tuple(
        solver.Candidate(
            id=row.id,
            departement=row.departement,
            priority_zone=row.priority_zone,
            score=row.score,
            asked=row.asked,
            bonus=row.bonus,
            fixed=pins.get(row.id),
        )
        for row in (rows if rows is not None else candidate_rows(call, wave))
    )
    return solver.Problem(
        candidates=candidates,
        envelope=call.remaining_amount,
        target=remaining_target(call) if target is None else target,
        min_amount=call.min_award,
        max_amount=min(call.max_award, call.max_per_year * call.duration_years),
        funded_departements=funded_departements(call),
        budget_groups=tuple(budget_groups),
        min_score=min_score,
        reducible=reducible,
        order=tuple(order),
        time_limit=time_limit,
    )


def scenario_items(scenario: Scenario) -> list[tuple[Application, Decimal]]:
    """The dossiers of a scenario with their amounts, best score first: what a committee's agenda
    takes from it."""
    items = (
        ScenarioItem.objects.filter(scenario=scenario)
        .select_related("application", "application__departement")
        .order_by("-application__score", "application__reference")
    )
    return [(item.application, item.amount) for item in items]


# --- Comparing two selections -----------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """A selection to compare: a scenario's, or the greedy ranking's."""

    label: str
    amounts: dict[int, Decimal]  # application id -> amount
    total: Decimal
    departements_covered: int
    priority_zone_dossiers: int
    score_sum: Decimal


def selection_of(scenario: Scenario) -> Selection:
    amounts = dict(ScenarioItem.objects.filter(scenario=scenario).values_list("application_id", "amount"))
    return Selection(
        scenario.name,
        amounts,
        scenario.total,
        scenario.departements_covered,
        scenario.priority_zone_dossiers,
        scenario.score_sum,
    )


def selection_of_solution(label: str, solution: solver.Solution) -> Selection:
    return Selection(
        label,
        dict(solution.selected),
        solution.total,
        solution.departements_covered,
        solution.priority_zone_dossiers,
        solution.score_sum,
    )


def comparison(call: Call, left: Selection, right: Selection) -> dict[str, Any]:
    """What differs between two selections: the dossiers in one only, the départements covered by
    each (with those funded already), the totals. Three queries (the dossiers, the départements,
    the call's laureates per département)."""
    ids = set(left.amounts) | set(right.amounts)
    dossiers = {
        row["pk"]: row
        for row in Application.objects.filter(pk__in=ids).values(
            "pk", "reference", "title", "departement_id", "departement__name", "score"
        )
    }
    laureates = dict(
        Grant.objects.filter(call=call, status=Grant.Status.ACTIVE, application__departement__isnull=False)
        .order_by()
        .values_list("application__departement_id")
        .annotate(n=Count("pk"))
    )

    def rows_of(only: Iterable[int], amounts: Mapping[int, Decimal]) -> list[dict[str, Any]]:
        rows = [{**dossiers[pk], "amount": amounts[pk]} for pk in only if pk in dossiers]
        return sorted(rows, key=lambda row: (-(row["score"] or 0), row["reference"]))

    def per_departement(selection: Selection) -> dict[str, int]:
        counts: dict[str, int] = {}
        for pk in selection.amounts:
            row = dossiers.get(pk)
            dep = row["departement_id"] if row else None
            if dep:
                counts[dep] = counts.get(dep, 0) + 1
        return counts

    left_counts, right_counts = per_departement(left), per_departement(right)
    departements = []
    for code, name in Departement.objects.order_by("code").values_list("code", "name"):
        funded = laureates.get(code, 0)
        departements.append(
            {
                "code": code,
                "name": name,
                "funded": funded,
                "left": left_counts.get(code, 0),
                "right": right_counts.get(code, 0),
                # What the maps colour: the fabriques of the département once the selection is
                # awarded (its laureates and the dossiers selected).
                "left_total": funded + left_counts.get(code, 0),
                "right_total": funded + right_counts.get(code, 0),
            }
        )
    return {
        "left": left,
        "right": right,
        "only_left": rows_of(set(left.amounts) - set(right.amounts), left.amounts),
        "only_right": rows_of(set(right.amounts) - set(left.amounts), right.amounts),
        "both": len(set(left.amounts) & set(right.amounts)),
        "funded": sum(1 for row in departements if row["funded"]),
        "departements": departements,
        "gained": [row for row in departements if row["right_total"] and not row["left_total"]],
        "lost": [row for row in departements if row["left_total"] and not row["right_total"]],
    }
