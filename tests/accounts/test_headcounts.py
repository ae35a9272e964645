"""Accounts per role (`GroupHeadcount`) are kept by triggers: they always equal a recount."""

import pytest
from django.contrib.auth.models import Group
from django.db.models import Count

from accounts.models import GroupHeadcount, Role, User
from accounts.services import user_set_role
from tests.factories import UserFactory, applicant, instructor, programme_admin

pytestmark = pytest.mark.django_db


def stored() -> dict[int, int]:
    return {row.group_id: row.count for row in GroupHeadcount.objects.all() if row.count}


def recount() -> dict[int, int]:
    links = User.groups.through.objects.order_by().values_list("group_id").annotate(n=Count("pk"))
    return {group_id: n for group_id, n in links if n}


def test_the_headcounts_follow_every_way_of_changing_roles():
    people = [applicant() for _ in range(3)] + [instructor(), programme_admin()]
    assert stored() == recount()
    user_set_role(user=people[0], role=Role.INSTRUCTOR, actor=None)  # a role changed by the service
    assert stored() == recount()
    people[1].groups.add(Group.objects.get(name=Role.ADMIN.value))  # added directly
    people[1].groups.remove(Group.objects.get(name=Role.APPLICANT.value))
    assert stored() == recount()
    people[2].delete()  # the account removed, its links with it
    assert stored() == recount()
    group = Group.objects.get(name=Role.APPLICANT.value)
    newcomers = UserFactory.create_batch(4)
    User.groups.through.objects.bulk_create([User.groups.through(user=u, group=group) for u in newcomers])
    assert stored() == recount()
    User.groups.through.objects.filter(user__in=newcomers[:2]).delete()  # one statement, two rows
    assert stored() == recount()
    counts = {
        name: GroupHeadcount.objects.get(group__name=name).count for name in ("applicant", "instructor")
    }
    assert counts == {"applicant": 2, "instructor": 2}


def test_the_steering_page_reads_the_headcounts(client):
    admin = programme_admin()
    for _ in range(3):
        applicant()
    client.force_login(admin)
    page = client.get("/pilotage/").content.decode()
    assert GroupHeadcount.objects.get(group__name=Role.APPLICANT.value).count == 3
    assert "3" in page
