"""The rules of a dossier's budget, as pure functions: used by the services and the completeness check."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from applications.models import BudgetYear, Call
from core.formatting import format_money, parse_money

BUDGET_FIELDS = ("requested", "other_funding", "total_cost")


def budget_field_name(field: str, year_index: int) -> str:
    """The name of a budget input in forms and error dicts: requested_1, total_cost_3…"""
    return f"{field}_{year_index}"


def budget_errors(*, call: Call, years: dict[int, dict[str, Decimal]]) -> dict[str, list[str]]:
    """Every rule of a call's budget, as French messages keyed by input name ("__all__": totals)."""
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    if sorted(years) != list(call.years):
        add(
            "__all__",
            _("Le budget compte une colonne par année du projet (%(n)d années).")
            % {"n": call.duration_years},
        )
        return errors
    total_requested = Decimal("0")
    for year_index, amounts in years.items():
        requested = amounts["requested"]
        other = amounts["other_funding"]
        cost = amounts["total_cost"]
        for field in BUDGET_FIELDS:
            if amounts[field] < 0:
                add(budget_field_name(field, year_index), _("Un montant ne peut pas être négatif."))
        if requested > call.max_per_year:
            add(
                budget_field_name("requested", year_index),
                _("L'année %(year)d dépasse le plafond annuel de %(cap)s (%(amount)s demandés).")
                % {
                    "year": year_index,
                    "cap": format_money(call.max_per_year),
                    "amount": format_money(requested),
                },
            )
        if requested + other > cost:
            add(
                budget_field_name("total_cost", year_index),
                _(
                    "Année %(year)d : la subvention demandée et les autres financements (%(funding)s) "
                    "dépassent le coût total de fonctionnement (%(cost)s)."
                )
                % {
                    "year": year_index,
                    "funding": format_money(requested + other),
                    "cost": format_money(cost),
                },
            )
        total_requested += requested
    if not call.min_award <= total_requested <= call.max_award:
        add(
            "__all__",
            _("Le total demandé (%(total)s) doit être compris entre %(min)s et %(max)s.")
            % {
                "total": format_money(total_requested),
                "min": format_money(call.min_award),
                "max": format_money(call.max_award),
            },
        )
    return errors


def budget_totals(budget_years: list[BudgetYear]) -> dict[str, Decimal]:
    return {
        field: sum((getattr(row, field) for row in budget_years), Decimal("0")) for field in BUDGET_FIELDS
    }


@dataclass(frozen=True)
class BudgetRunning:
    """The running total of a budget as typed, against the call's bounds (shown beside the fields).

    `state`: "below" the call's minimum, "above" its maximum, or "within"; `gap` is how far.
    """

    total: Decimal
    minimum: Decimal
    maximum: Decimal
    cap: Decimal
    state: str
    gap: Decimal
    years_over_cap: list[int]


def typed_amount(value: object) -> Decimal:
    """An amount as typed in a budget input; what cannot be read counts as 0 (its error says why)."""
    if isinstance(value, Decimal):
        return value
    try:
        amount = parse_money(str(value or "").strip() or "0")
    except (InvalidOperation, ValueError):
        return Decimal("0")
    return amount if amount.is_finite() and abs(amount) < Decimal("1e12") else Decimal("0")


def budget_running(*, call: Call, requested: dict[int, Decimal]) -> BudgetRunning:
    """The total requested over the years (`requested`: year -> amount), and where it stands."""
    total = sum(requested.values(), Decimal("0"))
    if total < call.min_award:
        state, gap = "below", call.min_award - total
    elif total > call.max_award:
        state, gap = "above", total - call.max_award
    else:
        state, gap = "within", Decimal("0")
    return BudgetRunning(
        total=total,
        minimum=call.min_award,
        maximum=call.max_award,
        cap=call.max_per_year,
        state=state,
        gap=gap,
        years_over_cap=[year for year, amount in sorted(requested.items()) if amount > call.max_per_year],
    )
