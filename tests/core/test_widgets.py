"""core.widgets: the Python-rendered widgets give the very bytes of Django's widget templates."""

from typing import Any

import pytest
from django import forms
from django.http import QueryDict
from django.utils import timezone

from applications.forms_workspace import WorkspaceFilterForm
from applications.models import Wave
from core.widgets import FastNumberInput, FastSelect, FastTextInput
from fabriques.models import Departement
from tests.factories import CallFactory

TEMPLATE_RENDERED = {
    FastSelect: forms.Select,
    FastTextInput: forms.TextInput,
    FastNumberInput: forms.NumberInput,
}


def _django(widget: Any, name: str, value: Any, attrs: dict[str, Any] | None) -> str:
    """What Django's own widget (its templates, through the form renderer) writes."""
    return str(TEMPLATE_RENDERED[type(widget)].render(widget, name, value, attrs))


@pytest.mark.parametrize(
    ("widget", "value", "attrs"),
    [
        (FastSelect(choices=[("", "Tous"), ("a", "A & <b>"), ("2", "deux")]), "a", {"class": "fr-select"}),
        (FastSelect(choices=[("", "Tous"), ("a", "A")]), None, {"required": True, "disabled": False}),
        (FastSelect(choices=[("Groupe « 1 »", [("a", "A"), ("b", "B")]), ("c", "C")]), "b", None),
        (FastSelect(choices=[(1, "un"), (2, "deux")]), 2, {"aria-describedby": 'aide "x"'}),
        (FastTextInput(), 'a"b<script>', {"class": "fr-input", "maxlength": 200}),
        (FastTextInput(), None, {"autofocus": True}),
        (FastNumberInput(), 3, {"min": 0}),
    ],
)
def test_fast_widgets_write_what_django_templates_write(widget: Any, value: Any, attrs: Any) -> None:
    html = widget.render("champ", value, attrs)
    assert html == _django(widget, "champ", value, attrs)
    assert "<script>" not in html


@pytest.mark.django_db
def test_workspace_filters_render_as_with_django_widgets_selected_state_kept() -> None:
    wave = Wave.objects.create(
        call=CallFactory(status="open"), number=1, name="Vague « 1 »", deadline=timezone.now()
    )
    query = QueryDict(
        f"q=Tiers&departement=32&zone=qpv&kind=ft&call={wave.call.pk}&wave={wave.pk}"
        "&status=submitted&score_min=12,5&score_max=abc&assigned=7&overdue=1&opinions_overdue=1&sort=-score"
        "&per_page=50"
    )
    form = WorkspaceFilterForm(
        query, departements=Departement.objects.order_by("code"), instructors=[(7, "Camille Martin")]
    )
    form.is_valid()
    assert len(form.fields) == 14
    for field in form:
        widget = field.field.widget
        assert type(widget) in TEMPLATE_RENDERED, field.name  # every widget of the list is a fast one
        attrs = {"class": "fr-select" if isinstance(widget, forms.Select) else "fr-input"}
        fast = field.as_widget(attrs=attrs)
        fast_class = type(widget)
        widget.__class__ = TEMPLATE_RENDERED[fast_class]  # the same bound field, drawn by Django's templates
        try:
            django = field.as_widget(attrs=attrs)
        finally:
            widget.__class__ = fast_class
        assert fast == django, field.name
    html = str(form["departement"].as_widget())
    assert html.count("<option") == Departement.objects.count() + 1
    assert '<option value="32" selected>' in html
    assert '<option value="-score" selected>' in str(form["sort"].as_widget())
    assert '<option value="7" selected>Affectés à Camille Martin</option>' in str(
        form["assigned"].as_widget()
    )
    assert 'value="Tiers"' in str(form["q"].as_widget())


@pytest.mark.django_db
def test_choices_read_as_tuples_are_the_instances_values_and_labels() -> None:
    call = CallFactory(status="open", title="Appel « 2026 » & co")
    CallFactory(status="closed", title="Un autre appel")
    Wave.objects.create(call=call, number=1, name="Vague <1>", deadline=timezone.now())
    Wave.objects.create(call=call, number=2, name="Vague 2", deadline=timezone.now())
    form = WorkspaceFilterForm(QueryDict(""), departements=Departement.objects.order_by("code"))
    for name in ("departement", "call", "wave"):
        field = form.fields[name]
        from_instances = [("", field.empty_label)] + [
            (field.prepare_value(obj), field.label_from_instance(obj)) for obj in field.queryset
        ]
        read = list(field.choices)
        assert [(str(value), label) for value, label in read] == [
            (str(value), label) for value, label in from_instances
        ], name
        assert len(read) > 2, name
