"""The committee pages: a programme admin creates a session, builds its agenda, convenes and opens
it, records the decisions, sees the recap and applies; an invited instructor reads their session;
errors are shown next to their field and nothing is half-saved."""

import html
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications.models import Application
from grants.models import CommitteeItem, CommitteeSession, Grant
from grants.services.committees import committee_agenda_build, committee_members_set
from tests.factories import CallFactory, instructor, occitanie_instructor, programme_admin
from tests.grants.committees import a_session, scored_dossiers

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as read: entities (« L'année ») unescaped."""
    return html.unescape(response.content.decode())


def client_of(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_creates_a_session_and_a_bad_form_shows_its_errors_next_to_the_fields():
    admin = programme_admin()
    call = CallFactory()
    client = client_of(admin)
    url = reverse("grants:committee-list", args=[call.slug])
    page = client.post(url, {"title": "Comité de mars", "starts_at": "demain", "place": "", "visio_url": ""})
    assert page.status_code == 200
    content = text(page)
    assert "Saisissez une date et une heure, par exemple 12/03/2027 14:00." in content
    assert not CommitteeSession.objects.exists()
    page = client.post(
        url, {"title": "Comité de mars", "starts_at": "2027-03-12T14:00", "place": "", "visio_url": ""}
    )
    assert page.status_code == 200
    assert "Indiquez un lieu ou un lien de visioconférence." in text(page)
    assert not CommitteeSession.objects.exists()
    response = client.post(
        url, {"title": "Comité de mars", "starts_at": "2027-03-12T14:00", "place": "Paris", "visio_url": ""}
    )
    session = CommitteeSession.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "grants:committee-detail", args=[session.pk]
    )
    listing = text(client.get(url))
    assert "Comité de mars" in listing and "En préparation" in listing


def test_the_whole_session_through_the_pages_with_a_partial_failure_reported():
    admin = programme_admin()
    call = CallFactory(envelope=Decimal("200000"))
    best, second = scored_dossiers(call, ["90", "80"])
    session = a_session(admin, call)
    client = client_of(admin)
    detail = reverse("grants:committee-detail", args=[session.pk])

    client.post(reverse("grants:committee-agenda-build", args=[session.pk]))
    page = text(client.get(detail))
    assert best.reference in page and second.reference in page
    assert f"150{NBSP}000{NBSP}€" in page
    assert page.index(best.reference) < page.index(second.reference)

    # A proposal above the yearly cap: the error next to its year, nothing saved.
    item = CommitteeItem.objects.get(session=session, application=second)
    item_url = reverse("grants:committee-item", args=[session.pk, item.pk])
    refused = client.post(
        item_url, {"amount": "120 000", "yearly_1": "60 000", "yearly_2": "30 000", "yearly_3": "30 000"}
    )
    assert refused.status_code == 200
    assert f"L'année 1 (60{NBSP}000{NBSP}€) dépasse le plafond annuel de 50{NBSP}000{NBSP}€." in text(refused)
    item.refresh_from_db()
    assert item.proposed == Decimal("150000.00")

    client.post(reverse("grants:committee-move", args=[session.pk]), {"to": "convened"})
    client.post(reverse("grants:committee-move", args=[session.pk]), {"to": "held"})
    assert CommitteeSession.objects.get(pk=session.pk).status == "held"

    for application in (best, second):
        row = CommitteeItem.objects.get(session=session, application=application)
        url = reverse("grants:committee-item", args=[session.pk, row.pk])
        assert client.post(url, {"decision": "award", "amount": ""}).status_code == 302
    # A refusal without reasons is refused next to the field.
    unmotivated = client.post(item_url, {"decision": "refuse", "reasons": ""})
    assert "Une décision de refus doit être motivée." in text(unmotivated)
    assert CommitteeItem.objects.get(pk=item.pk).decision == "award"

    apply_url = reverse("grants:committee-apply", args=[session.pk])
    recap = client.post(apply_url)
    recap_text = text(recap)
    assert recap.status_code == 200
    assert "Confirmer l'application des décisions du comité" in recap_text
    assert f"200{NBSP}000{NBSP}€" in recap_text and f"50{NBSP}000{NBSP}€" in recap_text
    assert "Sera refusé : L'enveloppe de l'appel n'a plus que" in recap_text
    assert not Grant.objects.exists()

    done = client.post(apply_url, {"confirmer": "1"}, follow=True)
    page = text(done)
    assert "1 décision appliquée." in page
    assert f"{second.reference} : L'enveloppe de l'appel n'a plus que" in page
    assert Application.objects.get(pk=best.pk).status == "awarded"
    assert Application.objects.get(pk=second.pk).status == "in_review"
    assert CommitteeSession.objects.get(pk=session.pk).status == "held"


def test_an_invited_instructor_reads_their_session_and_cannot_write():
    admin = programme_admin()
    call = CallFactory()
    scored_dossiers(call, ["90"])
    session = a_session(admin, call)
    guest = occitanie_instructor()
    committee_members_set(session=session, users=[admin, guest], actor=admin)
    client = client_of(guest)
    page = client.get(reverse("grants:committee-detail", args=[session.pk]))
    assert page.status_code == 200
    assert "Constituer l'ordre du jour" not in text(page)
    assert session.title in text(client.get(reverse("grants:committee-list", args=[call.slug])))
    assert client.post(reverse("grants:committee-agenda-build", args=[session.pk])).status_code == 403
    assert not CommitteeItem.objects.exists()
    # Another instructor does not see it.
    other = client_of(instructor())
    assert other.get(reverse("grants:committee-detail", args=[session.pk])).status_code == 404
    assert session.title not in text(other.get(reverse("grants:committee-list", args=[call.slug])))


def test_the_minutes_link_waits_for_the_decisions():
    admin = programme_admin()
    session = a_session(admin, starts_at=timezone.now() + timedelta(days=1))
    response = client_of(admin).get(reverse("grants:committee-minutes", args=[session.pk]), follow=True)
    assert "Le procès-verbal est produit une fois toutes les décisions appliquées." in text(response)


def test_the_session_page_costs_the_same_queries_whatever_the_size_of_its_agenda():
    admin = programme_admin()
    client = client_of(admin)

    def queries(count: int) -> int:
        call = CallFactory()
        scored_dossiers(call, [str(90 - index) for index in range(count)])
        session = a_session(admin, call)
        committee_agenda_build(session=session, actor=admin)
        url = reverse("grants:committee-detail", args=[session.pk])
        client.get(url)  # the session's own first reads (the user's roles) out of the count
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    assert queries(1) == queries(4)


def test_an_admin_adds_one_dossier_to_the_agenda_and_a_wrong_reference_is_refused_next_to_its_field():
    admin = programme_admin()
    call = CallFactory()
    first, second = scored_dossiers(call, ["90", "80"])
    foreign = scored_dossiers(CallFactory(), ["95"])[0]
    session = a_session(admin, call)
    client = client_of(admin)
    url = reverse("grants:committee-agenda-add", args=[session.pk])
    missing = client.post(url, {"reference": "TST-2099-99999", "amount": ""})
    assert missing.status_code == 200
    assert "Aucun dossier déposé ne porte cette référence." in text(missing)
    other_call = client.post(url, {"reference": foreign.reference, "amount": ""})
    assert "seul un dossier en instruction, éligible et noté" in text(other_call)
    too_much = client.post(url, {"reference": second.reference, "amount": "200 000"})
    assert f"Le montant attribué doit être compris entre 75{NBSP}000{NBSP}€ et 150{NBSP}000{NBSP}€." in text(
        too_much
    )
    assert not CommitteeItem.objects.exists()

    added = client.post(url, {"reference": second.reference.lower(), "amount": "100 000"})
    assert added.status_code == 302
    item = CommitteeItem.objects.get(session=session)
    assert (item.application_id, item.rank, item.proposed, item.proposed_yearly) == (
        second.pk,
        2,
        Decimal("100000.00"),
        ["33333.33", "33333.33", "33333.34"],
    )
    twice = client.post(url, {"reference": second.reference, "amount": ""})
    assert f"Le dossier {second.reference} est déjà à l'ordre du jour." in text(twice)
    assert CommitteeItem.objects.count() == 1
