"""`manage.py envelope_status`: the envelope's figures as JSON (decimal strings) or French text."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from applications.models import Call
from core.formatting import format_money
from grants.models import Grant
from tests.grants.test_dashboard import build, expected_figures, money, programme_built

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("envelope_status", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def programme() -> Call:
    return programme_built()


def test_the_json_output_gives_the_sums_as_decimal_strings(programme):
    call = programme
    expected = expected_figures(call)
    data = json.loads(run("--call", call.slug, "--json"))

    assert set(data) == {
        "call",
        "envelope",
        "committed",
        "paid",
        "remaining",
        "laureates",
        "target",
        "by_region",
        "by_year",
    }
    assert data["call"] == call.slug
    for key in ("envelope", "committed", "paid", "remaining"):
        assert isinstance(data[key], str) and data[key].count(".") == 1 and len(data[key].split(".")[1]) == 2
    assert Decimal(data["envelope"]) == call.envelope
    assert data["committed"] == f"{money(expected['committed'])}"
    assert Decimal(data["committed"]) == call.committed_amount
    assert data["paid"] == f"{money(expected['paid'])}"
    assert Decimal(data["remaining"]) == call.envelope - expected["committed"]
    assert data["laureates"] == expected["laureates"] == 6
    assert data["target"] == call.target_count

    regions = {row["code"]: row for row in data["by_region"]}
    assert len(regions) == 18
    for code, row in regions.items():
        assert set(row) == {"code", "name", "laureates", "committed", "paid"}
        wanted = expected["by_region"].get(
            code, {"laureates": 0, "committed": Decimal(0), "paid": Decimal(0)}
        )
        assert (row["laureates"], Decimal(row["committed"]), Decimal(row["paid"])) == (
            wanted["laureates"],
            wanted["committed"],
            wanted["paid"],
        )
    assert regions["76"]["name"] == "Occitanie" and regions["76"]["laureates"] == 2
    assert sum(row["laureates"] for row in data["by_region"]) == 6

    years = {row["year"]: row for row in data["by_year"]}
    assert set(years) == set(expected["by_year"])
    for year, values in expected["by_year"].items():
        assert years[year]["scheduled"] == f"{money(values['scheduled'])}"
        assert years[year]["paid"] == f"{money(values['paid'])}"
    assert sum(Decimal(row["paid"]) for row in data["by_year"]) == Decimal(data["paid"])
    # Every euro committed is in a tranche, paid or still to pay: the FNT bonus rides on the first.
    bonuses = sum((grant.bonus for grant in Grant.objects.filter(call=call, status="active")), Decimal(0))
    assert bonuses == Decimal("200000")
    assert sum(Decimal(row["scheduled"]) + Decimal(row["paid"]) for row in data["by_year"]) == Decimal(
        data["committed"]
    )


def test_the_text_output_is_french_and_formatted(programme):
    call = programme
    expected = expected_figures(call)
    text = run("--call", call.slug)
    assert f"Appel : {call.title} ({call.slug})" in text
    assert f"Engagé : {format_money(expected['committed'])}" in text
    assert f"Versé : {format_money(expected['paid'])}" in text
    assert f"Lauréats : 6 sur un objectif de {call.target_count}" in text
    assert "Occitanie : 2 lauréat(s)" in text
    assert "Par année :" in text


def test_an_empty_call_gives_zeros():
    call = build([])
    data = json.loads(run("--call", call.slug, "--json"))
    assert (data["committed"], data["paid"], data["laureates"], data["by_year"]) == ("0.00", "0.00", 0, [])
    assert data["remaining"] == f"{call.envelope:.2f}"


def test_an_unknown_call_is_an_error_in_french():
    with pytest.raises(CommandError, match="Appel inconnu : nulle-part"):
        run("--call", "nulle-part", "--json")
