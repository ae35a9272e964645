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


def test_a_computed_scenario_is_adopted_by_a_committee_and_applied(new_page, journey):  # type: ignore[no-untyped-def]
    """Issue 15 §4: the admin computes a scenario, compares it with the ranking, puts it on a
    committee session's agenda, holds the session and applies its decisions; the dashboard and the
    award letters follow."""
    from applications.models import Application
    from grants.models import CommitteeSession
    from notifications.models import Document

    candidates = four_candidates()
    call = candidates["gers1"].call
    admin = programme_admin()
    page = new_page()
    log_in(page, admin.email, PASSWORD, journey)

    # A session to put the scenario on.
    page.goto(f"/pilotage/appels/{call.slug}/comites/")
    page.get_by_label("Intitulé de la séance").fill("Comité de sélection d'avril")
    page.get_by_label("Date et heure").fill("2027-04-09T10:00")
    page.get_by_label("Lieu", exact=True).fill("ANCT, Paris")
    with page.expect_navigation():
        page.get_by_role("button", name="Créer la séance").click()
    session = CommitteeSession.objects.get()

    page.goto(f"/pilotage/appels/{call.slug}/scenarios/calculer/")
    page.get_by_label("Nom du scénario").fill("Couverture d'abord")
    with page.expect_navigation():
        page.get_by_role("button", name="Calculer").click()
    expect(page.locator("main")).to_contain_text("optimum prouvé")
    with page.expect_navigation():
        page.get_by_role("link", name="Comparer avec le classement par note").click()
    expect(page.locator("main")).to_contain_text("Départements couverts en plus : Lot (46)")
    page.go_back()
    with page.expect_navigation():
        page.get_by_role("link", name="Inscrire à l'ordre du jour d'un comité").click()
    page.get_by_label("Séance du comité de sélection").select_option(str(session.pk))
    journey.step(page, "choisir la seance")
    with page.expect_navigation():
        page.get_by_role("button", name="Voir le récapitulatif").click()
    expect(page.locator("main")).to_contain_text("3 dossiers inscrits à l'ordre du jour")
    journey.step(page, "recapitulatif d'inscription")
    with page.expect_navigation():
        page.get_by_role("button", name="Confirmer l'inscription").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Comité de sélection d'avril")
    chosen = [candidates[name] for name in ("gers1", "landes", "lot")]
    for application in chosen:
        expect(page.locator("main")).to_contain_text(application.reference)
    expect(page.locator("main")).not_to_contain_text(candidates["gers2"].reference)

    with page.expect_navigation():
        page.get_by_role("button", name="Convoquer le comité").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Ouvrir la séance").click()
    for application in chosen:
        with page.expect_navigation():
            page.get_by_role("link", name=application.reference).click()
        tick(page, page.get_by_label("Attribution", exact=True))
        with page.expect_navigation():
            page.get_by_role("button", name="Enregistrer la décision").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Appliquer les décisions").click()
    journey.step(page, "recapitulatif des decisions")
    with page.expect_navigation():
        page.get_by_role("button", name="Appliquer les décisions").click()
    expect(page.get_by_text("3 décisions appliquées.")).to_be_visible()

    page.goto(f"/pilotage/appels/{call.slug}/tableau-de-bord/")
    # The three laureates on the dashboard: none left to choose, 150 000 € each on average.
    expect(page.locator("tr", has_text="Fabriques restant à retenir")).to_contain_text("0")
    expect(page.locator("tr", has_text="Subvention moyenne par lauréat")).to_contain_text(
        "150\u00a0000\u00a0€"
    )
    journey.step(page, "tableau de bord apres le comite")
    assert set(Application.objects.filter(status="awarded").values_list("pk", flat=True)) == {
        application.pk for application in chosen
    }
    letters = Document.objects.filter(kind="award-letter")
    assert letters.count() == 3
    journey.assert_accessible()
