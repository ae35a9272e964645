"""Sub-envelopes in Chromium: a programme admin goes from the dashboard to the page of the
sub-envelopes, delegates to Occitanie and the Gers, reads the recap, confirms, and finds them in
the dashboard's table. Every page is audited with axe-core (tests/browser/conftest.py)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from core.formatting import format_money
from grants.models import SubEnvelope
from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, programme_admin
from tests.grants.test_agreements import laureate

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_admin_delegates_the_envelope_after_a_recap_and_the_dashboard_shows_it(new_page, journey):  # type: ignore[no-untyped-def]
    case = laureate()
    admin = programme_admin()
    desk = new_page()
    log_in(desk, admin.email, PASSWORD, journey)
    desk.goto(f"/pilotage/appels/{case.call.slug}/tableau-de-bord/")
    expect(desk.locator("#enveloppes-deleguees ~ p").first).to_contain_text("Aucune enveloppe déléguée")
    with desk.expect_navigation():
        desk.get_by_role("link", name="Déléguer l'enveloppe aux régions et aux départements").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(f"Enveloppes déléguées — {case.call.title}")
    journey.step(desk, "enveloppes deleguees")

    # A département above its région: refused next to the field, nothing saved.
    desk.get_by_label("Région Occitanie (en euros)").fill("100 000")
    desk.get_by_label("Gers (32)").fill("200 000")
    with desk.expect_navigation():
        desk.get_by_role("button", name="Vérifier les montants").click()
    expect(desk.locator(".portal-error-summary")).to_contain_text(
        "Les enveloppes des départements de la région Occitanie totalisent"
    )
    journey.step(desk, "enveloppes deleguees refusees")
    assert not SubEnvelope.objects.exists()

    desk.get_by_label("Région Occitanie (en euros)").fill("1 000 000")
    with desk.expect_navigation():
        desk.get_by_role("button", name="Vérifier les montants").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Confirmer les enveloppes déléguées")
    expect(desk.locator("tr", has_text="Département Gers (32)")).to_contain_text("200")
    journey.step(desk, "recapitulatif des enveloppes deleguees")
    assert not SubEnvelope.objects.exists()
    with desk.expect_navigation():
        desk.get_by_role("button", name="Enregistrer les enveloppes déléguées").click()
    row = desk.locator("tr", has_text="Région Occitanie")
    expect(row).to_contain_text(format_money(Decimal("1000000")))
    expect(desk.locator("tr", has_text="Département Gers (32)")).to_contain_text(
        format_money(Decimal("50000"))
    )
    journey.step(desk, "tableau de bord avec enveloppes deleguees")
    assert SubEnvelope.objects.filter(call=case.call).count() == 2
    journey.assert_accessible()
