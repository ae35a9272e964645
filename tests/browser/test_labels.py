"""Labels in Chromium: a programme admin creates a call's labels from the programme home; an
instructor ticks two on a dossier, sees them as badges, and filters the list on one. Every page is
audited with axe-core, as in the other browser tests (tests/browser/conftest.py)."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, in_review_application, programme_admin, submitted_application

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def submit(page, button_name: str) -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.get_by_role("button", name=button_name, exact=True).click()


def tick(page, scope, name: str) -> None:  # type: ignore[no-untyped-def]
    """Tick a checkbox or a radio button by clicking its label (the DSFR draws it over the input)."""
    box = scope.get_by_label(name, exact=True)
    page.locator(f"label[for='{box.get_attribute('id')}']").click()
    expect(box).to_be_checked()


def test_an_admin_creates_labels_and_an_instructor_puts_them_on_a_dossier_and_filters(new_page, journey):  # type: ignore[no-untyped-def]
    from applications.models import Label

    application, reviewer = in_review_application()
    submitted_application(call=application.call)  # another dossier, in the « À instruire » tab
    admin = programme_admin()

    desk = new_page()
    log_in(desk, admin.email, PASSWORD, journey)
    with desk.expect_navigation():
        desk.locator(f"a[href='/pilotage/appels/{application.call.slug}/etiquettes/']").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Étiquettes des dossiers")
    expect(desk.get_by_text("Aucune étiquette n'est encore définie pour cet appel.")).to_be_visible()
    journey.step(desk, "etiquettes vides")

    # A name already taken, whatever its case, is said next to the field.
    for name, colour in (("Territoire prioritaire", "Rose tuile"), ("Comité de mars", "Jaune moutarde")):
        desk.get_by_label("Nom de l'étiquette").fill(name)
        tick(desk, desk.locator("#id_colour"), colour)
        submit(desk, "Créer l'étiquette")
        expect(desk.locator(".fr-alert--success")).to_contain_text(f"L'étiquette « {name} » est créée.")
    desk.get_by_label("Nom de l'étiquette").fill("TERRITOIRE PRIORITAIRE")
    submit(desk, "Créer l'étiquette")
    expect(desk.locator("#id_name-erreurs")).to_have_text(
        "Une étiquette de cet appel s'appelle déjà « Territoire prioritaire »."
    )
    journey.step(desk, "etiquettes nom deja pris")
    assert Label.objects.filter(call=application.call).count() == 2

    instructor = new_page()
    log_in(instructor, reviewer.email, PASSWORD, journey)
    instructor.goto(f"/instruction/dossiers/{application.reference}/")
    section = instructor.locator("#etiquettes")
    expect(section).to_contain_text("Aucune étiquette sur ce dossier.")
    section.get_by_text("Modifier les étiquettes").click()
    tick(instructor, section, "Comité de mars")
    tick(instructor, section, "Territoire prioritaire")
    journey.step(instructor, "dossier etiquettes a cocher")
    submit(instructor, "Enregistrer les étiquettes")
    expect(instructor.locator(".fr-alert--success")).to_contain_text(
        "Les étiquettes du dossier sont enregistrées : Comité de mars, Territoire prioritaire."
    )
    badges = instructor.locator("#etiquettes .fr-badges-group .fr-badge")
    expect(badges).to_have_text(["Comité de mars", "Territoire prioritaire"])
    journey.step(instructor, "dossier avec etiquettes")

    # The list: the badges in the dossier's row, then the filter on « Comité de mars ».
    instructor.goto("/instruction/")
    expect(instructor.get_by_role("link", name="À instruire (1)")).to_be_visible()  # the other dossier
    instructor.goto("/instruction/?tab=en-instruction")
    row = instructor.locator("tr", has_text=application.reference)
    expect(row.locator(".fr-badge--yellow-moutarde")).to_have_text("Comité de mars")
    filters = instructor.locator("#filtre-labels")
    tick(instructor, filters, "Comité de mars")
    submit(instructor, "Appliquer les filtres")
    rows = instructor.locator("table").first.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(application.reference)
    expect(instructor.get_by_role("link", name="À instruire (0)")).to_be_visible()
    journey.step(instructor, "liste filtree par etiquette")

    # The admin deletes a label after a recap saying how many dossiers carry it.
    desk.get_by_role("button", name="Supprimer l'étiquette « Comité de mars »").click()
    desk.wait_for_load_state("load")
    expect(desk.locator("[data-recap]")).to_contain_text(
        "Elle est portée par 1 dossier : elle lui sera retirée."
    )
    journey.step(desk, "suppression recapitulatif")
    submit(desk, "Confirmer la suppression")
    expect(desk.locator(".fr-alert--success")).to_contain_text(
        "L'étiquette « Comité de mars » est supprimée ; elle est retirée de 1 dossier."
    )
    journey.step(desk, "etiquettes apres suppression")
    assert list(application.labels.values_list("name", flat=True)) == ["Territoire prioritaire"]
    journey.assert_accessible()
