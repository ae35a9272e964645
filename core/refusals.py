"""How a view shows a service's refusal: next to the field it names, or as a message on the page.

Services refuse with a ValidationError (see docs/architecture.md): a dict one names the fields
it is about (`{"amount": ...}`), a plain one is about the whole action (« the dossier is no
longer editable »). Views use these helpers rather than guessing each in its own way.
Hand-written: Django's `form.add_error(None, error)` raises on a key the form does not have,
and knows nothing of page messages.
"""

from collections.abc import Collection

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest


def apply_refusal(form: forms.BaseForm, error: ValidationError, *, fallback_field: str | None = None) -> None:
    """Put the refusal on `form`: each named field's errors next to it, the rest on `fallback_field`
    (the form's own errors, shown at its top, when None)."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            target = name if name in form.fields else fallback_field
            for item in errors:
                form.add_error(target, item)
    else:
        form.add_error(fallback_field, error)


def is_page_refusal(
    error: ValidationError, *, form: forms.BaseForm | None = None, codes: Collection[str] | None = None
) -> bool:
    """Whether the refusal belongs on the page rather than in a form.

    A refusal naming fields goes to the form, unless `form` is given and has none of them (the
    page no longer shows the fields it is about). A plain refusal goes to the page; with `codes`,
    only when every one of its errors has one of these codes (the others are the form's).
    """
    if hasattr(error, "error_dict"):
        return form is not None and not any(name in form.fields for name in error.error_dict)
    if codes is None:
        return True
    return all(item.code in codes for item in error.error_list)


def refusal_messages(error: ValidationError | PermissionDenied) -> list[str]:
    """The refusal's sentences, in French, ready to show."""
    if isinstance(error, ValidationError):
        return [str(message) for message in error.messages]
    return [str(error)]


def say_refusal(request: HttpRequest, error: ValidationError | PermissionDenied) -> None:
    """Each sentence of the refusal as an error message on the next page."""
    for message in refusal_messages(error):
        messages.error(request, message)
