"""Select and text widgets that write their HTML in Python rather than through the form renderer.

Django renders each widget through its template renderer: a select of 101 départements is one
template render plus 101 included option templates and their attribute includes, several
milliseconds per page for markup that never varies in shape. These widgets give the exact bytes of
Django's own templates (django/forms/widgets/select.html, select_option.html, input.html and
attrs.html; tests/core/test_widgets.py compares them), so the DSFR markup, the `selected` state and
the attributes crispy adds stay the same (Django's renderer strips its output: so do they). Used
where a form's widgets are drawn on a busy page (the instructors' filters, issue 13).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django import forms
from django.forms.models import ModelChoiceIterator
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe


def _attrs(attrs: Mapping[str, Any]) -> str:
    """django/forms/widgets/attrs.html: False left out, True as a bare name, the rest as str()."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {conditional_escape(name)}")
        else:
            parts.append(f' {conditional_escape(name)}="{conditional_escape(str(value))}"')
    return "".join(parts)


def _options(options: Iterable[Mapping[str, Any]]) -> str:
    return "".join(
        f'\n  <option value="{conditional_escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
        f"{conditional_escape(option['label'])}</option>\n"
        for option in options
    )


class FastSelect(forms.Select):
    """forms.Select, rendered without the template engine (same HTML)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        body = []
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                body.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            body.append(_options(group_choices))
            if group_name:
                body.append("\n  </optgroup>")
        opening = f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>'
        return mark_safe(f"{opening}{''.join(body)}\n</select>")  # noqa: S308 - every value escaped above


class FastInputMixin:
    """django/forms/widgets/input.html for the input widgets (text, number...), without the engine."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]  # type: ignore[attr-defined]
        shown = "" if widget["value"] is None else f' value="{conditional_escape(str(widget["value"]))}"'
        return mark_safe(  # noqa: S308 - every value above went through conditional_escape
            f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"'
            f"{shown}{_attrs(widget['attrs'])}>"
        )


class FastTextInput(FastInputMixin, forms.TextInput):
    pass


class FastNumberInput(FastInputMixin, forms.NumberInput):
    pass


class ListedChoiceIterator(ModelChoiceIterator):  # type: ignore[type-arg]
    """The choices of a ModelChoiceField read by one plain SELECT.

    Django's iterator reads them through `QuerySet.iterator()`, which on PostgreSQL opens a
    server-side cursor (DECLARE, FETCH, CLOSE: three round trips) to save memory on huge choice
    lists; a filter's few dozen calls or départements gain nothing from it. A field given
    `columns` reads them as tuples (no model instances: a hundred départements cost a
    millisecond as instances), the first column the option's value, `label_from_columns` its
    label; the field's test checks both against the instances' own.
    """

    def __iter__(self) -> Any:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        listed = getattr(self.field, "listed_choices", None)
        if listed is not None:  # read already by the page (see ListedModelChoiceField)
            yield from listed
            return
        columns = getattr(self.field, "columns", None)
        if columns:
            label = self.field.label_from_columns  # type: ignore[attr-defined]
            for row in self.queryset.values_list(*columns):
                yield (row[0], label(*row))
            return
        for obj in list(self.queryset.all()):
            yield self.choice(obj)


class ListedModelChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    iterator = ListedChoiceIterator

    def __init__(
        self,
        *args: Any,
        columns: tuple[str, ...] = (),
        label_from_columns: Callable[..., str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.columns = columns
        self.label_from_columns = label_from_columns
        # (value, label) pairs the page has read already from the same queryset, if any.
        self.listed_choices: list[tuple[Any, str]] | None = None
