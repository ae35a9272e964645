"""The DSFR badge each status is drawn with, said by the status enums themselves.

Each status enum (a `TextChoices` nested in its model) has a `badge` property returning one of
these classes; the `{% status_badge %}` tag (core/templatetags/portal.py) draws the badge from
it. Hand-written: django-dsfr has no badge tag driven by a model's state, and a mapping next to
each enum keeps a new status from being drawn by a default nobody chose.
"""

from enum import StrEnum
from typing import Protocol


class Badge(StrEnum):
    """The DSFR badge modifiers the portal uses (NEUTRAL: the plain grey badge)."""

    SUCCESS = "fr-badge--success"
    ERROR = "fr-badge--error"
    WARNING = "fr-badge--warning"
    INFO = "fr-badge--info"
    NEW = "fr-badge--new"
    NEUTRAL = ""


class BadgedStatus(Protocol):
    """What the tag needs of a status enum's member."""

    @property
    def badge(self) -> Badge: ...

    @property
    def label(self) -> str: ...


def badge_classes(status: BadgedStatus, *, small: bool = False, no_icon: bool = False) -> str:
    """The class attribute of a status's badge, modifiers first, in the order the pages used."""
    classes = ["fr-badge"]
    if small:
        classes.append("fr-badge--sm")
    if no_icon:
        classes.append("fr-badge--no-icon")
    if status.badge:
        classes.append(str(status.badge))
    return " ".join(classes)
