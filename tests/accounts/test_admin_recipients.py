"""Which programme admins are alerted: one rule (accounts.selectors.programme_admin_emails)."""

import pytest

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.selectors import programme_admin_emails
from tests.factories import applicant, instructor, programme_admin

pytestmark = pytest.mark.django_db


def test_the_admins_are_those_has_role_counts_active_and_with_an_address() -> None:
    admin = programme_admin(email="admin@anct.gouv.fr")
    superuser = User.objects.create_superuser(email="technique@anct.gouv.fr", password="x" * 20)
    programme_admin(email="parti@anct.gouv.fr", is_active=False)
    programme_admin(email="")
    instructor(email="instructeur@anct.gouv.fr")
    applicant(email="porteur@tiers-lieu.fr")
    assert has_role(superuser, Role.ADMIN)
    assert programme_admin_emails() == sorted([admin.email, superuser.email])
