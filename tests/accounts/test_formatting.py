"""French forms in pages and forms: percentages, amounts prefilled, French alphabetical order."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse

from accounts.formatting import format_decimal_input, format_percent, french_sort_key, french_sorted
from accounts.forms import FrenchDecimalField
from applications.forms import BudgetForm, DossierCreateForm
from applications.models import Application, Call
from fabriques.models import Departement, Organisation, Region
from grants.selectors_envelope import envelope_figures
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
    field = FrenchDecimalField(max_digits=14, decimal_places=2)
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
