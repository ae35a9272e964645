"""The confirmation step's helpers: what the recap posts again, and how a view tells the steps apart."""

from django.http import QueryDict
from django.test import RequestFactory

from accounts.confirmation import is_confirmed, repeated_fields, wants_edit


def test_the_recap_repeats_every_posted_value_but_the_token_and_the_flags():
    data = QueryDict(mutable=True)
    data.setlist("references", ["FDT-2026-00001", "FDT-2026-00002"])
    data["reasons"] = "Premier motif.\r\nSecond motif."
    data["csrfmiddlewaretoken"] = "jeton"
    data["confirmer"] = "1"
    data["modifier"] = "1"
    assert repeated_fields(data) == [
        ("references", "FDT-2026-00001"),
        ("references", "FDT-2026-00002"),
        ("reasons", "Premier motif.\r\nSecond motif."),
    ]


def test_only_the_confirm_button_confirms_and_only_a_post():
    factory = RequestFactory()
    assert is_confirmed(factory.post("/", {"confirmer": "1"}))
    assert not is_confirmed(factory.post("/", {"confirmer": "oui"}))
    assert not is_confirmed(factory.post("/", {"amount": "150 000"}))
    assert not is_confirmed(factory.get("/", {"confirmer": "1"}))
    assert wants_edit(factory.post("/", {"modifier": "1"}))
    assert not wants_edit(factory.post("/", {"confirmer": "1"}))
