"""Processing times in Chromium: a programme admin goes from the programme home to a call's
processing times (charts and tables of medians); an instructor reads a dossier's days in each
state on the instruction page. Every page is audited with axe-core (tests/browser/conftest.py)."""

import re

import pytest
from playwright.sync_api import expect

from tests.applications.test_times import build
from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, in_review_application, programme_admin

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_admin_reads_a_calls_processing_times_and_an_instructor_a_dossiers_time_line(new_page, journey):  # type: ignore[no-untyped-def]
    fixture = build()
    application, reviewer = in_review_application(call=fixture.call)
    admin = programme_admin()

    desk = new_page()
    log_in(desk, admin.email, PASSWORD, journey)
    with desk.expect_navigation():
        desk.locator(f"a[href='/pilotage/appels/{fixture.call.slug}/delais/']").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(f"Délais d'instruction — {fixture.call.title}")
    # Each chart is an image named by its title, its figures in the table after it.
    expect(desk.get_by_role("img", name="Durée médiane d'instruction par département")).to_be_visible()
    gers = desk.locator("#departements ~ .fr-table tr", has_text="Gers (32)").first
    expect(gers).to_contain_text("9 jours")
    expect(gers).to_contain_text("2 séjours, échantillon réduit")
    expect(desk.locator("tr", has_text="Alice Martin")).to_contain_text("9 jours")
    journey.step(desk, "delais de l'appel")

    instructor = new_page()
    log_in(instructor, reviewer.email, PASSWORD, journey)
    instructor.goto(f"/instruction/dossiers/{application.reference}/")
    instructor.get_by_text("Le dossier déposé : projet, consortium").click()
    section = instructor.locator("#delais")
    expect(section.get_by_role("heading", name="Délais")).to_be_visible()
    expect(section.locator("tbody tr").first).to_contain_text("Déposé")
    expect(section).to_contain_text("en cours")
    journey.step(instructor, "delais du dossier")
    # The call's times on the instructor's territory: the Gers, not the Landes.
    with instructor.expect_navigation():
        section.get_by_role("link", name=re.compile(r"^Les délais de l'appel sur votre territoire")).click()
    expect(instructor.get_by_text("Dossiers de votre territoire")).to_be_visible()
    expect(instructor.locator("main")).not_to_contain_text("Landes")
    journey.step(instructor, "delais du territoire")
    journey.assert_accessible()
