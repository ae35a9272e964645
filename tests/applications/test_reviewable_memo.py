"""applications_reviewable_by and departements_in_scope build their queryset once per user object
(issue 13): what they answer must still follow every change of scope and role at once."""

import pytest

from accounts.models import Role
from accounts.services import user_set_role
from applications.selectors import applications_reviewable_by
from fabriques.models import Departement, Region
from fabriques.selectors import departements_in_scope
from fabriques.services import instructor_scope_set
from tests.factories import occitanie_instructor, programme_admin, submitted_application

pytestmark = pytest.mark.django_db


def test_the_same_user_object_sees_its_scope_change_at_once() -> None:
    gers = submitted_application()  # département 32, Occitanie
    user = occitanie_instructor()
    assert list(applications_reviewable_by(user)) == [gers]
    assert "32" in [one.code for one in departements_in_scope(instructor=user)]

    instructor_scope_set(instructor=user, departements=[Departement.objects.get(code="75")], actor=None)
    # The same object, its queryset built before: the scope is read by the database each time.
    assert list(applications_reviewable_by(user)) == []
    assert [one.code for one in departements_in_scope(instructor=user)] == ["75"]

    instructor_scope_set(instructor=user, regions=[Region.objects.get(code="76")], actor=None)
    assert list(applications_reviewable_by(user)) == [gers]


def test_a_role_given_to_the_same_user_object_widens_what_it_reviews() -> None:
    gers = submitted_application()
    user = occitanie_instructor()
    instructor_scope_set(instructor=user, departements=[Departement.objects.get(code="75")], actor=None)
    assert list(applications_reviewable_by(user)) == []
    user_set_role(user=user, role=Role.ADMIN, actor=programme_admin())
    user._portal_roles = None  # roles_of's per-request cache, as a new request would start
    assert list(applications_reviewable_by(user)) == [gers]


def test_a_clone_is_handed_out_so_an_evaluated_list_never_leaks_into_the_next_call() -> None:
    user = occitanie_instructor()
    first = applications_reviewable_by(user)
    assert list(first) == []
    gers = submitted_application()
    assert list(applications_reviewable_by(user)) == [gers]
    assert applications_reviewable_by(user) is not applications_reviewable_by(user)
