"""Allocation scenarios in Chromium: a programme admin goes from the programme home to a call's
scenarios, computes one (coverage first), reads it, compares it with the ranking by score (maps,
chart and tables), and composes one by hand. Every page is audited with axe-core."""

import pytest
from playwright.sync_api import expect

from tests.allocation.world import four_candidates
from tests.browser.test_journeys import log_in, tick
from tests.factories import PASSWORD, programme_admin

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_admin_computes_a_scenario_and_compares_it_with_the_ranking(new_page, journey):  # type: ignore[no-untyped-def]
    candidates = four_candidates()
    call = candidates["gers1"].call
    admin = programme_admin()

    page = new_page()
    log_in(page, admin.email, PASSWORD, journey)
    with page.expect_navigation():
        page.locator(f"a[href='/pilotage/appels/{call.slug}/scenarios/']").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Scénarios d'attribution — {call.title}")
    journey.step(page, "scenarios de l'appel")
    with page.expect_navigation():
        page.get_by_role("link", name="Calculer un scénario").click()
    journey.step(page, "calculer un scenario")
    page.get_by_label("Nom du scénario").fill("Couverture d'abord")
    with page.expect_navigation():
        page.get_by_role("button", name="Calculer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Scénario « Couverture d'abord »")
    expect(page.locator("main")).to_contain_text("optimum prouvé")
    expect(page.locator("tr", has_text="Départements couverts")).to_contain_text("3")
    journey.step(page, "le scenario")
    with page.expect_navigation():
        page.get_by_role("link", name="Comparer avec le classement par note").click()
    expect(page.get_by_role("img", name="Couverture et dossiers retenus")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Départements couverts en plus : Lot (46)")
    journey.step(page, "comparaison avec le classement")

    page.goto(f"/pilotage/appels/{call.slug}/scenarios/composer/")
    page.get_by_label("Nom du scénario").fill("À la main")
    tick(page, page.get_by_label(f"Retenir {candidates['landes'].reference}"))
    page.get_by_label(f"Montant pour {candidates['landes'].reference}").fill("90 000")
    journey.step(page, "composer un scenario")
    with page.expect_navigation():
        page.get_by_role("button", name="Enregistrer le scénario").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Scénario « À la main »")
    expect(page.locator("main")).to_contain_text("90\u00a0000\u00a0€")
    journey.assert_accessible()
