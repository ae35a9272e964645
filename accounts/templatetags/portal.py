from decimal import Decimal

from django import template

from accounts.formatting import format_money

register = template.Library()


@register.filter
def money(value: Decimal | int | str | None) -> str:
    """{{ amount|money }} -> "150 000 €"."""
    return format_money(value)
