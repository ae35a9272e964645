"""Every write of the admin goes through a service and leaves an audit row with before and after."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, User
from fabriques.models import Activity, InstructorScope, Region, TiersLieu
from fabriques.services import instructor_scope_add
from tests.factories import OrganisationFactory, UserFactory, applicant, instructor, make_siret

pytestmark = [pytest.mark.django_db, pytest.mark.ignore_template_errors]


@pytest.fixture
def superuser() -> User:
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def staff(client: Client, superuser: User) -> Client:
    client.force_login(superuser)
    return client


def change_form_data(client: Client, url: str, **changes: Any) -> dict[str, Any]:
    """What the change page's form would post as it stands, with `changes` typed in."""
    form = client.get(url).context["adminform"].form
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, list | tuple):
            data[name] = [str(item) for item in value]
        else:
            data[name] = "" if value is None else value
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
