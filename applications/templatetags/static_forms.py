"""`|crispy_static`: crispy's rendering of a form that is the same at every request, kept per process.

The review page shows up to nine empty forms (a note, a message, a refusal...) whose fields depend
on no user and no data: rendered by crispy through a dozen templates each, they were a large part
of the page. A form class says so with `renders_the_same = True`; its unbound, untouched instance
is rendered once per process and language, and the same HTML served again. A bound form (with its
values and errors), or any other form, is rendered by crispy as before. Under DEBUG nothing is
kept, so that a template edited in development shows at once.
"""

from typing import Any

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form
from django import forms, template
from django.conf import settings
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

_RENDERED: dict[tuple[type, str | None, str | None], SafeString] = {}


def renders_the_same(form: Any) -> bool:
    """A form of a class that says it renders the same, as built with no argument."""
    return (
        isinstance(form, forms.BaseForm)
        and getattr(type(form), "renders_the_same", False)
        and not form.is_bound
        and not form.initial
        and form.auto_id == "id_%s"
    )


@register.filter
def crispy_static(form: Any) -> SafeString:
    """The same as `|crispy`, computed once per process for a form that renders the same."""
    if settings.DEBUG or not renders_the_same(form):
        return as_crispy_form(form)  # type: ignore[no-any-return]
    key = (type(form), form.prefix, get_language())
    rendered = _RENDERED.get(key)
    if rendered is None:
        rendered = _RENDERED[key] = as_crispy_form(form)
    return rendered
