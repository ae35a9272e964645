"""Corrections due by a date, in a browser: asked with a date, shown to the applicant, overdue, closed.
Screenshots and axe-core audits as in test_journeys."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.formatting import format_date
from tests.browser.test_journeys import log_in, submit, success_message
from tests.factories import PASSWORD, in_review_application

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_corrections_asked_with_a_due_date_then_overdue_and_the_dossier_closed(new_page, journey):  # type: ignore[no-untyped-def]
    from applications.models import Application

    application, reviewer = in_review_application()
    reference = application.reference
    due = timezone.localdate() + timedelta(days=20)

    desk = new_page()
    log_in(desk, reviewer.email, PASSWORD, journey)
    desk.goto(f"/instruction/dossiers/{reference}/")
    decision = desk.locator("#decision")
    decision.get_by_label("Points à corriger ou à compléter").fill("Joindre les comptes 2025.")
    date_field = decision.get_by_label("À compléter avant le")
    expect(date_field).to_have_value((timezone.localdate() + timedelta(days=15)).isoformat())
    date_field.fill(due.isoformat())
    journey.step(desk, "instructeur complements avec date")
    submit(desk, "Demander les compléments")
    success_message(desk, f"avant le {format_date(due)}")
    expect(desk.locator("#delai-complements")).to_contain_text(f"À fournir avant le {format_date(due)}")
    expect(decision.get_by_role("button", name="Classer sans suite")).to_have_count(0)
    journey.step(desk, "instructeur complements demandes")

    home = new_page()
    log_in(home, application.created_by.email, PASSWORD)
    home.goto(f"/mon-espace/dossiers/{reference}/")
    expect(home.locator("#delai-complements")).to_contain_text(
        f"Compléments demandés : à compléter avant le {format_date(due)}."
    )
    journey.step(home, "porteur delai complements")

    # The due date has come.
    Application.objects.filter(pk=application.pk).update(corrections_due_on=timezone.localdate())
    home.goto("/mon-espace/")
    expect(home.locator("#ce-qui-est-attendu").locator("xpath=..")).to_contain_text("En retard")
    journey.step(home, "porteur complements en retard")

    desk.reload()
    expect(desk.locator("#delai-complements")).to_contain_text("Délai de compléments dépassé")
    reason = decision.get_by_label("Motif du classement sans suite")
    expect(reason).to_have_value("Délai de compléments dépassé.")
    journey.step(desk, "instructeur delai depasse")
    submit(desk, "Classer sans suite")
    expect(desk.locator("[data-recap]")).to_contain_text("Délai de compléments dépassé.")
    journey.step(desk, "instructeur classement recapitulatif")
    submit(desk, "Confirmer le classement sans suite")
    success_message(desk, f"Le dossier {reference} est classé sans suite.")
    application.refresh_from_db()
    assert application.status == Application.Status.CLOSED
    assert application.corrections_due_on is None
    assert re.search("Classé sans suite", desk.content())
    journey.assert_accessible()
