"""{% status_badge %}: each status enum says its DSFR badge, and the tag draws the markup pages used."""

from typing import Any

import pytest
from django.template import Context, Template

from applications.models import Application, Call, Opinion
from core.badges import Badge
from grants.models import Agreement, Report, Tranche

# The classes each status was drawn with before the enums said it (templates and view mappings).
EXPECTED: list[tuple[Any, str]] = [
    (Application.Status.DRAFT, "fr-badge--new"),
    (Application.Status.SUBMITTED, "fr-badge--info"),
    (Application.Status.IN_REVIEW, "fr-badge--info"),
    (Application.Status.CORRECTIONS, "fr-badge--warning"),
    (Application.Status.AWARDED, "fr-badge--success"),
    (Application.Status.REFUSED, "fr-badge--error"),
    (Application.Status.CLOSED, "fr-badge--error"),
    (Application.Status.WITHDRAWN, "fr-badge--error"),
    (Agreement.Status.AWAITING_SIGNATURE, "fr-badge--new"),
    (Agreement.Status.SIGNED, "fr-badge--info"),
    (Agreement.Status.ACTIVE, "fr-badge--success"),
    (Agreement.Status.COMPLETED, "fr-badge--info"),
    (Agreement.Status.TERMINATED, "fr-badge--error"),
    (Agreement.Status.CANCELLED, "fr-badge--error"),
    (Tranche.Status.SCHEDULED, ""),
    (Tranche.Status.REQUESTED, "fr-badge--new"),
    (Tranche.Status.VALIDATED, "fr-badge--info"),
    (Tranche.Status.PAID, "fr-badge--success"),
    (Tranche.Status.CANCELLED, "fr-badge--error"),
    (Report.Status.SUBMITTED, "fr-badge--new"),
    (Report.Status.ACCEPTED, "fr-badge--success"),
    (Report.Status.REJECTED, "fr-badge--error"),
    (Call.Status.DRAFT, "fr-badge--info"),
    (Call.Status.OPEN, "fr-badge--info"),
    (Call.Status.CLOSED, "fr-badge--info"),
    (Opinion.Verdict.PENDING, "fr-badge--warning"),
    (Opinion.Verdict.FAVOURABLE, "fr-badge--success"),
    (Opinion.Verdict.RESERVED, "fr-badge--warning"),
    (Opinion.Verdict.UNFAVOURABLE, "fr-badge--error"),
    (Opinion.Verdict.YES, "fr-badge--success"),
    (Opinion.Verdict.NO, "fr-badge--error"),
    (Opinion.Status.REQUESTED, "fr-badge--info"),
    (Opinion.Status.GIVEN, "fr-badge--success"),
    (Opinion.Status.CANCELLED, ""),
]


def test_every_member_of_every_status_enum_says_its_badge() -> None:
    # Enum members equal their values ("draft" is a dossier's and a call's): compare by identity.
    enums = {type(member) for member, _ in EXPECTED}
    assert sorted(map(repr, (member for enum in enums for member in enum))) == sorted(
        repr(member) for member, _ in EXPECTED
    )
    for member, expected in EXPECTED:
        assert isinstance(member.badge, Badge)
        assert member.badge == expected, member


def _render(source: str, **context: Any) -> str:
    return Template("{% load portal %}" + source).render(Context(context))


@pytest.mark.parametrize("status", list(Application.Status))
def test_the_tag_draws_a_dossiers_badge_as_the_pages_did(status: Application.Status) -> None:
    application = Application(status=status)
    expected = dict((repr(member), classes) for member, classes in EXPECTED)[repr(status)]
    assert _render("{% status_badge application small=True %}", application=application) == (
        f'<span class="fr-badge fr-badge--sm {expected}">{status.label}</span>'
    )
    assert _render("{% status_badge application %}", application=application) == (
        f'<span class="fr-badge {expected}">{status.label}</span>'
    )


def test_modifiers_come_first_and_a_neutral_badge_has_no_status_class() -> None:
    tranche = Tranche(status=Tranche.Status.SCHEDULED)
    assert _render("{% status_badge tranche small=True no_icon=True %}", tranche=tranche) == (
        '<span class="fr-badge fr-badge--sm fr-badge--no-icon">Programmée</span>'
    )
    agreement = Agreement(status=Agreement.Status.ACTIVE)
    assert _render("{% status_badge agreement no_icon=True %}", agreement=agreement) == (
        '<span class="fr-badge fr-badge--no-icon fr-badge--success">En cours</span>'
    )


def test_another_field_names_its_own_enum() -> None:
    opinion = Opinion(verdict=Opinion.Verdict.UNFAVOURABLE)
    assert _render('{% status_badge opinion "verdict" small=True %}', opinion=opinion) == (
        '<span class="fr-badge fr-badge--sm fr-badge--error">Défavorable</span>'
    )


def test_the_label_is_escaped() -> None:
    class Strange(str):
        badge = Badge.INFO
        label = "<b>état</b>"

    class Thing:
        Status = Strange
        status = "x"

    rendered = _render("{% status_badge thing %}", thing=Thing())
    assert "&lt;b&gt;état&lt;/b&gt;" in rendered
