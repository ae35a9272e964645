"""The read API's pages in Chromium: the admin issues a token, revokes it; the API's documentation
page, rendered on the server, shows every operation under the strict CSP (no script, no CDN).
Each page is audited with axe-core, as in the other browser tests (tests/browser/conftest.py)."""

import re

import pytest
from playwright.sync_api import expect

from api.models import ApiToken
from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, applicant, programme_admin

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_admin_issues_and_revokes_a_token_and_the_docs_page_lists_the_operations(new_page, journey):  # type: ignore[no-untyped-def]
    admin = programme_admin(password=PASSWORD)
    holder = applicant(email="tableur@exemple.fr")
    page = new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )

    # The documentation, public: every operation of the schema, no script needed.
    page.goto("/api/v1/docs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Documentation de l'API de lecture")
    for operation in ("GET /api/v1/dossiers", "GET /api/v1/calls/{slug}/laureates", "GET /api/v1/payments"):
        expect(page.get_by_role("heading", name=operation, exact=True)).to_be_visible()
    journey.step(page, "documentation de l'API")
    assert refused == []

    log_in(page, admin.email, PASSWORD, journey)
    page.goto("/pilotage/jetons-api/")
    journey.step(page, "jetons vides")
    page.get_by_label("Adresse électronique du compte").fill(holder.email)
    page.get_by_label("Nom du jeton").fill("Tableau régional")
    page.get_by_label("Durée de validité (jours)").fill("30")
    page.get_by_role("button", name="Délivrer le jeton").click()
    expect(page.get_by_text("il ne sera plus jamais affiché")).to_be_visible()
    secret = re.search(r"fdt_[A-Za-z0-9_-]{40,}", page.content())
    assert secret is not None
    journey.step(page, "jeton delivre")

    page.get_by_role("button", name="Révoquer le jeton « Tableau régional »").click()
    expect(page.get_by_text("Le jeton « Tableau régional » est révoqué.")).to_be_visible()
    journey.step(page, "jeton revoque")
    assert ApiToken.objects.get(user=holder).revoked_at is not None
    journey.assert_accessible()
