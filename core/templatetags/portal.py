from datetime import date, datetime
from decimal import Decimal

from django import template

from core.formatting import (
    format_date,
    format_datetime,
    format_decimal_input,
    format_money,
    format_percent,
)

register = template.Library()


@register.filter
def money(value: Decimal | int | str | None) -> str:
    """{{ amount|money }} -> "150 000 €"."""
    return format_money(value)


@register.filter
def percent(value: Decimal | int | str | None) -> str:
    """{{ share|percent }} -> "60 %" (never "60.00 %")."""
    return format_percent(value)


@register.filter
def amount_input(value: Decimal | int | str | None) -> str:
    """{{ amount|amount_input }} -> "50 000,00": an amount prefilled in a form, the French way."""
    return format_decimal_input(value)


@register.filter
def long_date(value: date | datetime | None) -> str:
    """{{ day|long_date }} -> "1er janvier 2027": the French long date of letters and pages."""
    return format_date(value)


@register.filter
def long_datetime(value: datetime | None) -> str:
    """{{ moment|long_datetime }} -> "1er janvier 2027 à 09:05", on the local clock."""
    return format_datetime(value)
