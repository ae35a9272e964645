"""The read API's endpoints: scoped as the pages, paged by cursor, filtered, amounts as strings."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from api.selectors import cursor_encode
from applications.models import Application
from tests.api.world import World, build_world
from tests.factories import submitted_application

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return build_world()


def references(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["reference"] for item in response.json()["items"]]


def test_public_calls_give_their_envelope_figures_as_strings_of_euros(world: World) -> None:
    call = world.dossier.call
    response = world.client(None).get(f"/api/v1/calls/{call.slug}")
    assert response.status_code == 200
    body = response.json()
    envelope = call.envelope
    assert body["envelope"] == f"{envelope:.2f}"
    assert body["committed"] == "150000.00"
    assert body["paid"] == f"{world.paid.amount:.2f}"
    assert body["remaining"] == f"{envelope - 150000:.2f}"
    assert body["laureates"] == 1
    # ISO 8601 dates, with their offset.
    # (to the millisecond, as Django's JSON encoder writes them)
    assert datetime.fromisoformat(body["opens_at"]) == call.opens_at.replace(
        microsecond=call.opens_at.microsecond // 1000 * 1000
    )
    listed = world.client(None).get("/api/v1/calls").json()["items"]
    assert call.slug in [item["slug"] for item in listed]


def test_each_role_sees_the_dossiers_its_pages_show(world: World) -> None:
    d, b = world.dossier.reference, world.draft_b.reference
    assert references(world.client(world.applicant_a).get("/api/v1/dossiers")) == [d]
    # A draft is its applicant's alone.
    assert references(world.client(world.applicant_b).get("/api/v1/dossiers")) == [b]
    assert references(world.client(world.instructor_in).get("/api/v1/dossiers")) == [d]
    assert references(world.client(world.instructor_out).get("/api/v1/dossiers")) == []
    assert references(world.client(world.admin).get("/api/v1/dossiers")) == [d]
    response = world.client(world.expert).get("/api/v1/dossiers")
    assert response.status_code == 403
    assert "rôle" in response.json()["detail"]


def test_a_dossier_outside_the_scope_is_a_json_404(world: World) -> None:
    url = f"/api/v1/dossiers/{world.dossier.reference}"
    body = world.client(world.instructor_in).get(url).json()
    assert body["reference"] == world.dossier.reference
    assert body["lead"]["siret"] == world.dossier.members.get(is_lead=True).organisation.siret
    for user in (world.applicant_b, world.instructor_out):
        response = world.client(user).get(url)
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["detail"]


def test_grants_tranches_and_payments_follow_the_dossier_scope(world: World) -> None:
    for user in (world.applicant_a, world.instructor_in, world.admin):
        client = world.client(user)
        grants = client.get("/api/v1/grants").json()["items"]
        assert [(g["dossier"], g["amount"], g["committed"]) for g in grants] == [
            (world.dossier.reference, "150000.00", "150000.00")
        ]
        tranches = client.get("/api/v1/tranches").json()["items"]
        assert {t["dossier"] for t in tranches} == {world.dossier.reference}
        assert sorted(t["year"] for t in tranches) == list(range(1, len(tranches) + 1))
        payments = client.get("/api/v1/payments").json()["items"]
        assert payments == [
            {
                "tranche": world.paid.pk,
                "dossier": world.dossier.reference,
                "call": world.dossier.call.slug,
                "agreement": world.grant.agreement.number,
                "beneficiary_siret": world.dossier.members.get(is_lead=True).organisation.siret,
                "paid_on": "2026-03-02",
                "amount": f"{world.paid.amount:.2f}",
                "reference": "VIR-2026-0001",
            }
        ]
    for user in (world.applicant_b, world.instructor_out):
        client = world.client(user)
        for path in ("/api/v1/grants", "/api/v1/tranches", "/api/v1/payments"):
            assert client.get(path).json()["items"] == [], (user, path)


def test_the_laureates_are_public_with_their_amount(world: World) -> None:
    response = world.client(None).get(f"/api/v1/calls/{world.dossier.call.slug}/laureates")
    [laureate] = response.json()["items"]
    assert laureate["name"] == world.dossier.members.get(is_lead=True).organisation.name
    assert laureate["amount"] == "150000.00"
    assert laureate["departement"] == "32"
    assert laureate["kind"] == "FT"


def test_pages_walk_every_dossier_once_while_dossiers_change(world: World) -> None:
    """Keyset pages: a dossier changed or added during the walk is neither seen twice nor skipped."""
    call = world.dossier.call
    for _ in range(4):
        submitted_application(call=call)
    expected = set(
        Application.objects.exclude(status=Application.Status.DRAFT).values_list("reference", flat=True)
    )
    client = world.client(world.admin)
    seen: list[str] = []
    url = "/api/v1/dossiers?limit=2"
    body = client.get(url).json()
    seen += [item["reference"] for item in body["items"]]
    # The first page's dossier is changed (its updated_at moves), a new one is submitted.
    Application.objects.filter(reference=seen[0]).update(updated_at=timezone.now())
    added = submitted_application(call=call)
    while body["next_cursor"]:
        assert len(body["items"]) == 2
        body = client.get(f"{url}&cursor={body['next_cursor']}").json()
        seen += [item["reference"] for item in body["items"]]
    assert len(seen) == len(set(seen))
    assert set(seen) == expected | {added.reference}


def test_filters_by_call_wave_state_departement_and_date(world: World) -> None:
    client = world.client(world.admin)
    d = world.dossier.reference
    other = submitted_application()
    assert references(client.get(f"/api/v1/dossiers?call={world.dossier.call.slug}")) == [d]
    assert set(references(client.get("/api/v1/dossiers?etat=awarded"))) == {d}
    assert references(client.get("/api/v1/dossiers?etat=submitted")) == [other.reference]
    assert set(references(client.get("/api/v1/dossiers?departement=32"))) == {d, other.reference}
    assert references(client.get("/api/v1/dossiers?departement=75")) == []
    assert references(client.get("/api/v1/dossiers?wave=1")) == []
    since = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert references(client.get("/api/v1/dossiers", {"updated_since": since})) == []
    Application.objects.filter(pk=other.pk).update(updated_at=timezone.now() + timedelta(minutes=2))
    assert references(client.get("/api/v1/dossiers", {"updated_since": since})) == [other.reference]
    grants = client.get("/api/v1/grants?etat=cancelled").json()["items"]
    assert grants == []
    tranches = client.get("/api/v1/tranches?etat=paid").json()["items"]
    assert [t["id"] for t in tranches] == [world.paid.pk]
    assert client.get("/api/v1/payments?paid_since=2026-03-03").json()["items"] == []


def test_bad_parameters_are_refused_in_json(world: World) -> None:
    client = world.client(world.admin)
    response = client.get("/api/v1/dossiers?limit=201")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "limit"]
    assert client.get("/api/v1/dossiers?cursor=NOT-A-CURSOR").status_code == 422
    assert client.get("/api/v1/dossiers?etat=lost").status_code == 422


def test_a_page_is_never_longer_than_the_setting(world: World, settings: Any) -> None:
    settings.API_MAX_PAGE_SIZE = 1
    for _ in range(2):
        submitted_application(call=world.dossier.call)
    body = world.client(world.admin).get("/api/v1/dossiers?limit=50").json()
    assert len(body["items"]) == 1
    assert body["next_cursor"] == cursor_encode(
        Application.objects.get(reference=body["items"][0]["reference"]).pk
    )
