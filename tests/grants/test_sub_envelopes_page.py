"""The page where programme admins set the sub-envelopes (recap before saving), and the
dashboard's table of the sub-envelopes."""

import html
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from core.formatting import format_money
from grants.models import SubEnvelope
from grants.services.sub_envelopes import sub_envelopes_set
from tests.factories import programme_admin
from tests.grants.test_agreements import laureate

pytestmark = pytest.mark.django_db

OCCITANIE, GERS = "76", "32"


def url(call) -> str:  # type: ignore[no-untyped-def]
    return reverse("grants:sub-envelopes", kwargs={"slug": call.slug})


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page's text, tags removed, spaces (no-break ones included) made plain."""
    body = html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))
    return " ".join(body.replace("\xa0", " ").replace("\u202f", " ").split())


def plain(value: str) -> str:
    return value.replace("\xa0", " ").replace("\u202f", " ")


def test_the_page_shows_a_field_per_region_and_departement_with_what_is_committed(client: Client):
    case = laureate()
    sub_envelopes_set(
        call=case.call, regions={OCCITANIE: Decimal("2000000")}, departements={}, actor=programme_admin()
    )
    client.force_login(programme_admin())
    response = client.get(url(case.call))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="region_76"' in content and 'name="departement_32"' in content
    assert 'name="region_11"' in content and 'name="departement_2A"' in content
    assert content.count('name="region_') == 18 and content.count('name="departement_') == 101
    assert 'value="2 000 000,00"' in plain(content)
    assert f"Déjà engagé : {plain(format_money(case.grant.amount + case.grant.bonus))}" in text(response)


def test_a_post_shows_the_recap_and_writes_nothing_then_confirming_saves(client: Client):
    case = laureate()
    admin = programme_admin()
    client.force_login(admin)
    data = {"region_76": "1 500 000", "departement_32": "400 000", "region_11": ""}
    response = client.post(url(case.call), data)
    assert response.status_code == 200
    page = text(response)
    assert "Confirmer les enveloppes déléguées" in page
    assert "Vous allez modifier 2 enveloppes déléguées de l'appel" in page
    assert "Région Occitanie aucune 1 500 000 €" in page
    assert "Département Gers (32) aucune 400 000 €" in page
    assert "Total délégué aux régions 1 500 000 €" in page
    assert not SubEnvelope.objects.exists()

    response = client.post(url(case.call), {**data, "confirmer": "1"})
    assert response.status_code == 302
    assert response["Location"].endswith("tableau-de-bord/#enveloppes-deleguees")
    sub = SubEnvelope.objects.get(departement_id=GERS)
    assert (sub.amount, sub.committed_amount) == (Decimal("400000"), case.grant.amount + case.grant.bonus)
    assert AuditEvent.objects.filter(action="envelope.sub_envelopes_set", actor=admin).count() == 1

    dashboard = client.get(response["Location"].split("#")[0])
    page = text(dashboard)
    committed = plain(format_money(case.grant.amount + case.grant.bonus))
    assert "Les enveloppes déléguées de l'appel" in page
    assert "Enveloppes déléguées aux régions et aux départements" in page
    remaining = plain(format_money(Decimal("1500000") - case.grant.amount - case.grant.bonus))
    assert f"Région Occitanie 1 500 000 € 2,8 % {committed} (10 %) {remaining} 1" in page
    dep_remaining = plain(format_money(Decimal("400000") - case.grant.amount - case.grant.bonus))
    assert f"Département Gers (32) 400 000 € 0,7 % {committed} (37,5 %) {dep_remaining} 1" in page


def test_a_refused_amount_is_shown_next_to_its_field_and_nothing_is_saved(client: Client):
    case = laureate()
    client.force_login(programme_admin())
    response = client.post(url(case.call), {"region_76": "100 000", "departement_32": "200 000"})
    assert response.status_code == 200
    page = text(response)
    assert "Le formulaire contient une erreur" in page
    assert "L'enveloppe déléguée à la région Occitanie ne peut pas descendre à 100 000 €" in page
    assert "Les enveloppes des départements de la région Occitanie totalisent 200 000 €" in page
    assert 'href="#id_region_76"' in response.content.decode()
    response = client.post(
        url(case.call), {"region_76": "100 000", "departement_32": "200 000", "confirmer": "1"}
    )
    assert "Le formulaire contient une erreur" in text(response)
    assert not SubEnvelope.objects.exists()
    assert not AuditEvent.objects.filter(action="envelope.sub_envelopes_set").exists()


def test_the_whole_envelope_over_delegated_is_refused_at_the_top_of_the_form(client: Client):
    case = laureate()
    client.force_login(programme_admin())
    response = client.post(url(case.call), {"region_76": "50 000 000", "region_11": "10 000 000"})
    assert "au-delà de l'enveloppe de l'appel (54 000 000 €)" in text(response)
    assert not SubEnvelope.objects.exists()


def test_an_unchanged_form_says_so(client: Client):
    case = laureate()
    client.force_login(programme_admin())
    response = client.post(url(case.call), {})
    assert "Aucun montant n'a changé." in text(response)


def test_the_dashboard_without_sub_envelope_says_so_and_links_to_the_page(client: Client):
    case = laureate()
    client.force_login(programme_admin())
    with CaptureQueriesContext(connection):
        response = client.get(reverse("grants:dashboard", kwargs={"slug": case.call.slug}))
    assert "Aucune enveloppe déléguée : toute l'enveloppe est gérée au niveau de l'appel." in text(response)
    assert f'href="{url(case.call)}"' in response.content.decode()
