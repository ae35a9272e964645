"""Properties of the pure rules, checked on generated inputs (hypothesis).

- SIRET: the validator agrees with python-stdnum on every 14-digit string, and with Luhn checks
  of our own (the SIREN's key and the SIRET's) outside La Poste's exception; whatever it is given, it raises nothing but
  ValidationError.
- Amounts: what format_money writes, parse_money reads back; MoneyField never raises anything
  but ValidationError.
- The budget and the yearly split of an award: the split adds up to the amount, its parts are
  within a cent of each other, and budget_errors judges such a budget by the call's rules.

No database: calls are unsaved model instances.
"""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum.fr import siret as stdnum_siret

from accounts.forms import MoneyField
from applications.models import Call
from applications.rules import BUDGET_FIELDS, budget_errors, budget_field_name
from core.formatting import format_money, parse_money
from fabriques.validators import validate_siret
from grants.services.envelope import split_yearly

# 100 examples and no deadline keep CI fast and steady; no example database is kept between runs.
FAST = settings(deadline=None, max_examples=100, database=None)
CENT = Decimal("0.01")
LA_POSTE_SIREN = "356000000"


# --- SIRET --------------------------------------------------------------------------------------


def luhn_valid(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def with_luhn_key(prefix: str) -> str:
    return next(prefix + digit for digit in "0123456789" if luhn_valid(prefix + digit))


def accepted(value: str) -> bool:
    try:
        validate_siret(value)
    except ValidationError:
        return False
    return True


digits_14 = st.text(alphabet="0123456789", min_size=14, max_size=14)
# About one random string in ten has a right key: generate keyed ones on purpose as well, with a
# right or a wrong SIREN key (a SIRET is the SIREN, itself keyed, followed by the NIC and its key).
luhn_14 = st.text(alphabet="0123456789", min_size=13, max_size=13).map(with_luhn_key)
keyed_siren_14 = st.tuples(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
).map(lambda parts: with_luhn_key(with_luhn_key(parts[0]) + parts[1]))
la_poste = st.text(alphabet="0123456789", min_size=5, max_size=5).map(lambda nic: LA_POSTE_SIREN + nic)


@FAST
@given(st.one_of(digits_14, luhn_14, keyed_siren_14, la_poste))
@example("73282932000074")  # a real SIRET
@example("35600000000048")  # La Poste: accepted by its own rule, not by Luhn
def test_siret_validation_agrees_with_stdnum(number: str) -> None:
    assert accepted(number) == stdnum_siret.is_valid(number)


@FAST
@given(st.one_of(digits_14, luhn_14, keyed_siren_14))
@example("00000000100008")  # right SIRET key, wrong SIREN key
def test_siret_validation_is_a_luhn_check_outside_la_poste(number: str) -> None:
    if number.startswith(LA_POSTE_SIREN):
        return
    assert accepted(number) == (luhn_valid(number[:9]) and luhn_valid(number))


@FAST
@given(luhn_14)
def test_spaces_and_dots_typed_in_a_siret_are_ignored(number: str) -> None:
    spaced = f"{number[:3]} {number[3:6]} {number[6:9]} {number[9:]}"
    dotted = f"{number[:3]}.{number[3:6]}.{number[6:9]}.{number[9:]}"
    assert accepted(spaced) == accepted(dotted) == accepted(number)


@FAST
@given(st.one_of(st.text(), st.text(alphabet="0123456789 .-\u00a0٣１²", max_size=20)))
@example("")
@example("１２３４５６７８９０１２３４")  # full-width digits
@example("٣" * 14)  # Arabic-Indic digits: str.isdigit() says yes
@example("²" * 14)
def test_siret_validation_raises_only_validation_errors(value: str) -> None:
    try:
        validate_siret(value)
    except ValidationError as error:
        assert error.messages and all(message.strip() for message in error.messages)


# --- amounts ------------------------------------------------------------------------------------

amounts = st.decimals(
    min_value=Decimal("-999999999999.99"),
    max_value=Decimal("999999999999.99"),  # the largest amount a column holds
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@FAST
@given(amounts)
@example(Decimal("0.00"))
@example(Decimal("150000.00"))
@example(Decimal("74999.99"))
@example(Decimal("-0.01"))
def test_parse_money_reads_back_format_money(amount: Decimal) -> None:
    assert parse_money(format_money(amount)) == amount
    assert parse_money(format_money(amount, cents=True)) == amount


@FAST
@given(amounts)
def test_money_field_reads_what_format_money_writes(amount: Decimal) -> None:
    # What the pages show (« 74 999,99 € ») is what an applicant may type back.
    assert MoneyField(required=False).clean(format_money(amount)) == amount


@FAST
@given(st.text(max_size=40))
def test_parse_money_fails_only_as_the_field_expects(text: str) -> None:
    # MoneyField catches exactly these two.
    try:
        parse_money(text)
    except (InvalidOperation, ValueError):
        pass


@FAST
@given(
    st.one_of(st.text(max_size=40), st.sampled_from(["Infinity", "-inf", "sNaN", "NaN", "1e30", "1E+999999"]))
)
@example("Infinity")
def test_money_field_raises_only_validation_errors(text: str) -> None:
    try:
        MoneyField(required=False).clean(text)
    except ValidationError:
        pass


# --- the budget and the yearly split ------------------------------------------------------------


def make_call(years: int, *, cap: Decimal = Decimal("50000")) -> Call:
    return Call(
        duration_years=years,
        min_award=Decimal("75000"),
        max_award=Decimal("150000"),
        max_per_year=cap,
    )


award_amounts = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("100000000"), places=2, allow_nan=False, allow_infinity=False
)
durations = st.integers(min_value=1, max_value=6)


@FAST
@given(award_amounts, durations)
@example(Decimal("100001"), 3)
@example(Decimal("0.02"), 3)
def test_the_yearly_split_adds_up_to_the_amount(amount: Decimal, years: int) -> None:
    parts = split_yearly(amount, years, [])
    assert len(parts) == years
    assert sum(parts, Decimal("0")) == amount
    assert all(part >= 0 and part == part.quantize(CENT) for part in parts)


@FAST
@given(award_amounts, durations)
@example(Decimal("100001"), 3)
def test_the_yearly_parts_are_within_a_cent_of_each_other(amount: Decimal, years: int) -> None:
    parts = split_yearly(amount, years, [])
    assert max(parts) - min(parts) <= CENT


@FAST
@given(durations, st.data())
def test_a_split_matching_the_request_is_the_request(years: int, data: st.DataObject) -> None:
    asked = data.draw(st.lists(award_amounts, min_size=years, max_size=years))
    total = sum(asked, Decimal("0"))
    assert split_yearly(total, years, asked) == asked


def budget_of(parts: list[Decimal]) -> dict[int, dict[str, Decimal]]:
    """A budget asking `parts`, fully funded by the grant (no other funding)."""
    return {
        year: {"requested": part, "other_funding": Decimal("0"), "total_cost": part}
        for year, part in enumerate(parts, start=1)
    }


@FAST
@given(
    st.decimals(
        min_value=Decimal("1000"),
        max_value=Decimal("400000"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    ),
    st.integers(min_value=1, max_value=5),
)
@example(Decimal("150000"), 3)  # 3 × 50 000: the cap exactly
@example(Decimal("150000.01"), 3)
@example(Decimal("74999.99"), 3)
def test_budget_errors_judges_a_split_by_the_rules(amount: Decimal, years: int) -> None:
    call = make_call(years)
    parts = split_yearly(amount, years, [])
    errors = budget_errors(call=call, years=budget_of(parts))
    within_bounds = call.min_award <= amount <= call.max_award
    within_cap = all(part <= call.max_per_year for part in parts)
    assert (errors == {}) == (within_bounds and within_cap), errors
    assert ("__all__" in errors) == (not within_bounds)
    for year, part in enumerate(parts, start=1):
        assert (budget_field_name("requested", year) in errors) == (part > call.max_per_year)


money = st.decimals(
    min_value=Decimal("-100000"),
    max_value=Decimal("1000000"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@FAST
@given(st.integers(min_value=1, max_value=5), st.data())
def test_budget_errors_names_only_the_budget_inputs(years: int, data: st.DataObject) -> None:
    call = make_call(years)
    budget = {
        year: {field: data.draw(money, label=f"{field}_{year}") for field in BUDGET_FIELDS}
        for year in range(1, years + 1)
    }
    errors = budget_errors(call=call, years=budget)
    names = {"__all__"} | {budget_field_name(field, year) for year in call.years for field in BUDGET_FIELDS}
    assert set(errors) <= names
    assert all(messages and all(isinstance(m, str) and m for m in messages) for messages in errors.values())
    for year, amounts in budget.items():
        for field, value in amounts.items():
            if value < 0:
                assert budget_field_name(field, year) in errors
        if amounts["requested"] + amounts["other_funding"] > amounts["total_cost"]:
            assert budget_field_name("total_cost", year) in errors
    total = sum((amounts["requested"] for amounts in budget.values()), Decimal("0"))
    if not call.min_award <= total <= call.max_award:
        assert "__all__" in errors


@FAST
@given(st.integers(min_value=1, max_value=5), st.sets(st.integers(min_value=0, max_value=8)))
def test_a_budget_without_one_column_per_year_is_refused_as_a_whole(years: int, columns: set[int]) -> None:
    call = make_call(years)
    budget = {year: {field: Decimal("1") for field in BUDGET_FIELDS} for year in columns}
    errors = budget_errors(call=call, years=budget)
    if sorted(columns) != list(call.years):
        assert list(errors) == ["__all__"]
