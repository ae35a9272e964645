"""In Chromium: an applicant whose places lie in two départements sees both, searches the census,
chooses the département that instructs the dossier, and finds the choice on the summary before
submission; then submits and the dossier goes to the chosen territory. Each page is audited with
axe-core, as in the other browser tests (tests/browser/conftest.py)."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, complete_application

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def submit(page, button_name: str) -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.get_by_role("button", name=button_name, exact=True).click()


def test_applicant_with_places_in_two_departements_chooses_the_instructing_one(new_page, journey):  # type: ignore[no-untyped-def]
    from applications.models import Application
    from fabriques.models import TiersLieu

    # The census holds a Paris place whose name contains « auch » (Rive G-auch-e), and a place of
    # the Gers without a commune; the dossier (lead structure in Auch) already has La Bobine (32).
    TiersLieu.objects.create(
        name="Rive Gauche Coworking",
        commune_name="Paris",
        postal_code="75006",
        departement_id="75",
        source=TiersLieu.Source.CGET_2019,
        source_id="b-paris",
    )
    TiersLieu.objects.create(
        name="La Grange sans commune",
        departement_id="32",
        source=TiersLieu.Source.CGET_2019,
        source_id="b-gers",
    )
    application = complete_application()
    email = application.created_by.email

    page = new_page()
    page.goto("/compte/connexion/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    submit(page, "Se connecter")
    page.goto(f"/mon-espace/dossiers/{application.reference}/lieux/")
    territory = page.locator("#territoire")
    expect(territory).to_contain_text(
        "Le dossier sera instruit dans le département Gers (32), région Occitanie."
    )
    journey.step(page, "lieux un departement")

    # Search « auch » in the census, typed without capitals: Rive Gauche (a substring) is offered
    # too, and added by mistake, as in the report that led to this page.
    page.get_by_label("Nom du lieu, commune, code postal ou département").fill("auch")
    submit(page, "Rechercher")
    results = page.locator("#resultats-recensement li")
    expect(results.first).to_contain_text("Rive Gauche Coworking")
    journey.step(page, "recherche auch")
    with page.expect_navigation():
        results.filter(has_text="Rive Gauche Coworking").get_by_role(
            "button", name="Ajouter au dossier"
        ).click()
    expect(page.locator(".fr-alert--success")).to_contain_text(
        "Le lieu « Rive Gauche Coworking » est ajouté au dossier."
    )

    # The département filter alone lists the Gers places, the one without a commune included.
    page.locator("#recherche-departement").select_option("32")
    page.get_by_label("Nom du lieu, commune, code postal ou département").fill("")
    submit(page, "Rechercher")
    expect(
        page.locator("#resultats-recensement li").filter(has_text="La Grange sans commune")
    ).to_be_visible()
    journey.step(page, "recherche par departement")

    # Two départements, two régions: the applicant is told, and asked to choose.
    expect(territory).to_contain_text(
        "Vos lieux sont dans plusieurs départements : choisissez celui qui instruira le dossier."
    )
    expect(territory).to_contain_text("plusieurs régions (Île-de-France, Occitanie)")
    choice = page.locator("#choix-territoire")
    expect(choice.get_by_label(re.compile(r"^32 – Gers"))).to_be_visible()
    expect(choice.get_by_label(re.compile(r"^75 – Paris"))).to_be_visible()
    journey.step(page, "lieux deux departements")

    # The summary before submission asks for the choice; submission is not offered yet.
    page.goto(f"/mon-espace/dossiers/{application.reference}/")
    expect(page.locator("#territoire")).to_contain_text("choisissez celui qui instruira le dossier")
    expect(page.get_by_role("button", name="Déposer le dossier")).to_be_disabled()
    journey.step(page, "resume choix attendu")

    # Choose the Gers, by clicking the radio button's label (the DSFR draws it over the input).
    page.goto(f"/mon-espace/dossiers/{application.reference}/lieux/")
    gers = page.locator("#choix-territoire").get_by_label(re.compile(r"^32 – Gers"))
    page.locator(f"label[for='{gers.get_attribute('id')}']").click()
    expect(gers).to_be_checked()
    submit(page, "Enregistrer le département d'instruction")
    expect(page.locator(".fr-alert--success")).to_contain_text(
        "Le dossier sera instruit dans le département Gers (32)."
    )
    expect(page.locator("#territoire")).to_contain_text(
        "Le dossier sera instruit dans le département Gers (32), région Occitanie."
    )
    journey.step(page, "departement choisi")

    page.goto(f"/mon-espace/dossiers/{application.reference}/")
    summary = page.locator("#territoire")
    expect(summary).to_contain_text(
        "Le dossier sera instruit dans le département Gers (32), région Occitanie."
    )
    expect(summary).to_contain_text("ce département est celui que vous avez choisi")
    journey.step(page, "resume avant depot")
    application.refresh_from_db()
    assert application.chosen_departement_id == "32"
    assert application.status == Application.Status.DRAFT

    journey.assert_accessible()


def test_admin_moves_a_submitted_dossier_after_a_recap(new_page, journey, site):  # type: ignore[no-untyped-def]
    from django.conf import settings
    from django.test import Client

    from applications.models import Application
    from tests.factories import occitanie_instructor, programme_admin, submitted_application

    application = submitted_application()
    reviewer = occitanie_instructor()
    admin = programme_admin()
    # The admin's session (second factor given) from the test client, handed to the browser: the
    # login and its second step are the journeys' subject (tests/browser/test_journeys.py).
    client = Client()
    client.force_login(admin)
    page = new_page()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": site,
            }
        ]
    )
    page.goto(f"/instruction/dossiers/{application.reference}/")
    with page.expect_navigation():
        page.get_by_role("link", name="Changer le département d'instruction").click()
    journey.step(page, "changement formulaire")

    page.get_by_label("Nouveau département d'instruction").select_option("31")
    page.get_by_label("Motif du changement").fill("Le lieu principal est à Toulouse.")
    submit(page, "Voir le récapitulatif")
    recap = page.locator("#recapitulatif")
    expect(recap).to_contain_text("Haute-Garonne (31), région Occitanie")
    expect(recap).to_contain_text(reviewer.email)
    journey.step(page, "changement recapitulatif")
    application.refresh_from_db()
    assert application.departement_id == "32"

    submit(page, "Confirmer le changement de département")
    expect(page.locator(".fr-alert--success")).to_contain_text(
        f"Le dossier {application.reference} est désormais instruit dans le département Haute-Garonne (31)."
    )
    expect(page.locator("#territoire")).to_contain_text("de Gers vers Haute-Garonne")
    journey.step(page, "changement fait")
    assert Application.objects.get(pk=application.pk).departement_id == "31"

    journey.assert_accessible()
