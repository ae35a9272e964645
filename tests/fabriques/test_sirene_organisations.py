"""The SIRET look-up in the structure's form, the « à vérifier » flag and its beat re-check.

No internet here: the look-up asks a real HTTP server on 127.0.0.1 replaying answers recorded from
the public documentation of the API « Recherche d'entreprises » (tests/fabriques/sirene_server.py).
"""

import pytest
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import AuditEvent
from fabriques.models import Organisation, SiretStatus
from fabriques.services import organisation_siret_recheck
from fabriques.sirene import Lookup, Status
from fabriques.tasks import organisations_siret_recheck_task
from tests.fabriques.sirene_server import (
    CLOSED,
    FOUND,
    NOT_FOUND,
    Answer,
    SireneApi,
)
from tests.factories import OrganisationFactory, applicant, in_review_application

pytestmark = pytest.mark.django_db

URL = reverse("fabriques:organisation-create")

# What the applicant adds to the pre-filled fields before confirming.
COMPLETED = {
    "cooperative_kind": "",
    "rna": "",
    "year_created": "2018",
    "headcount": "3",
    "website": "",
    "job_title": "Coordinatrice",
    "is_legal_representative": "on",
}
FOUND_FIELDS = {
    "siret": FOUND,
    "name": "LA FABRIQUE DU GERS",
    "address": "1 PLACE DE LA MAIRIE",
    "postal_code": "32000",
    "commune_code": "32013",
    "commune_name": "AUCH",
    "departement": "32",
    "legal_category": "9220",
    "naf_code": "94.99Z",
}
TYPED = {**FOUND_FIELDS, "name": "La Fabrique du Gers", "naf_code": "", **COMPLETED}


def field_value(page: str, name: str) -> str:
    import re

    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert match, name
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def selected(page: str, name: str) -> str:
    import re

    select = re.search(rf'<select[^>]*name="{name}".*?</select>', page, flags=re.S)
    assert select, name
    option = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(0))
    return option.group(1) if option else ""


def test_rechercher_pre_fills_the_form_from_the_directory_and_saves_nothing(client, sirene: SireneApi):
    client.force_login(applicant())
    response = client.post(URL, {"siret": "834 910 218 00017", "job_title": "Coordinatrice", "lookup": "1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Établissement trouvé dans l'annuaire des entreprises" in page
    assert "En activité" in page
    assert field_value(page, "siret") == "834 910 218 00017"  # as typed
    assert field_value(page, "name") == "LA FABRIQUE DU GERS"
    assert field_value(page, "address") == "1 PLACE DE LA MAIRIE"
    assert field_value(page, "postal_code") == "32000"
    assert field_value(page, "commune_code") == "32013"
    assert field_value(page, "commune_name") == "AUCH"
    assert field_value(page, "naf_code") == "94.99Z"
    assert selected(page, "legal_category") == "9220"
    assert selected(page, "departement") == "32"
    # What the applicant had typed is kept; no error is shown for the fields still empty.
    assert field_value(page, "job_title") == "Coordinatrice"
    assert "erreurs" not in page
    assert not Organisation.objects.exists()


def test_with_htmx_rechercher_swaps_only_the_form(client, sirene: SireneApi):
    client.force_login(applicant())
    page = client.get(URL).content.decode()
    assert 'name="lookup"' in page and f'hx-post="{URL}"' in page and 'hx-select="#structure-form"' in page
    swapped = client.post(URL, {"siret": FOUND, "lookup": "1"}, headers={"HX-Request": "true"})
    body = swapped.content.decode()
    assert 'id="structure-form"' in body and field_value(body, "name") == "LA FABRIQUE DU GERS"


def test_confirming_the_pre_filled_form_registers_a_verified_structure(client, sirene: SireneApi):
    user = applicant()
    client.force_login(user)
    client.post(URL, {"siret": FOUND, "lookup": "1"})
    response = client.post(URL, {**FOUND_FIELDS, **COMPLETED})
    organisation = Organisation.objects.get()
    assert response["Location"] == reverse("fabriques:organisation-detail", args=[organisation.pk])
    assert organisation.siret_status == SiretStatus.VERIFIED
    assert organisation.siret_checked_at is not None
    assert organisation.naf_code == "94.99Z"
    assert organisation.name == "LA FABRIQUE DU GERS"
    # The confirmation used the answer of « Rechercher », kept in the cache: one request in all.
    assert sirene.count(FOUND) == 1
    event = AuditEvent.objects.get(action="organisation.create")
    assert event.data["siret_status"] == "verified"
    page = client.get(response["Location"]).content.decode()
    assert "Vérifié" in page and "94.99Z" in page


def test_a_closed_establishment_is_refused_next_to_the_siret_at_rechercher(client, sirene: SireneApi):
    client.force_login(applicant())
    response = client.post(URL, {"siret": CLOSED, "lookup": "1"})
    page = response.content.decode()
    assert 'id="id_siret-erreurs"' in page
    assert "Cet établissement est fermé depuis le 31/12/2021 selon l&#x27;annuaire des entreprises" in page
    assert "Établissement trouvé" not in page
    assert field_value(page, "name") == ""


def test_a_closed_establishment_is_refused_at_saving_too_and_nothing_is_written(client, sirene: SireneApi):
    client.force_login(applicant())
    response = client.post(URL, {**TYPED, "siret": CLOSED})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_siret-erreurs"' in page
    assert "indiquez le SIRET d&#x27;un établissement en activité" in page
    assert not Organisation.objects.exists()
    assert not AuditEvent.objects.filter(action="organisation.create").exists()


def test_a_siret_failing_its_check_digits_is_refused_before_the_directory_is_asked(client, sirene: SireneApi):
    client.force_login(applicant())
    page = client.post(URL, {"siret": "83491021800018", "lookup": "1"}).content.decode()
    assert "la clé de contrôle ne correspond pas" in page
    assert sirene.script.requests == []


def test_a_siret_the_directory_does_not_know_is_typed_by_hand_and_flagged(client, sirene: SireneApi):
    client.force_login(applicant())
    page = client.post(URL, {"siret": NOT_FOUND, "lookup": "1"}).content.decode()
    assert "Aucun établissement en activité n'est trouvé pour ce SIRET" in page
    response = client.post(URL, {**TYPED, "siret": NOT_FOUND})
    organisation = Organisation.objects.get()
    assert response.status_code == 302
    assert organisation.siret_status == SiretStatus.TO_VERIFY
    assert organisation.name == "La Fabrique du Gers"


def test_when_the_directory_is_down_manual_entry_works_and_the_structure_is_to_verify(
    client, sirene: SireneApi, settings
):
    settings.SIRENE_API_URL = "http://127.0.0.1:9"  # nothing answers
    client.force_login(applicant())
    page = client.post(URL, {"siret": FOUND, "lookup": "1"}).content.decode()
    assert "L'annuaire des entreprises ne répond pas pour le moment" in page
    response = client.post(URL, TYPED)
    assert response.status_code == 302
    organisation = Organisation.objects.get()
    assert organisation.siret_status == SiretStatus.TO_VERIFY
    assert organisation.naf_code == ""
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("signalée « à vérifier » à l'équipe d'instruction" in text for text in texts)


def test_without_the_look_up_the_form_has_no_rechercher_and_registers_unchecked(client, settings):
    settings.SIRENE_API_URL = ""
    client.force_login(applicant())
    page = client.get(URL).content.decode()
    assert "Rechercher" not in page
    assert client.post(URL, TYPED).status_code == 302
    assert Organisation.objects.get().siret_status == SiretStatus.UNCHECKED


def test_the_instructor_sees_a_structure_to_verify_on_the_dossier(client):
    application, reviewer = in_review_application()
    lead = application.members.get(is_lead=True).organisation
    Organisation.objects.filter(pk=lead.pk).update(siret_status=SiretStatus.TO_VERIFY)
    client.force_login(reviewer)
    page = client.get(reverse("applications:review-detail", args=[application.reference])).content.decode()
    assert "À vérifier" in page


def test_the_beat_task_clears_or_raises_the_flags_and_audits_each_change(sirene: SireneApi):
    cleared = OrganisationFactory(siret=FOUND, siret_status=SiretStatus.TO_VERIFY)
    closed = OrganisationFactory(siret=CLOSED, siret_status=SiretStatus.TO_VERIFY)
    unknown = OrganisationFactory(siret=NOT_FOUND, siret_status=SiretStatus.TO_VERIFY)
    still_down = OrganisationFactory(siret="88011223000011", siret_status=SiretStatus.TO_VERIFY)
    sirene.play("88011223000011", Answer(status=503, fixture="server_error.json"))
    untouched = OrganisationFactory(siret="51234567900033", siret_status=SiretStatus.VERIFIED)

    counts = organisations_siret_recheck_task()

    assert counts == {"checked": 4, "cleared": 1, "raised": 2}
    for organisation in (cleared, closed, unknown, still_down, untouched):
        organisation.refresh_from_db()
    assert cleared.siret_status == SiretStatus.VERIFIED and cleared.naf_code == "94.99Z"
    assert closed.siret_status == SiretStatus.CLOSED
    assert unknown.siret_status == SiretStatus.NOT_FOUND
    assert still_down.siret_status == SiretStatus.TO_VERIFY and still_down.siret_checked_at is None
    assert untouched.siret_status == SiretStatus.VERIFIED
    events = AuditEvent.objects.filter(action="organisation.siret_check")
    assert events.count() == 3
    assert events.get(target_id=str(closed.pk)).data["after"] == {"siret_status": "closed"}
    assert sirene.count("51234567900033") == 0
    # Run again: only the structure still waiting is asked about, and nothing changes twice.
    assert organisations_siret_recheck_task() == {"checked": 1, "cleared": 0, "raised": 0}
    assert AuditEvent.objects.filter(action="organisation.siret_check").count() == 3


def test_the_recheck_service_does_nothing_to_a_structure_no_longer_flagged():
    organisation = OrganisationFactory(siret_status=SiretStatus.VERIFIED)
    organisation_siret_recheck(organisation=organisation, establishment=Lookup(Status.NOT_FOUND))
    organisation.refresh_from_db()
    assert organisation.siret_status == SiretStatus.VERIFIED
    assert not AuditEvent.objects.filter(action="organisation.siret_check").exists()


def test_the_recheck_is_in_the_beat_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["organisations-siret-recheck"]
    assert entry["task"] == "fabriques.tasks.organisations_siret_recheck_task"
    assert organisations_siret_recheck_task.name == entry["task"]


def test_changing_the_siret_to_a_closed_establishment_is_refused_and_to_a_known_one_verified(
    client, sirene: SireneApi
):
    from tests.factories import member_of

    user = applicant()
    organisation = OrganisationFactory(siret="88011223000011")
    member_of(organisation, user)
    client.force_login(user)
    url = reverse("fabriques:organisation-detail", args=[organisation.pk])
    fields = {**TYPED, "siret": CLOSED}
    del fields["job_title"], fields["is_legal_representative"]
    page = client.post(url, fields).content.decode()
    assert 'id="id_siret-erreurs"' in page and "Cet établissement est fermé" in page
    organisation.refresh_from_db()
    assert organisation.siret == "88011223000011"
    assert client.post(url, {**fields, "siret": FOUND}).status_code == 302
    organisation.refresh_from_db()
    assert (organisation.siret, organisation.siret_status) == (FOUND, SiretStatus.VERIFIED)
    event = AuditEvent.objects.get(action="organisation.update")
    assert event.data["after"]["siret_status"] == "verified"


def test_a_siret_corrected_in_the_admin_is_looked_up_as_in_the_portal(client, sirene: SireneApi, settings):
    """Closed: refused next to the field, nothing written. Known: verified. Directory down: « à
    vérifier », which the hourly check asks again (it had been left « non vérifié », never asked)."""
    from accounts.models import User
    from tests.config.test_admin_writes import change_form_data
    from tests.factories import UserFactory

    superuser: User = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    organisation = OrganisationFactory(siret="88011223000011")
    url = reverse("admin:fabriques_organisation_change", args=[organisation.pk])

    response = client.post(url, change_form_data(client, url, siret=CLOSED))
    assert response.status_code == 200
    assert "Cet établissement est fermé" in str(response.context["adminform"].form.errors["siret"])
    organisation.refresh_from_db()
    assert organisation.siret == "88011223000011"
    assert not AuditEvent.objects.filter(action="organisation.update").exists()

    assert client.post(url, change_form_data(client, url, siret=FOUND)).status_code == 302
    organisation.refresh_from_db()
    assert (organisation.siret, organisation.siret_status) == (FOUND, SiretStatus.VERIFIED)
    assert AuditEvent.objects.get(action="organisation.update").data["after"]["siret_status"] == "verified"

    settings.SIRENE_API_URL = "http://127.0.0.1:9"  # nothing answers
    assert client.post(url, change_form_data(client, url, siret=NOT_FOUND)).status_code == 302
    organisation.refresh_from_db()
    assert (organisation.siret, organisation.siret_status) == (NOT_FOUND, SiretStatus.TO_VERIFY)
