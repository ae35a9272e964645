"""The notification centre and the preferences in Chromium: the header's count, a notification
followed (marked read), « Tout marquer comme lu », the preferences saved. Every page is audited with
axe-core (tests/browser/conftest.py)."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, in_review_application

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def submit(page, button_name: str) -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.get_by_role("button", name=button_name, exact=True).click()


def test_an_applicant_reads_the_notifications_and_sets_the_preferences(new_page, journey):  # type: ignore[no-untyped-def]
    from applications.services.review import corrections_request, message_post

    application, reviewer = in_review_application()
    message_post(application=application, body="Pouvez-vous préciser le budget ?", actor=reviewer)
    corrections_request(application=application, points=["Le RIB"], actor=reviewer)

    page = new_page()
    log_in(page, application.created_by.email, PASSWORD, journey)
    link = page.get_by_role("link", name="Notifications : 2 notifications non lues")
    expect(link).to_be_visible()
    with page.expect_navigation():
        link.click()
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    expect(page.locator(".portal-notification--unread")).to_have_count(2)
    journey.step(page, "centre de notifications")

    with page.expect_navigation():
        page.get_by_role(
            "link", name=f"Nouveau message de l'instruction sur le dossier {application.reference}"
        ).click()
    assert page.url.endswith(f"/mon-espace/dossiers/{application.reference}/messages/")
    expect(page.get_by_role("link", name="Notifications : 1 notification non lue")).to_be_visible()

    page.goto("/notifications/?unread=on")
    expect(page.locator(".portal-notification")).to_have_count(1)
    submit(page, "Tout marquer comme lu")
    expect(page.locator(".fr-alert--success")).to_contain_text("1 notification marquée comme lue.")
    expect(page.locator(".portal-notification--unread")).to_have_count(0)
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()

    page.get_by_role("link", name="Préférences de notification").first.click()
    expect(page.get_by_role("heading", name="Préférences de notification", level=1)).to_be_visible()
    journey.step(page, "preferences de notification")
    page.get_by_text("Jamais (dans le portail seulement)").first.click()
    submit(page, "Enregistrer mes préférences")
    expect(page.locator(".fr-alert--success")).to_contain_text(
        "Vos préférences de notification sont enregistrées."
    )
    journey.step(page, "preferences enregistrees")
    journey.assert_accessible()
