"""core.refusals: a service's refusal lands next to its field, on top of its form, or on the page."""

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory

from core.refusals import apply_refusal, is_page_refusal, refusal_messages, say_refusal


class AmountForm(forms.Form):
    amount = forms.CharField(required=False)
    file = forms.CharField(required=False)


def _bound() -> AmountForm:
    form = AmountForm({"amount": "10", "file": "x"})
    assert form.is_valid()
    return form


def test_named_fields_get_their_errors_and_unknown_names_go_on_top() -> None:
    form = _bound()
    apply_refusal(form, ValidationError({"amount": "Trop élevé.", "envelope": "Enveloppe épuisée."}))
    assert form.errors["amount"] == ["Trop élevé."]
    assert form.non_field_errors() == ["Enveloppe épuisée."]


def test_a_plain_refusal_goes_on_top_or_under_the_fallback_field() -> None:
    form = _bound()
    apply_refusal(form, ValidationError("Le dossier n'est plus modifiable."))
    assert form.non_field_errors() == ["Le dossier n'est plus modifiable."]
    other = _bound()
    apply_refusal(other, ValidationError({"size": "Trop gros."}), fallback_field="file")
    assert other.errors["file"] == ["Trop gros."]


@pytest.mark.parametrize(
    ("error", "options", "page"),
    [
        (ValidationError("Dossier clos.", code="state"), {}, True),
        (ValidationError({"amount": "Trop élevé."}), {}, False),
        (ValidationError("Dossier clos.", code="state"), {"codes": {"state"}}, True),
        (ValidationError("Montant hors bornes.", code="bounds"), {"codes": {"state"}}, False),
        (ValidationError({"year": "Année hors convention."}), {"form": AmountForm()}, True),
        (ValidationError({"amount": "Trop élevé."}), {"form": AmountForm()}, False),
    ],
)
def test_which_refusals_belong_on_the_page(error: ValidationError, options: dict, page: bool) -> None:
    assert is_page_refusal(error, **options) is page


def test_the_page_message_says_each_sentence() -> None:
    request = RequestFactory().post("/")
    request.session = SessionStore()  # type: ignore[attr-defined]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    say_refusal(request, ValidationError(["Premier motif.", "Second motif."]))
    say_refusal(request, PermissionDenied("Réservé aux administrateurs."))
    assert [str(message) for message in get_messages(request)] == [
        "Premier motif.",
        "Second motif.",
        "Réservé aux administrateurs.",
    ]
    assert refusal_messages(ValidationError({"amount": "Trop élevé."})) == ["Trop élevé."]
