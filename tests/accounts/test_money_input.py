"""Amounts are read with whatever space a French keyboard, a word processor or a copy gives."""

from decimal import Decimal

import pytest
from django import forms
from django.db import models

from accounts.forms import MoneyField
from core.formatting import parse_money

SPACES = {
    "space": " ",
    "no-break space": "\u00a0",
    "narrow no-break space": "\u202f",  # what format_money writes, and macOS types
    "thin space": "\u2009",  # what word processors and some spreadsheets put between thousands
}


@pytest.mark.parametrize("space", sorted(SPACES))
def test_every_thousands_space_is_read(space):
    separator = SPACES[space]
    assert parse_money(f"150{separator}000") == Decimal("150000")
    assert parse_money(f"1{separator}074{separator}999,99{separator}€") == Decimal("1074999.99")
    assert MoneyField().clean(f"49{separator}999,99") == Decimal("49999.99")
    assert MoneyField().clean(f"{separator}150{separator}000{separator}") == Decimal("150000")


def test_other_characters_are_still_refused():
    for text in ["150'000", "150\u2009000x", "15O\u2009000", "150\t000"]:
        with pytest.raises(forms.ValidationError) as refused:
            MoneyField().clean(text)
        assert "Saisissez un montant en euros" in refused.value.messages[0]


def test_one_amount_field_serves_the_budget_the_review_and_the_admin_site():
    from applications.admin import CallAdmin
    from applications.forms import BudgetForm
    from applications.forms_review import AwardForm
    from grants.forms.agreements import AmendForm

    assert type(AwardForm(years=3).fields["amount"]) is MoneyField
    assert type(AmendForm(years=3).fields["yearly_2"]) is MoneyField
    assert isinstance(BudgetForm(years=range(1, 2)).fields["requested_1"], MoneyField)
    assert CallAdmin.formfield_overrides[models.DecimalField]["form_class"] is MoneyField
    # An empty budget cell counts as nothing; an empty award stays empty, so `required` applies.
    assert MoneyField(required=False, empty_value=Decimal("0")).clean("") == Decimal("0")
    assert MoneyField(required=False).clean("  ") is None
    with pytest.raises(forms.ValidationError) as refused:
        MoneyField().clean("")
    assert refused.value.code == "required"
    # The admin's bounds still apply, with the French message for what is no amount.
    with pytest.raises(forms.ValidationError) as too_long:
        MoneyField(max_digits=4, decimal_places=2).clean("1 000,00")
    assert "4 chiffres" in too_long.value.messages[0]
    assert MoneyField().prepare_value(Decimal("50000")) == "50\u00a0000,00"
