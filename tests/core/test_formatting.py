"""French forms in pages and forms: percentages, amounts prefilled, French alphabetical order."""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from accounts.forms import MoneyField
from applications.forms import BudgetForm, DossierCreateForm
from applications.models import Application, Call
from core.formatting import (
    format_date,
    format_datetime,
    format_days,
    format_decimal_input,
    format_percent,
    french_sort_key,
    french_sorted,
)
from fabriques.models import Departement, Organisation, Region
from grants.selectors.envelope import envelope_figures
from tests.factories import CallFactory, OrganisationFactory, applicant, member_of, programme_admin

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("60.00"), f"60{NBSP}%"),
        (Decimal("12.50"), f"12,5{NBSP}%"),
        (Decimal("0.5"), f"0,5{NBSP}%"),
        (100, f"100{NBSP}%"),
        (Decimal("33.333"), f"33,33{NBSP}%"),
        ("", ""),
        (None, ""),
    ],
)
def test_percentages_are_written_the_french_way(value, expected):
    assert format_percent(value) == expected
    assert Template("{% load portal %}{{ value|percent }}").render(Context({"value": value})) == expected


def test_amounts_are_prefilled_the_french_way_and_read_back():
    assert format_decimal_input(Decimal("50000")) == f"50{NBSP}000,00"
    assert format_decimal_input(Decimal("74999.9")) == f"74{NBSP}999,90"
    field = MoneyField(max_digits=14, decimal_places=2)
    assert field.prepare_value(Decimal("50000.00")) == f"50{NBSP}000,00"
    for typed in ("50 000,00", f"50{NBSP}000,00", "50\u202f000", "50000.00"):
        assert field.clean(typed) == Decimal("50000")


@pytest.mark.django_db
def test_the_budget_form_prefills_french_amounts():
    form = BudgetForm(years=range(1, 4), initial={"requested_1": Decimal("50000.00")})
    html = str(form["requested_1"])
    assert f'value="50{NBSP}000,00"' in html
    assert "50000.00" not in html


@pytest.mark.django_db
def test_the_call_admin_prefills_french_amounts(client):
    call = CallFactory(envelope=Decimal("54000000"), max_per_year=Decimal("50000"))
    client.force_login(programme_admin(is_superuser=True))
    page = client.get(reverse("admin:applications_call_change", args=[call.pk])).content.decode()
    assert f'value="50{NBSP}000,00"' in page
    assert f'value="54{NBSP}000{NBSP}000,00"' in page
    assert "50000.00" not in page


def test_french_order_puts_accented_capitals_among_their_letter():
    names = [
        "Occitanie",
        "Île-de-France",
        "Hauts-de-France",
        "Grand Est",
        "Écully",
        "Zone",
        "Ile Test",
        "Œuvre",
    ]
    assert french_sorted(names) == [
        "Écully",
        "Grand Est",
        "Hauts-de-France",
        "Île-de-France",
        "Ile Test",
        "Occitanie",
        "Œuvre",
        "Zone",
    ]
    assert french_sort_key("L’Île") == french_sort_key("l'ile")


@pytest.mark.django_db
def test_the_lead_structure_select_and_the_structures_list_are_in_french_order(client):
    user = applicant()
    for name in ("Zèbre coopérative", "Écolieu du Gers", "Atelier partagé"):
        member_of(OrganisationFactory(name=name), user)
    organisations = Organisation.objects.filter(memberships__user=user).order_by("name")
    form = DossierCreateForm(
        calls=Call.objects.all(), organisations=organisations, refused=Application.objects.none()
    )
    labels = [label for _value, label in form.fields["lead_organisation"].choices][1:]
    assert labels == ["Atelier partagé", "Écolieu du Gers", "Zèbre coopérative"]

    client.force_login(user)
    page = client.get(reverse("fabriques:organisation-list")).content.decode()
    assert page.index("Atelier partagé") < page.index("Écolieu du Gers") < page.index("Zèbre coopérative")


@pytest.mark.django_db
def test_the_regions_of_the_dashboard_are_in_french_order():
    call = CallFactory()
    rows = envelope_figures(call)["by_region"]
    names = [row["name"] for row in rows if row["name"] in {"Hauts-de-France", "Île-de-France", "Normandie"}]
    assert names == ["Hauts-de-France", "Île-de-France", "Normandie"]
    assert Region.objects.filter(name="Île-de-France").exists() and Departement.objects.exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2027, 1, 1), "1er janvier 2027"),
        (date(2027, 2, 2), "2 février 2027"),
        (date(2026, 8, 15), "15 août 2026"),
        (date(2026, 12, 31), "31 décembre 2026"),
        (None, ""),
    ],
)
def test_a_date_is_written_the_french_way_with_the_first_of_the_month_as_1er(value, expected):
    assert format_date(value) == expected


def test_a_moment_is_dated_on_its_local_day_whatever_the_active_language():
    # 23:30 UTC on 31 December is already 1 January in Paris.
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    with translation.override("en"):
        assert format_date(moment) == "1er janvier 2027"
        assert format_datetime(moment) == "1er janvier 2027 à 00:30"
    rendered = Template("{% load portal %}{{ day|long_date }} · {{ moment|long_datetime }}").render(
        Context({"day": date(2027, 5, 1), "moment": moment})
    )
    assert rendered == "1er mai 2027 · 1er janvier 2027 à 00:30"


def test_no_module_keeps_its_own_long_date_formatter():
    """Dates are written by `format_date` alone: a copy would drift (no « 1er », another locale)."""
    root = Path(__file__).resolve().parents[2]
    copies = [
        str(path.relative_to(root))
        for folder in ("accounts", "applications", "fabriques", "grants", "notifications", "templates")
        for path in (root / folder).rglob("*")
        if path.suffix in {".py", ".html", ".txt"}
        and ("def _long_date" in (text := path.read_text()) or '"j F Y' in text)
    ]
    assert copies == []


def test_days_are_written_the_french_way() -> None:
    assert format_days(12.5) == "12,5 jours"
    assert format_days(9.0) == "9 jours"
    assert format_days(1) == "1 jour"
    assert format_days(1.5) == "1,5 jour"
    assert format_days(0.04) == "0 jour"
    assert format_days(1234.56) == "1\u00a0234,6 jours"
    assert format_days(None) == ""
    # And in a template, through the filter.
    assert Template("{% load portal %}{{ value|days }}").render(Context({"value": 3.25})) == "3,3 jours"
