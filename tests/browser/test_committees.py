"""A committee session in Chromium, without JavaScript needed: a programme admin goes from the
programme home to the call's sessions, creates one, builds its agenda from the ranking, convenes
and opens it, records the decisions, reads the recap and applies them; the invited instructor
reads the session. Every page is audited with axe-core (tests/browser/conftest.py)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from applications.models import Application
from grants.models import CommitteeSession
from grants.services.committees import committee_members_set
from tests.browser.test_journeys import log_in, tick
from tests.factories import PASSWORD, CallFactory, occitanie_instructor, programme_admin
from tests.grants.committees import scored_dossiers

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_admin_holds_a_committee_session_and_an_invited_instructor_reads_it(new_page, journey):  # type: ignore[no-untyped-def]
    call = CallFactory(envelope=Decimal("1000000"))
    best, second = scored_dossiers(call, ["90", "80"])
    admin = programme_admin()
    guest = occitanie_instructor()

    desk = new_page()
    log_in(desk, admin.email, PASSWORD, journey)
    desk.goto("/pilotage/")
    with desk.expect_navigation():
        desk.locator(f"a[href='/pilotage/appels/{call.slug}/comites/']").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(f"Comités de sélection — {call.title}")
    desk.get_by_label("Intitulé de la séance").fill("Comité de sélection de mars")
    desk.get_by_label("Date et heure").fill("2027-03-12T14:00")
    desk.get_by_label("Lieu", exact=True).fill("ANCT, Paris")
    journey.step(desk, "nouvelle seance")
    with desk.expect_navigation():
        desk.get_by_role("button", name="Créer la séance").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Comité de sélection de mars")

    with desk.expect_navigation():
        desk.get_by_role("button", name="Constituer l'ordre du jour").click()
    expect(desk.get_by_text("L'ordre du jour compte 2 dossiers, classés par note.")).to_be_visible()
    rows = desk.locator("#ordre-du-jour ~ .fr-table tbody tr")
    expect(rows.nth(0)).to_contain_text(best.reference)
    expect(rows.nth(1)).to_contain_text(second.reference)
    journey.step(desk, "ordre du jour")
    session = CommitteeSession.objects.get()
    committee_members_set(session=session, users=[admin, guest], actor=admin)

    with desk.expect_navigation():
        desk.get_by_role("button", name="Convoquer le comité").click()
    with desk.expect_navigation():
        desk.get_by_role("button", name="Ouvrir la séance").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("En séance")

    for application, decision in ((best, "Attribution"), (second, "Refus")):
        with desk.expect_navigation():
            desk.get_by_role("link", name=application.reference).click()
        tick(desk, desk.get_by_label(decision, exact=True))
        if decision == "Refus":
            desk.get_by_label("Motifs (refus) ou observation (ajournement)").fill(
                "Modèle économique fragile."
            )
        journey.step(desk, f"decision {application.reference}")
        with desk.expect_navigation():
            desk.get_by_role("button", name="Enregistrer la décision").click()
        expect(desk.get_by_text("La décision du comité est enregistrée.")).to_be_visible()

    with desk.expect_navigation():
        desk.get_by_role("button", name="Appliquer les décisions").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text(
        "Confirmer l'application des décisions du comité"
    )
    journey.step(desk, "recapitulatif")
    with desk.expect_navigation():
        desk.get_by_role("button", name="Appliquer les décisions").click()
    expect(desk.get_by_text("2 décisions appliquées.")).to_be_visible()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Décisions appliquées")
    expect(desk.get_by_role("link", name="Télécharger le procès-verbal (PDF)")).to_be_visible()
    journey.step(desk, "decisions appliquees")
    assert Application.objects.get(pk=best.pk).status == "awarded"
    assert Application.objects.get(pk=second.pk).status == "refused"

    reader = new_page()
    log_in(reader, guest.email, PASSWORD, journey)
    reader.goto(f"/pilotage/comites/{session.pk}/")
    expect(reader.get_by_role("heading", level=1)).to_contain_text("Comité de sélection de mars")
    expect(reader.get_by_role("button", name="Appliquer les décisions")).to_have_count(0)
    journey.step(reader, "seance lue par un instructeur invite")
    journey.assert_accessible()
