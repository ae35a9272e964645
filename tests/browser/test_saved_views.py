"""The instructors' list's new filters and saved views in Chromium: « Affectés à moi » and « En
retard » chosen, the view saved under a name, found among « Mes vues », renamed and deleted after a
recap. Every page is audited with axe-core (tests/browser/conftest.py)."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, in_review_application, submitted_application

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def submit(page, button_name: str) -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.get_by_role("button", name=button_name, exact=True).click()


def test_an_instructor_filters_on_assigned_and_overdue_then_saves_renames_and_deletes_a_view(
    new_page, journey
):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from applications.models import Application, SavedView

    application, reviewer = in_review_application()
    long_ago = timezone.now() - timedelta(days=90)
    Application.objects.filter(pk=application.pk).update(submitted_at=long_ago, last_submitted_at=long_ago)
    other = submitted_application(call=application.call)  # not assigned, not late

    page = new_page()
    log_in(page, reviewer.email, PASSWORD, journey)
    page.goto("/instruction/?tab=en-instruction")
    expect(
        page.get_by_text("Enregistrez des filtres et un tri sous un nom pour les retrouver ici.")
    ).to_be_visible()
    page.get_by_label("Affectation").select_option(label="Affectés à moi")
    page.get_by_label("Délai d'instruction").select_option(label="En retard seulement")
    submit(page, "Appliquer les filtres")
    rows = page.locator("table").first.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(application.reference)
    expect(rows.locator(".fr-badge--error")).to_have_text("En retard")
    expect(page.get_by_role("link", name="À instruire (0)")).to_be_visible()  # `other` is not assigned
    journey.step(page, "liste affectes a moi en retard")

    page.get_by_label("Nom de la vue").fill("Mes retards")
    submit(page, "Enregistrer la vue")
    expect(page.locator(".fr-alert--success")).to_contain_text("La vue « Mes retards » est enregistrée")
    tag = page.get_by_role("link", name="Mes retards")
    expect(tag).to_have_attribute("aria-current", "page")
    journey.step(page, "liste avec une vue enregistree")

    # Opened from the list without filters, the view brings its filters back.
    page.goto("/instruction/")
    expect(page.locator("table").first.locator("tbody tr")).to_contain_text(other.reference)
    with page.expect_navigation():
        page.get_by_role("link", name="Mes retards").click()
    expect(page.get_by_label("Affectation")).to_have_value("me")
    expect(page.locator("table").first.locator("tbody tr")).to_have_count(1)

    with page.expect_navigation():
        page.get_by_role("link", name="Gérer mes vues").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes vues")
    expect(page.locator("table")).to_contain_text("Affectation : Affectés à moi")
    journey.step(page, "mes vues")
    with page.expect_navigation():
        page.get_by_role("link", name="Renommer la vue « Mes retards »").click()
    page.get_by_label("Nouveau nom de la vue").fill("")
    submit(page, "Renommer la vue")
    expect(page.locator(".fr-error-text")).to_have_count(1)
    journey.step(page, "renommer erreur")
    page.get_by_label("Nouveau nom de la vue").fill("Retards à traiter")
    submit(page, "Renommer la vue")
    expect(page.locator(".fr-alert--success")).to_contain_text(
        "La vue s'appelle désormais « Retards à traiter »."
    )

    submit(page, "Supprimer la vue « Retards à traiter »")
    expect(page.locator("[data-recap]")).to_contain_text(
        "Vous allez supprimer votre vue « Retards à traiter »."
    )
    journey.step(page, "suppression recapitulatif")
    submit(page, "Confirmer la suppression")
    expect(page.locator(".fr-alert--success")).to_contain_text("La vue « Retards à traiter » est supprimée.")
    expect(page.get_by_text("Vous n'avez encore enregistré aucune vue.")).to_be_visible()
    journey.step(page, "mes vues vide")
    assert not SavedView.objects.exists()
    journey.assert_accessible()
