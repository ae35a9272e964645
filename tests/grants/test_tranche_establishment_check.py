"""Before a tranche is validated, the lead structure's establishment is looked up again.

No internet here: the look-up asks a real HTTP server on 127.0.0.1 replaying answers recorded from
the public documentation of the API « Recherche d'entreprises » (tests/fabriques/sirene_server.py).
"""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import AuditEvent
from fabriques.models import Organisation
from grants.models import EstablishmentCheck, Tranche
from grants.services.payments import tranche_validate
from tests.fabriques import sirene_server
from tests.fabriques.sirene_server import (
    CLOSED,
    FOUND,
    FOUND_AS_SIEGE,
    SireneApi,
)
from tests.grants.test_payments import Setup, force

# The local stand-in for the API, a server shared by this module's tests.
sirene_api = sirene_server.sirene_api
sirene = sirene_server.sirene

pytestmark = pytest.mark.django_db

T = Tranche.Status

# The lead structure as the directory knows FOUND (tests/fixtures/recherche_entreprises/found.json),
# typed the portal's way (case, accents).
AS_THE_DIRECTORY_SAYS = {
    "name": "La Fabrique du Gers",
    "address": "1 place de la Mairie",
    "postal_code": "32000",
    "commune_code": "32013",
    "commune_name": "Auch",
    "legal_category_id": "9220",
}


def requested(siret: str, **fields: str) -> tuple[Setup, Tranche]:
    setup = Setup()
    Organisation.objects.filter(pk=setup.lead().pk).update(siret=siret, **fields)
    return setup, force(setup.tranche(1), T.REQUESTED)


def manage_page(client, setup: Setup) -> str:  # type: ignore[no-untyped-def]
    client.force_login(setup.reviewer)
    url = reverse("grants:tranche-manage", args=[setup.application.reference])
    return client.get(url).content.decode()


def test_an_establishment_as_registered_is_checked_and_the_page_says_so(client, sirene: SireneApi):
    setup, tranche = requested(FOUND, **AS_THE_DIRECTORY_SAYS)
    client.force_login(setup.reviewer)
    response = client.post(reverse("grants:tranche-validate", args=[setup.application.reference, 1]))
    assert response.status_code == 302
    tranche.refresh_from_db()
    assert tranche.status == T.VALIDATED
    assert tranche.establishment_check == EstablishmentCheck.OK
    assert tranche.establishment_checked_at is not None
    page = manage_page(client, setup)
    assert "Établissement vérifié" in page
    assert "établissement du chef de file vérifié dans l'annuaire des entreprises" in page


def test_a_recheck_asks_the_directory_afresh_not_the_cache(sirene: SireneApi):
    setup, tranche = requested(FOUND, **AS_THE_DIRECTORY_SAYS)
    from fabriques.sirene import lookup_siret

    lookup_siret(FOUND)
    tranche_validate(tranche=tranche, actor=setup.reviewer)
    assert sirene.count(FOUND) == 2


def test_a_changed_establishment_raises_an_alert_kept_on_the_tranche(client, sirene: SireneApi):
    setup, tranche = requested(FOUND_AS_SIEGE)
    tranche_validate(tranche=tranche, actor=setup.reviewer)
    tranche.refresh_from_db()
    assert tranche.status == T.VALIDATED  # the instructor judges; nothing is blocked
    assert tranche.establishment_check == EstablishmentCheck.CHANGED
    note = tranche.establishment_check_note
    assert "raison sociale" in note and "TIERS-LIEU LES COMMUNS D'ASTARAC" in note
    assert "adresse" in note and "4 ROUTE D'AUCH, 32300 MIRANDE" in note
    assert "catégorie juridique : 9220 au portail, 5710 dans l'annuaire" in note
    event = AuditEvent.objects.get(action="tranche.validate")
    assert event.data["establishment_check"] == "changed"
    page = manage_page(client, setup)
    assert 'id="etablissement-1"' in page
    assert "Tranche de l'année 1 : Établissement modifié" in page
    assert "TIERS-LIEU LES COMMUNS D&#x27;ASTARAC" in page


def test_a_closed_establishment_raises_an_alert_with_its_date(client, sirene: SireneApi):
    setup, tranche = requested(CLOSED)
    tranche_validate(tranche=tranche, actor=setup.reviewer)
    tranche.refresh_from_db()
    assert tranche.status == T.VALIDATED
    assert tranche.establishment_check == EstablishmentCheck.CLOSED
    assert "est fermé depuis le 31/12/2021" in tranche.establishment_check_note
    assert "Établissement fermé" in manage_page(client, setup)


def test_when_the_directory_is_down_the_tranche_is_validated_and_says_non_verifie(
    client, sirene: SireneApi, settings
):
    settings.SIRENE_API_URL = "http://127.0.0.1:9"  # nothing answers
    setup, tranche = requested(FOUND, **AS_THE_DIRECTORY_SAYS)
    tranche_validate(tranche=tranche, actor=setup.reviewer)
    tranche.refresh_from_db()
    assert tranche.status == T.VALIDATED
    assert tranche.establishment_check == EstablishmentCheck.UNVERIFIED
    page = manage_page(client, setup)
    assert "Tranche de l'année 1 : Non vérifié" in page
    assert "n&#x27;a pas pu être vérifié" in page


def test_a_refused_validation_asks_nothing(sirene: SireneApi):
    setup, tranche = requested(FOUND, **AS_THE_DIRECTORY_SAYS)
    force(tranche, T.SCHEDULED)
    with pytest.raises(ValidationError):
        tranche_validate(tranche=tranche, actor=setup.reviewer)
    assert sirene.count(FOUND) == 0


def test_without_the_look_up_nothing_is_asked_nor_shown(client, settings):
    settings.SIRENE_API_URL = ""
    setup, tranche = requested(FOUND)
    tranche_validate(tranche=tranche, actor=setup.reviewer)
    tranche.refresh_from_db()
    assert tranche.status == T.VALIDATED and tranche.establishment_check == EstablishmentCheck.NONE
    assert 'id="etablissement-1"' not in manage_page(client, setup)
