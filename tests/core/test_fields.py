"""core.fields: a field drawn in Python gives the very bytes of `field|as_crispy_field`."""

from decimal import Decimal
from typing import Any

import pytest
from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from django import forms
from django.http import QueryDict
from django.utils import timezone

from applications.forms_workspace import WorkspaceFilterForm
from applications.models import Wave
from core.fields import dsfr_field
from core.widgets import FastNumberInput, FastSelect, FastTextInput
from fabriques.models import Departement
from tests.factories import CallFactory


class SampleForm(forms.Form):
    """Every case of the two branches drawn in Python: required or not, hint or not, errors."""

    name = forms.CharField(label="Nom « complet » & <b>", max_length=20)
    note = forms.CharField(label="Note", required=False, help_text="Une aide <i>avec</i> « guillemets »")
    plain = forms.CharField(label="Simple", required=False, widget=FastTextInput(attrs={"class": "extra"}))
    count = forms.IntegerField(label="Nombre", min_value=0, widget=FastNumberInput, help_text="Au moins 0")
    amount = forms.DecimalField(
        label="Montant", required=False, localize=True, max_digits=6, decimal_places=2
    )
    choice = forms.ChoiceField(label="Choix", choices=[("", "Aucun"), ("a", "A & B")], widget=FastSelect)
    other = forms.ChoiceField(
        label="Autre", required=False, choices=[("x", "X")], help_text="Aide du choix", widget=forms.Select
    )
    email = forms.EmailField(
        label="Courriel", required=False, widget=forms.EmailInput(attrs={"id": "mon-id"})
    )
    agree = forms.BooleanField(label="J'accepte", required=False)  # drawn by the template (checkbox)
    secret = forms.CharField(required=False, widget=forms.HiddenInput)  # drawn by the template (hidden)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.add_error("note", "Deux erreurs : « une »")
        self.add_error("note", "et <deux>")
        return cleaned


def _pairs(make: Any) -> list[tuple[str, str, str]]:
    """Each field of two identical forms: one drawn by the template, the other in Python, twice
    (crispy keeps its changes to the widget: the second drawing must match too)."""
    template_form, python_form = make(), make()
    for form in (template_form, python_form):
        form.is_valid()
    drawn = []
    for _round in range(2):
        for name in template_form.fields:
            drawn.append(
                (name, str(as_crispy_field(template_form[name])), str(dsfr_field(python_form[name])))
            )
    return drawn


@pytest.mark.parametrize(
    "data",
    [
        None,  # unbound
        {},  # bound, empty: required fields in error
        {"name": "Léa & <Co>", "note": "x", "count": "3", "amount": "12,50", "choice": "a", "other": "x"},
        {"name": "x" * 30, "count": "-1", "amount": "abc", "choice": "zz", "other": "y", "email": "non"},
    ],
)
def test_dsfr_field_writes_what_the_crispy_template_writes(data: Any) -> None:
    def make() -> SampleForm:
        return SampleForm(data) if data is not None else SampleForm(initial={"amount": Decimal("3.5")})

    for name, template_html, python_html in _pairs(make):
        assert python_html == template_html, name


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "",
        "q=Tiers&departement=32&zone=qpv&kind=ft&call={call}&wave={wave}&status=submitted"
        "&score_min=12,5&score_max=50&assigned=7&overdue=1&opinions_overdue=1&sort=-score&per_page=50",
        "departement=999&call=0&wave=abc&zone=x&score_min=80&score_max=20&per_page=7&assigned=8&overdue=2"
        "&opinions_overdue=3"
        "&q=" + "a" * 201,
    ],
)
def test_workspace_filters_drawn_in_python_as_by_the_template(query: str) -> None:
    wave = Wave.objects.create(
        call=CallFactory(status="open"), number=1, name="Vague « 1 »", deadline=timezone.now()
    )
    query = query.format(call=wave.call.pk, wave=wave.pk)

    def make() -> WorkspaceFilterForm:
        return WorkspaceFilterForm(
            QueryDict(query),
            departements=Departement.objects.order_by("code"),
            instructors=[(7, "Camille « Martin » & Cie")],
        )

    drawn = _pairs(make)
    assert len(drawn) == 28  # the fourteen filters, twice
    for name, template_html, python_html in drawn:
        assert python_html == template_html, name
    errors = [name for name, html, _python in drawn if "fr-error-text" in html]
    if query.startswith("departement=999"):
        assert set(errors) == {
            "departement",
            "call",
            "wave",
            "zone",
            "score_max",
            "per_page",
            "q",
            "assigned",
            "overdue",
            "opinions_overdue",
        }
    if query:
        assert any("selected" in html for _name, html, _python in drawn)
