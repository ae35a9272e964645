"""A form field drawn as `{{ field|as_crispy_field }}` draws it, without the template engine.

`as_crispy_field` renders templates/dsfr_crispy/field.html for each field: the DSFR group (label,
hint, widget, errors) around the widget, through two includes and crispy's `crispy_field` tag.
On a busy page (the instructors' eleven filters, issue 13) that costs several milliseconds for
markup whose shape never varies. `dsfr_field` writes the very bytes of that template for the two
kinds of widget it handles (selects and single-line inputs: text, number...), crispy's changes to
the widget's attributes included (tests/core/test_fields.py compares them, bound and unbound, with
and without errors, hints, required fields); any other widget (checkbox, radios, file, hidden)
goes through the template as before.
"""

from __future__ import annotations

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from django import forms
from django.forms.boundfield import BoundField
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe


def _crispy_attrs(widget: forms.Widget, attrs: dict[str, str]) -> None:
    """What crispy's `{% crispy_field field "name" value ... %}` does to the widget before drawing it:
    its lowercased class name added to its classes, then each attribute added (or its words added
    to the value already there). The widget keeps them, as with the template."""
    class_name = widget.__class__.__name__.lower()
    css_class = widget.attrs.get("class", "")
    if css_class:
        if css_class.find(class_name) == -1:
            css_class += f" {class_name}"
    else:
        css_class = class_name
    widget.attrs["class"] = css_class
    for name, value in attrs.items():
        if name in widget.attrs:
            for word in value.split():
                if word not in widget.attrs[name].split():
                    widget.attrs[name] += " " + word
        else:
            widget.attrs[name] = value


def _handled(field: BoundField) -> bool:
    widget = field.field.widget
    if field.is_hidden or getattr(widget, "widgets", None) is not None or hasattr(widget, "widget"):
        return False
    if isinstance(widget, forms.Select):
        return not isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple)
    if isinstance(widget, forms.CheckboxInput | forms.FileInput):
        return False
    return isinstance(widget, forms.widgets.Input)


def dsfr_field(field: BoundField) -> SafeString:
    """The HTML of `field|as_crispy_field` (templates/dsfr_crispy/field.html), written in Python."""
    if not _handled(field) or getattr(field.form, "helper", None) is not None:
        return as_crispy_field(field)  # type: ignore[no-any-return]
    auto_id = field.auto_id
    error_id = f"{auto_id}-erreurs"
    hint_id = f"{auto_id}_helptext"
    errors = field.errors
    help_text = field.help_text
    is_select = isinstance(field.field.widget, forms.Select)
    if is_select:
        group = "fr-select-group"
        attrs = {"class": "fr-select"}
        if errors:
            attrs = {"class": "fr-select fr-select--error", "aria-describedby": error_id}
    else:
        group = "fr-input-group"
        if errors:
            attrs = {
                "class": "fr-input fr-input--error",
                "aria-describedby": error_id,
                "aria-invalid": "true",
            }
        elif help_text:
            attrs = {"class": "fr-input", "aria-describedby": hint_id}
        else:
            attrs = {"class": "fr-input"}
    # The label is read before the widget is drawn, as in the template (its `for` may follow an id).
    label = [
        f'<label class="fr-label" for="{conditional_escape(field.id_for_label)}">'
        f"{conditional_escape(field.label)}"
    ]
    if field.field.required:
        label.append(' <span class="portal-required" aria-hidden="true">*</span>')
    if help_text:
        label.append(
            f'<span class="fr-hint-text" id="{conditional_escape(hint_id)}">'
            f"{conditional_escape(help_text)}</span>"
        )
    label.append("</label>\n")
    _crispy_attrs(field.field.widget, attrs)
    widget = str(field)
    shown_errors = (
        f'<div id="{conditional_escape(error_id)}">'
        # An ErrorList yields its messages (str or lazy), as the template's loop reads them.
        + "".join(f'<p class="fr-error-text">{conditional_escape(error)}</p>' for error in errors)  # type: ignore[arg-type]
        + "</div>"
        if errors
        else ""
    )
    error_class = f" {group}--error" if errors else ""
    return mark_safe(  # noqa: S308 - every value above went through conditional_escape or is SafeString
        f'\n\n  <div class="{group}{error_class}" id="{conditional_escape(auto_id)}-groupe">\n    '
        f"{''.join(label)}\n    {widget}\n    {shown_errors}\n\n  </div>\n\n\n"
    )
