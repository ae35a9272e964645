import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import AuditEvent, Role
from accounts.roles import home_url_for, roles_of
from accounts.services import user_set_role
from fabriques.models import Region
from fabriques.services import instructor_scope_set
from tests.factories import applicant, give_second_factor, instructor, programme_admin

pytestmark = pytest.mark.django_db


def test_the_three_roles_exist_as_groups_created_by_migration():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "applicant",
        "instructor",
        "programme_admin",
    }


@pytest.mark.parametrize(
    ("make_user", "url_name", "heading"),
    [
        (applicant, "applications:applicant-home", "Mon espace porteur"),
        (instructor, "applications:instructor-home", "Instruction"),
        (programme_admin, "grants:admin-home", "Pilotage du programme"),
    ],
)
def test_each_role_lands_on_its_own_home_page_after_login(client, make_user, url_name, heading):
    user = make_user()
    response = client.post(
        reverse("accounts:login"),
        {"username": user.email, "password": "Un-mot-de-passe-solide-2026"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(url_name)
    if make_user is not applicant:
        # Instructors and admins give a second factor first (tests/accounts/test_two_factor.py).
        assert client.get(response["Location"])["Location"].startswith(reverse("accounts:two-factor-verify"))
        give_second_factor(client, user)
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert f"<h1>{heading}</h1>" in page.content.decode()


@pytest.mark.parametrize(
    ("make_user", "forbidden"),
    [
        (applicant, ["applications:instructor-home", "grants:admin-home"]),
        (instructor, ["applications:applicant-home", "grants:admin-home"]),
    ],
)
def test_a_role_cannot_open_another_roles_space(client, make_user, forbidden):
    client.force_login(make_user())
    for url_name in forbidden:
        assert client.get(reverse(url_name)).status_code == 403


@pytest.mark.parametrize(
    "url_name", ["applications:applicant-home", "applications:instructor-home", "grants:admin-home"]
)
def test_anonymous_visitors_are_sent_to_the_login_page(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")


def test_navigation_shows_only_the_spaces_of_the_users_role(client):
    client.force_login(instructor())
    page = client.get(reverse("applications:instructor-home")).content.decode()
    assert reverse("applications:instructor-home") in page
    assert reverse("grants:admin-home") not in page
    assert reverse("applications:applicant-home") not in page


def test_set_role_keeps_one_role_audits_the_change_and_grants_admin_site_access():
    user = applicant()
    admin = programme_admin()
    user_set_role(user=user, role=Role.ADMIN, actor=admin)
    user.refresh_from_db()
    assert roles_of(user) == {Role.ADMIN}
    assert user.is_staff
    assert home_url_for(user) == reverse("grants:admin-home")
    event = AuditEvent.objects.get(action="account.role_set", target_id=str(user.pk))
    assert event.actor == admin
    # The old and the new role are both kept: the log says what rights the account had before.
    assert event.data == {
        "role": "programme_admin",
        "before": {"roles": ["applicant"], "is_staff": False},
        "after": {"roles": ["programme_admin"], "is_staff": True},
    }
    user_set_role(user=user, role=Role.ADMIN, actor=admin)
    assert AuditEvent.objects.filter(action="account.role_set", target_id=str(user.pk)).count() == 1


def test_instructor_home_lists_the_departements_of_their_regions(client):
    user = instructor()
    instructor_scope_set(instructor=user, regions=[Region.objects.get(code="76")], actor=None)
    client.force_login(user)
    page = client.get(reverse("applications:instructor-home")).content.decode()
    assert "13 départements instruits" in page
    assert "<td>32</td><td>Gers</td>" in page
    assert "<td>75</td>" not in page


def test_the_steering_page_shows_each_calls_envelope(client):
    from decimal import Decimal

    from applications.models import Call

    Call.objects.filter(slug="fabriques-de-territoires").update(
        committed_amount=Decimal("150000"), laureate_count=1
    )
    client.force_login(programme_admin())
    page = client.get(reverse("grants:admin-home")).content.decode()
    assert "54\u00a0000\u00a0000\u00a0€" in page
    assert "53\u00a0850\u00a0000\u00a0€" in page
    assert "1 / 360" in page
