"""Amounts are read with whatever space a French keyboard, a word processor or a copy gives."""

from decimal import Decimal

import pytest
from django import forms

from accounts.formatting import parse_money
from applications.forms import MoneyField
from applications.forms_review import AmountField

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
    assert AmountField().clean(f"{separator}150{separator}000{separator}") == Decimal("150000")


def test_other_characters_are_still_refused():
    for text in ["150'000", "150\u2009000x", "15O\u2009000", "150\t000"]:
        with pytest.raises(forms.ValidationError) as refused:
            MoneyField().clean(text)
        assert "Saisissez un montant en euros" in refused.value.messages[0]
