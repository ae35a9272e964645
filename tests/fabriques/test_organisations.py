import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import AuditEvent
from fabriques.models import ApplicantFamily, LegalCategory, Organisation, OrganisationMembership
from fabriques.services import organisation_create, organisation_update
from fabriques.validators import format_siret, validate_siret
from tests.factories import OrganisationFactory, applicant, make_siret, member_of

pytestmark = pytest.mark.django_db

GERS = {
    "name": "Gers Développement",
    "siret": "732 829 320 00074",
    "legal_category": "7346",
    "cooperative_kind": "",
    "rna": "",
    "address": "Rue Dessoles",
    "postal_code": "32000",
    "commune_code": "32013",
    "commune_name": "Auch",
    "departement": "32",
    "year_created": "2010",
    "headcount": "4",
    "website": "",
    "job_title": "Directrice",
    "is_legal_representative": "on",
}


def test_siret_is_checked_with_its_luhn_key_and_shown_in_groups():
    validate_siret("73282932000074")
    validate_siret("732 829 320 00074")
    assert format_siret("73282932000074") == "732 829 320 00074"
    with pytest.raises(ValidationError, match="la clé de contrôle ne correspond pas"):
        validate_siret("73282932000075")
    with pytest.raises(ValidationError, match="que des chiffres"):
        validate_siret("7328293200007A")
    with pytest.raises(ValidationError, match="doit compter 14 chiffres"):
        validate_siret("7328293200007")


def test_la_postes_establishments_follow_their_own_rule():
    # La Poste (SIREN 356 000 000): the digits add up to a multiple of 5, the Luhn key does not hold.
    validate_siret("35600000000048")
    with pytest.raises(ValidationError):
        validate_siret("35600000000049")


def test_the_usual_legal_categories_are_loaded_with_their_family():
    families = dict(LegalCategory.objects.values_list("code", "family"))
    assert families["9220"] == ApplicantFamily.ASSOCIATION
    assert families["9300"] == ApplicantFamily.ASSOCIATION
    assert families["5710"] == ApplicantFamily.COMPANY
    assert families["7210"] == ApplicantFamily.LOCAL_AUTHORITY
    assert families["7346"] == ApplicantFamily.LOCAL_AUTHORITY
    assert families["7354"] == families["7355"] == ApplicantFamily.SYNDICAT_MIXTE
    assert families["7410"] == families["6220"] == ApplicantFamily.GIP_GIE


def test_an_applicant_registers_a_structure_and_becomes_its_member(client):
    user = applicant()
    client.force_login(user)
    response = client.post(reverse("fabriques:organisation-create"), GERS)
    organisation = Organisation.objects.get()
    assert response["Location"] == reverse("fabriques:organisation-detail", args=[organisation.pk])
    assert organisation.siret == "73282932000074"
    assert organisation.family == ApplicantFamily.LOCAL_AUTHORITY
    membership = OrganisationMembership.objects.get()
    assert membership.user == user and membership.is_legal_representative
    assert AuditEvent.objects.filter(action="organisation.create", actor=user).exists()
    page = client.get(response["Location"]).content.decode()
    assert "732 829 320 00074" in page
    assert "Collectivité territoriale ou groupement" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"siret": "73282932000075"}, "siret", "la clé de contrôle ne correspond pas"),
        ({"siret": "7328293200007A"}, "siret", "que des chiffres"),
        ({"commune_code": "3200x"}, "commune_code", "ce n&#x27;est pas le code postal"),
        ({"commune_code": "31555"}, "commune_code", "n&#x27;appartient pas au département"),
        ({"rna": "W321000123"}, "rna", "ne concerne que les associations"),
        ({"postal_code": "3200"}, "postal_code", "5 chiffres"),
        ({"name": "<script>alert(1)</script>", "year_created": "1492"}, "year_created", "1800"),
        ({"year_created": "2999"}, "year_created", "2100"),
        ({"legal_category": "9999"}, "legal_category", "Sélectionnez un choix valide"),
    ],
)
def test_bad_input_gets_a_french_error_next_to_the_field_and_saves_nothing(client, change, field, message):
    client.force_login(applicant())
    response = client.post(reverse("fabriques:organisation-create"), {**GERS, **change})
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="id_{field}-erreurs"' in page
    assert message in page
    assert "<script>alert(1)</script>" not in page
    assert not Organisation.objects.exists()
    assert not OrganisationMembership.objects.exists()


def test_a_siret_already_registered_is_refused_by_the_service_and_the_page():
    existing = OrganisationFactory(siret="73282932000074")
    user = applicant()
    from fabriques.models import Departement

    extra = ("job_title", "is_legal_representative")
    fields = {key: value for key, value in GERS.items() if key not in extra}
    fields.update(
        legal_category=LegalCategory.objects.get(code="7346"),
        departement=Departement.objects.get(code="32"),
        year_created=2010,
        headcount=4,
    )
    with pytest.raises(ValidationError, match="déjà enregistrée avec ce SIRET"):
        organisation_create(actor=user, **fields)
    assert Organisation.objects.get() == existing
    assert not OrganisationMembership.objects.filter(user=user).exists()


def test_the_database_refuses_a_siret_that_is_not_14_digits():
    from django.db import IntegrityError

    organisation = OrganisationFactory()
    with pytest.raises(IntegrityError):
        Organisation.objects.filter(pk=organisation.pk).update(siret="12345")


def test_an_applicant_sees_and_edits_only_their_own_structures(client):
    alice, bob = applicant(), applicant()
    mine, theirs = OrganisationFactory(name="Chez Alice"), OrganisationFactory(name="Chez Bob")
    member_of(mine, alice)
    member_of(theirs, bob)
    client.force_login(alice)
    listing = client.get(reverse("fabriques:organisation-list")).content.decode()
    assert "Chez Alice" in listing and "Chez Bob" not in listing
    assert client.get(reverse("fabriques:organisation-detail", args=[theirs.pk])).status_code == 404
    edit = {**GERS, "siret": theirs.siret, "name": "Piratée"}
    assert client.post(reverse("fabriques:organisation-detail", args=[theirs.pk]), edit).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Chez Bob"


def test_update_audits_what_changed():
    user = applicant()
    organisation = OrganisationFactory(siret=make_siret(77))
    member_of(organisation, user)
    organisation_update(organisation=organisation, actor=user, headcount=12, name=organisation.name)
    event = AuditEvent.objects.get(action="organisation.update")
    assert event.data["fields"] == ["headcount"]
    organisation.refresh_from_db()
    assert organisation.headcount == 12
