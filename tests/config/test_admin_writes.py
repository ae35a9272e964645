"""Every write of the admin goes through a service and leaves an audit row with before and after."""

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, User
from applications.models import Call, RequiredDocument
from core.formatting import format_money
from fabriques.models import Activity, InstructorScope, Region, TiersLieu
from fabriques.services import instructor_scope_add
from tests.factories import (
    CallFactory,
    OrganisationFactory,
    UserFactory,
    applicant,
    complete_application,
    instructor,
    make_siret,
)

pytestmark = [pytest.mark.django_db, pytest.mark.ignore_template_errors]


@pytest.fixture
def superuser() -> User:
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def staff(client: Client, superuser: User) -> Client:
    client.force_login(superuser)
    return client


def _form_fields(form: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in form.fields:
        field = form[name]
        value = field.value()
        if hasattr(field.field.widget, "widgets"):  # a date and a time, posted apart
            for index, part in enumerate(field.field.widget.decompress(value)):
                data[f"{field.html_name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, list | tuple):
            data[field.html_name] = [str(item) for item in value]
        elif value is not None and value is not False:
            data[field.html_name] = value
    return data


def change_form_data(client: Client, url: str, **changes: Any) -> dict[str, Any]:
    """What the change page would post as it stands (its inlines included), with `changes` typed in."""
    context = client.get(url).context
    data = _form_fields(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_form_fields(formset.management_form))
        for form in formset.forms:
            data.update(_form_fields(form))
    data.update(changes)
    return data


def test_adding_a_scope_in_the_admin_is_audited_with_the_territory_before_and_after(staff, superuser):
    user = instructor()
    instructor_scope_add(instructor=user, region=Region.objects.get(code="76"), actor=None)
    response = staff.post(
        reverse("admin:fabriques_instructorscope_add"),
        {"instructor": user.pk, "region": "", "departement": "75"},
    )
    assert response.status_code == 302
    assert set(InstructorScope.objects.filter(instructor=user).values_list("departement", flat=True)) == {
        None,
        "75",
    }
    event = AuditEvent.objects.get(action="account.scope_add", actor=superuser)
    assert event.target_id == str(user.pk)
    assert event.data == {
        "fields": ["departements"],
        "before": {"departements": []},
        "after": {"departements": ["75"]},
    }


def test_the_admin_refuses_a_scope_for_a_non_instructor_as_the_service_does(staff):
    someone = applicant()
    response = staff.post(
        reverse("admin:fabriques_instructorscope_add"),
        {"instructor": someone.pk, "region": "76", "departement": ""},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["instructor"] == ["Seul un instructeur peut recevoir un périmètre d'instruction."]
    assert not InstructorScope.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="account.scope").exists()


def test_changing_and_deleting_a_scope_in_the_admin_are_audited(staff, superuser):
    user = instructor()
    scope = instructor_scope_add(instructor=user, region=Region.objects.get(code="76"), actor=None)
    other = instructor_scope_add(instructor=user, region=Region.objects.get(code="11"), actor=None)
    response = staff.post(
        reverse("admin:fabriques_instructorscope_change", args=[scope.pk]),
        {"region": "84", "departement": ""},
    )
    assert response.status_code == 302
    scope.refresh_from_db()
    assert scope.region_id == "84" and scope.instructor == user
    change = AuditEvent.objects.get(action="account.scope_change")
    assert change.data == {
        "fields": ["regions"],
        "before": {"regions": ["11", "76"]},
        "after": {"regions": ["11", "84"]},
    }

    staff.post(reverse("admin:fabriques_instructorscope_delete", args=[scope.pk]), {"post": "yes"})
    # The bulk action too.
    staff.post(
        reverse("admin:fabriques_instructorscope_changelist"),
        {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"},
    )
    assert not InstructorScope.objects.filter(instructor=user).exists()
    removals = [
        event.data
        for event in AuditEvent.objects.filter(action="account.scope_remove", actor=superuser).order_by("pk")
    ]
    assert removals == [
        {"fields": ["regions"], "before": {"regions": ["11", "84"]}, "after": {"regions": ["11"]}},
        {"fields": ["regions"], "before": {"regions": ["11"]}, "after": {"regions": []}},
    ]


def test_an_organisation_is_corrected_in_the_admin_through_its_service_never_added_or_deleted(
    staff, superuser
):
    organisation = OrganisationFactory(siret=make_siret(41), headcount=3)
    url = reverse("admin:fabriques_organisation_change", args=[organisation.pk])
    response = staff.post(url, change_form_data(staff, url, headcount="12", name="La Bobine SCIC"))
    assert response.status_code == 302
    organisation.refresh_from_db()
    assert (organisation.headcount, organisation.name) == (12, "La Bobine SCIC")
    event = AuditEvent.objects.get(action="organisation.update", actor=superuser)
    assert event.data["fields"] == ["name", "headcount"]
    assert event.data["before"]["headcount"] == 3 and event.data["after"]["headcount"] == 12
    assert event.data["after"]["name"] == "La Bobine SCIC"

    # The model's rules hold here as in the portal: a bad SIRET is refused next to its field.
    response = staff.post(url, change_form_data(staff, url, siret="12345678901234"))
    assert response.status_code == 200 and response.context["adminform"].form.errors["siret"]
    assert AuditEvent.objects.filter(action="organisation.update").count() == 1

    assert staff.get(reverse("admin:fabriques_organisation_add")).status_code == 403
    staff.post(reverse("admin:fabriques_organisation_delete", args=[organisation.pk]), {"post": "yes"})
    assert type(organisation).objects.filter(pk=organisation.pk).exists()


def test_a_place_is_corrected_in_the_admin_through_its_service_activities_included(staff, superuser):
    place = TiersLieu.objects.create(name="La Bobine", departement_id="32")
    activity = Activity.objects.order_by("pk").first()
    assert activity is not None
    url = reverse("admin:fabriques_tierslieu_change", args=[place.pk])
    response = staff.post(url, change_form_data(staff, url, commune_name="Auch", activities=[activity.pk]))
    assert response.status_code == 302
    place.refresh_from_db()
    assert place.commune_name == "Auch" and list(place.activities.all()) == [activity]
    event = AuditEvent.objects.get(action="place.update", actor=superuser)
    assert event.data == {
        "fields": ["commune_name", "activities"],
        "before": {"commune_name": "", "activities": []},
        "after": {"commune_name": "Auch", "activities": [activity.pk]},
    }
    assert staff.get(reverse("admin:fabriques_tierslieu_add")).status_code == 403


def test_a_call_changed_in_the_admin_keeps_the_counters_and_audits_each_field(staff, superuser):
    call = CallFactory()
    url = reverse("admin:applications_call_change", args=[call.pk])
    data = change_form_data(staff, url, target_count="400", envelope="60 000 000,00")
    # An award is made while the form is open: the form's stale counters must not win.
    Call.objects.filter(pk=call.pk).update(committed_amount=Decimal("150000"), laureate_count=1)
    response = staff.post(url, data)
    assert response.status_code == 302
    call.refresh_from_db()
    assert (call.target_count, call.envelope) == (400, Decimal("60000000"))
    assert (call.committed_amount, call.laureate_count) == (Decimal("150000"), 1)
    event = AuditEvent.objects.get(action="call.update", actor=superuser)
    assert event.data == {
        "fields": ["envelope", "target_count"],
        "before": {"envelope": "54000000.00", "target_count": 360},
        "after": {"envelope": "60000000.00", "target_count": 400},
    }
    # The counters are shown, never editable: they are the grants services'.
    page = staff.get(url).content.decode()
    assert 'name="committed_amount"' not in page and 'name="laureate_count"' not in page


def test_the_admin_refuses_an_envelope_below_what_is_committed_as_the_service_does(staff):
    call = CallFactory()
    Call.objects.filter(pk=call.pk).update(committed_amount=Decimal("300000"))
    url = reverse("admin:applications_call_change", args=[call.pk])
    response = staff.post(url, change_form_data(staff, url, envelope="200 000"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["envelope"] == [
        f"L'enveloppe ne peut pas être inférieure aux montants déjà engagés ({format_money(300000)})."
    ]
    call.refresh_from_db()
    assert call.envelope == Decimal("54000000")
    assert not AuditEvent.objects.filter(action="call.update").exists()


def test_a_calls_documents_added_changed_and_deleted_in_the_admin_are_audited(staff, superuser):
    call = CallFactory()
    url = reverse("admin:applications_call_change", args=[call.pk])
    data = change_form_data(staff, url)
    documents = list(call.required_documents.order_by("position", "label"))
    prefix = "required_documents"
    assert data[f"{prefix}-0-id"] == documents[0].pk
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-0-label"] = "Statuts à jour"
    data[f"{prefix}-1-DELETE"] = "on"
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": str(total + 1),
            f"{prefix}-{total}-code": "kbis",
            f"{prefix}-{total}-label": "Extrait Kbis",
            f"{prefix}-{total}-allowed_formats": "pdf",
            f"{prefix}-{total}-max_size_mb": "10",
            f"{prefix}-{total}-position": "9",
            f"{prefix}-{total}-mandatory": "on",
            f"{prefix}-{total}-families": "[]",
            f"{prefix}-{total}-call": str(call.pk),
        }
    )
    response = staff.post(url, data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][1].formset.errors
    assert set(call.required_documents.values_list("code", flat=True)) == {
        "statuts",
        "soutiens",
        "cer",
        "deliberation",
        "kbis",
    }
    events = {e.action: e.data for e in AuditEvent.objects.filter(actor=superuser, target_id=str(call.pk))}
    assert events["call.required_document_update"]["before"] == {"label": "Statuts"}
    assert events["call.required_document_update"]["after"] == {"label": "Statuts à jour"}
    assert events["call.required_document_delete"]["before"]["code"] == "rib"
    assert events["call.required_document_add"]["after"]["code"] == "kbis"
    assert not AuditEvent.objects.filter(action="call.update").exists()


def test_a_call_is_added_and_deleted_in_the_admin_through_its_service(staff, superuser):
    template = CallFactory(documents=False)
    url = reverse("admin:applications_call_change", args=[template.pk])
    data = change_form_data(staff, url, slug="appel-2027", title="Appel 2027")
    response = staff.post(reverse("admin:applications_call_add"), data)
    assert response.status_code == 302
    created = Call.objects.get(slug="appel-2027")
    assert (
        AuditEvent.objects.get(action="call.create", actor=superuser).data["after"]["title"] == "Appel 2027"
    )

    staff.post(reverse("admin:applications_call_delete", args=[created.pk]), {"post": "yes"})
    assert not Call.objects.filter(pk=created.pk).exists()
    assert AuditEvent.objects.get(action="call.delete").data["before"]["slug"] == "appel-2027"

    # A call with dossiers is not deleted (its dossiers protect it), and nothing is audited.
    application = complete_application()
    staff.post(reverse("admin:applications_call_delete", args=[application.call_id]), {"post": "yes"})
    assert Call.objects.filter(pk=application.call_id).exists()
    assert AuditEvent.objects.filter(action="call.delete").count() == 1
    assert RequiredDocument.objects.filter(call=application.call).exists()


def test_an_account_changed_in_the_admin_is_audited_and_admin_access_follows_the_role(staff, superuser):
    user = applicant(first_name="Alice")
    url = reverse("admin:accounts_user_change", args=[user.pk])
    response = staff.post(url, change_form_data(staff, url, first_name="Alicia", is_superuser="on"))
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.first_name, user.is_superuser, user.is_staff) == ("Alicia", True, True)
    event = AuditEvent.objects.get(action="account.update", actor=superuser)
    assert event.data == {
        "fields": ["first_name", "is_superuser", "is_staff"],
        "before": {"first_name": "Alice", "is_superuser": False, "is_staff": False},
        "after": {"first_name": "Alicia", "is_superuser": True, "is_staff": True},
    }
    # Deactivated, never deleted: their name stays on what they signed.
    staff.post(reverse("admin:accounts_user_delete", args=[user.pk]), {"post": "yes"})
    assert User.objects.filter(pk=user.pk).exists()


def test_a_password_set_in_the_admin_is_audited_with_the_acting_admin(staff, superuser):
    user = applicant()
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    new_password = "Un-autre-mot-de-passe-2027"
    response = staff.post(
        url, {"password1": new_password, "password2": new_password, "usable_password": "true"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)
    event = AuditEvent.objects.get(action="account.password_set", actor=superuser)
    assert event.target_id == str(user.pk)
    assert event.data == {"reason": "admin", "usable": True}

    # A mismatch writes nothing and leaves no row.
    refused = staff.post(url, {"password1": "Un-mot-de-passe-2028", "password2": "Autre-2028-xx"})
    assert refused.status_code == 200
    user.refresh_from_db()
    assert user.check_password(new_password)
    assert AuditEvent.objects.filter(action="account.password_set").count() == 1


def test_an_account_added_in_the_admin_is_audited(staff, superuser):
    response = staff.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "Nouveau@Exemple.fr",
            "password1": "un-mot-de-passe-solide-42",
            "password2": "un-mot-de-passe-solide-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    created = User.objects.get(email="nouveau@exemple.fr")
    event = AuditEvent.objects.get(action="account.create", actor=superuser)
    assert event.target_id == str(created.pk) and event.data == {"email": "nouveau@exemple.fr"}


def test_a_wave_added_in_the_admin_is_audited_on_its_call(staff, superuser):
    call = CallFactory(documents=False)
    url = reverse("admin:applications_call_change", args=[call.pk])
    data = change_form_data(staff, url)
    data.update(
        {
            "waves-TOTAL_FORMS": "1",
            "waves-0-number": "1",
            "waves-0-name": "Vague de printemps",
            "waves-0-deadline_0": "2027-04-30",
            "waves-0-deadline_1": "18:00:00",
            "waves-0-call": str(call.pk),
        }
    )
    assert staff.post(url, data).status_code == 302
    wave = call.waves.get()
    event = AuditEvent.objects.get(action="call.wave_add", actor=superuser)
    assert event.target_id == str(call.pk)
    assert event.data["id"] == wave.pk
    assert event.data["fields"] == ["number", "name", "deadline"]
    assert event.data["after"]["name"] == "Vague de printemps"
    assert event.data["before"] == {"number": None, "name": None, "deadline": None}
