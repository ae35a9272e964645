from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django import template
from django.forms.boundfield import BoundField
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.badges import badge_classes
from core.fields import dsfr_field as draw_dsfr_field
from core.formatting import (
    format_date,
    format_datetime,
    format_days,
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
def days(value: float | Decimal | int | None) -> str:
    """{{ median.days|days }} -> "12,5 jours": a duration in days, the French way."""
    return format_days(value)


@register.filter
def amount_input(value: Decimal | int | str | None) -> str:
    """{{ amount|amount_input }} -> "50 000,00": an amount prefilled in a form, the French way."""
    return format_decimal_input(value)


@register.filter
def dsfr_field(field: BoundField) -> SafeString:
    """{{ form.field|dsfr_field }}: the same HTML as `|as_crispy_field`, written in Python (core.fields)."""
    return draw_dsfr_field(field)


@register.filter
def long_date(value: date | datetime | None) -> str:
    """{{ day|long_date }} -> "1er janvier 2027": the French long date of letters and pages."""
    return format_date(value)


@register.filter
def long_datetime(value: datetime | None) -> str:
    """{{ moment|long_datetime }} -> "1er janvier 2027 à 09:05", on the local clock."""
    return format_datetime(value)


@register.simple_tag
def status_badge(obj: Any, field: str = "status", *, small: bool = False, no_icon: bool = False) -> str:
    """{% status_badge application small=True %}: the status's DSFR badge, with its label.

    The enum is the one nested in the object's model under the field's name in CamelCase
    (`status` -> `Application.Status`, `verdict` -> `Opinion.Verdict`); its member says its badge
    (`badge`) and its label.
    """
    enum = getattr(type(obj), "".join(part.title() for part in field.split("_")))
    status = enum(getattr(obj, field))
    return format_html(
        '<span class="{}">{}</span>', badge_classes(status, small=small, no_icon=no_icon), status.label
    )
