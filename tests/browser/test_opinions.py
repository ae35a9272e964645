"""An expert opinion in Chromium: the invitation's link leads a new expert to choose a password,
then to « Mes demandes d'avis », the request (question, dossier read-only, its documents) and the
answer through its recap. Every page is audited with axe-core (tests/browser/conftest.py)."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, in_review_application

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

QUESTION = "Le lieu est-il accessible aux personnes à mobilité réduite ?"


def submit(page, button_name: str) -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.get_by_role("button", name=button_name, exact=True).click()


def test_a_new_expert_follows_the_invitation_reads_the_dossier_and_gives_their_opinion(new_page, journey):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from applications.models import Opinion
    from applications.services.opinions import opinion_request

    application, reviewer = in_review_application()
    opinion = opinion_request(
        application=application,
        email="expert@ddt-gers.gouv.fr",
        organisation_name="DDT du Gers",
        question=QUESTION,
        answer_kind=Opinion.AnswerKind.YES_NO,
        actor=reviewer,
    )
    late = opinion_request(
        application=application,
        email="autre@ddt-gers.gouv.fr",
        organisation_name="SGAR",
        question="Une autre question ?",
        actor=reviewer,
    )
    # The same expert asked on the same dossier by another service, long overdue.
    Opinion.objects.filter(pk=late.pk).update(
        expert=opinion.expert, due_on=timezone.localdate() - timedelta(days=2)
    )

    page = new_page()
    page.goto(f"/avis/{opinion.token}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Choisir un nouveau mot de passe")
    page.locator("#id_new_password1").fill(PASSWORD)
    page.locator("#id_new_password2").fill(PASSWORD)
    journey.step(page, "expert choisit son mot de passe")
    submit(page, "Enregistrer le mot de passe")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    log_in(page, "expert@ddt-gers.gouv.fr", PASSWORD, journey)

    page.goto("/expertise/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes demandes d'avis")
    rows = page.locator("table").first.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("En retard")  # the overdue one first, by due date
    journey.step(page, "mes demandes d'avis")

    page.goto(f"/expertise/{opinion.pk}/")
    expect(page.get_by_text(QUESTION)).to_be_visible()
    expect(page.get_by_role("heading", name="Le budget")).to_be_visible()
    journey.step(page, "demande d'avis")
    submit(page, "Relire avant de rendre l'avis")
    expect(page.locator(".fr-error-text")).to_contain_text("Répondez par oui ou par non.")
    journey.step(page, "reponse erreur")
    page.get_by_text("Oui", exact=True).click()
    page.get_by_label("Commentaire").fill("La rampe d'accès est installée.")
    submit(page, "Relire avant de rendre l'avis")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez votre avis avant de le rendre")
    journey.step(page, "recapitulatif de l'avis")
    submit(page, "Rendre l'avis")
    expect(page.locator(".fr-alert--success")).to_contain_text("Merci : votre avis est rendu")
    journey.step(page, "avis rendu")
    opinion.refresh_from_db()
    assert (opinion.status, opinion.verdict) == (Opinion.Status.GIVEN, "yes")
    journey.assert_accessible()


def test_an_instructor_asks_an_opinion_through_its_recap_and_sees_it_overdue(new_page, journey):  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from applications.models import Opinion

    application, reviewer = in_review_application()
    page = new_page()
    log_in(page, reviewer.email, PASSWORD, journey)
    page.goto(f"/instruction/dossiers/{application.reference}/")
    page.locator("#volet-avis summary").click()
    page.get_by_label("Service consulté").fill("DDT du Gers")
    page.get_by_label("Adresse e-mail de l'expert").fill("expert@ddt-gers.gouv.fr")
    page.get_by_label("Question posée").fill(QUESTION)
    page.get_by_text("Réponse par oui ou non").click()
    submit(page, "Relire la demande")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez la demande d'avis avant l'envoi")
    expect(page.get_by_text(QUESTION)).to_be_visible()
    journey.step(page, "recapitulatif de la demande d'avis")
    submit(page, "Envoyer la demande")
    expect(page.locator(".fr-alert--success")).to_contain_text("La demande d'avis est envoyée à DDT du Gers")
    opinion = Opinion.objects.get()
    assert opinion.answer_kind == Opinion.AnswerKind.YES_NO

    Opinion.objects.filter(pk=opinion.pk).update(due_on=timezone.localdate() - timedelta(days=1))
    page.goto(f"/instruction/dossiers/{application.reference}/")
    expect(page.locator("#volet-avis summary")).to_contain_text("1 en retard")
    page.locator("#volet-avis summary").click()
    journey.step(page, "avis en retard sur la page d'instruction")
    page.goto("/instruction/?tab=en-instruction&opinions_overdue=1")
    expect(page.locator("table").first.locator("tbody tr")).to_contain_text(application.reference)
    journey.step(page, "liste avis en retard")
    journey.assert_accessible()
