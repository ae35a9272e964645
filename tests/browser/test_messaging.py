"""Messages in Chromium: an instructor writes to the applicants of the list (form, recap with a
file, confirmation); the applicant finds the message with its file in the thread and answers with
a file of their own. Every page is audited with axe-core (tests/browser/conftest.py)."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, PDF_BYTES, PNG_BYTES, in_review_application

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def submit(page, button_name: str) -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.get_by_role("button", name=button_name, exact=True).click()


def test_an_instructor_writes_to_the_list_and_the_applicant_answers_with_a_file(new_page, journey):  # type: ignore[no-untyped-def]
    from applications.models import Message

    application, reviewer = in_review_application()

    desk = new_page()
    log_in(desk, reviewer.email, PASSWORD, journey)
    desk.goto("/instruction/?tab=en-instruction")
    with desk.expect_navigation():
        desk.get_by_role("link", name="Écrire aux porteurs").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Écrire aux porteurs")
    desk.get_by_label("Objet").fill("Comité du 12 mars")
    desk.get_by_label("Votre message").fill("Le comité examinera votre dossier le 12 mars.")
    journey.step(desk, "message groupe")
    submit(desk, "Vérifier avant l'envoi")
    expect(desk.locator(".fr-callout__title")).to_have_text("1 dossier, 1 destinataire")
    expect(desk.get_by_text(application.reference)).to_be_visible()
    desk.get_by_label("Pièces jointes (facultatif)").set_input_files(
        files=[{"name": "ordre-du-jour.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}]
    )
    journey.step(desk, "message groupe recapitulatif")
    submit(desk, "Confirmer l'envoi")
    expect(desk.locator(".fr-alert--success")).to_contain_text("1 dossier, 1 destinataire")
    assert Message.objects.filter(application=application, broadcast__isnull=False).count() == 1

    home = new_page()
    log_in(home, application.created_by.email, PASSWORD, journey)
    home.goto(f"/mon-espace/dossiers/{application.reference}/messages/")
    expect(home.get_by_text("Le comité examinera votre dossier le 12 mars.")).to_be_visible()
    expect(home.get_by_role("link", name="ordre-du-jour.pdf")).to_be_visible()
    home.get_by_label("Votre message").fill("Voici le plan d'accès.")
    home.get_by_label("Pièces jointes (facultatif)").set_input_files(
        files=[{"name": "plan.png", "mimeType": "image/png", "buffer": PNG_BYTES}]
    )
    submit(home, "Envoyer")
    expect(home.locator(".fr-alert--success")).to_contain_text("Votre message est envoyé")
    expect(home.get_by_role("link", name="plan.png")).to_be_visible()
    journey.step(home, "fil avec pieces jointes")
    with home.expect_download() as download:
        home.get_by_role("link", name="ordre-du-jour.pdf").click()
    assert download.value.suggested_filename == "ordre-du-jour.pdf"
    journey.assert_accessible()
