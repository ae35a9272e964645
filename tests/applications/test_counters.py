"""The dossier counts per (call, wave, département, kind, state) kept by the database's triggers."""

from datetime import timedelta
from decimal import Decimal
from itertools import product

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications.counters import dossier_counts_rebuild, dossier_counts_recount, dossier_counts_stored
from applications.models import Application, DossierCount, Wave
from applications.selectors import (
    applications_reviewable_by,
    reviewable_counts_by_status,
    workspace_filtered,
    workspace_tab_counts,
)
from applications.services import application_withdraw
from applications.workflow import TRANSITIONS, transition
from tests.factories import (
    CallFactory,
    applicant,
    complete_application,
    give_second_factor,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)

pytestmark = pytest.mark.django_db

S = Application.Status


def assert_counts_match() -> None:
    assert dossier_counts_stored() == dossier_counts_recount()


def plain_dossier(
    call,
    number: int,
    status: str = S.SUBMITTED,
    departement: str | None = "32",
    **fields: object,
) -> Application:  # type: ignore[no-untyped-def]
    return Application.objects.create(
        **fields,
        reference=f"CNT-2026-{number:05d}",
        call=call,
        title=f"Dossier {number}",
        status=status,
        submitted_at=None if status == S.DRAFT else timezone.now(),
        departement_id=departement,
        created_by=applicant(),
    )


def move(application: Application, to_status: str) -> None:
    with transaction.atomic():
        transition(application=application, to_status=to_status, actor=None)


def test_creation_and_submission_through_the_services_are_counted():
    draft = complete_application()
    assert_counts_match()
    assert (
        DossierCount.objects.get(
            call=draft.call, status=S.DRAFT, departement_code=draft.departement_id or ""
        ).count
        == 1
    )
    submitted = submitted_application(call=draft.call)
    assert_counts_match()
    row = DossierCount.objects.get(call=submitted.call, departement_code="32", status=S.SUBMITTED)
    assert row.count == 1
    application_withdraw(application=submitted, actor=submitted.created_by, reason="Plus de local.")
    assert_counts_match()
    assert DossierCount.objects.get(pk=row.pk).count == 0


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    sorted((source, target) for source, targets in TRANSITIONS.items() for target in targets),
)
def test_every_transition_moves_one_dossier_between_counts(from_status, to_status):
    call = CallFactory()
    plain_dossier(call, 1)  # a neighbour in the same counts, which must not move
    application = plain_dossier(call, 2, status=from_status)
    assert_counts_match()
    move(application, to_status)
    assert_counts_match()
    assert reviewable_counts_by_status(programme_admin()).get(to_status, 0) >= (
        0 if to_status == S.DRAFT else 1
    )


def test_a_refused_move_leaves_the_counts_alone():
    call = CallFactory()
    application = plain_dossier(call, 1, status=S.WITHDRAWN)
    before = dossier_counts_stored()
    with pytest.raises(Exception, match="ne peut pas passer"):
        move(application, S.SUBMITTED)
    assert dossier_counts_stored() == before
    assert_counts_match()


def test_departement_and_call_changes_bulk_writes_and_deletions_are_counted():
    call, other_call = CallFactory(), CallFactory()
    dossiers = [
        plain_dossier(call, number, departement=None if number % 3 == 0 else "32") for number in range(9)
    ]
    assert_counts_match()
    Application.objects.filter(pk=dossiers[0].pk).update(departement_id="75")
    assert_counts_match()
    Application.objects.filter(pk__in=[d.pk for d in dossiers[:4]]).update(call=other_call)
    assert_counts_match()
    Application.objects.filter(call=call).update(status=S.IN_REVIEW)
    assert_counts_match()
    # A save that changes neither call, département nor state leaves the counts untouched.
    stored = list(DossierCount.objects.order_by("pk").values_list("pk", "count"))
    Application.objects.filter(call=call).update(title="Renommé")
    assert list(DossierCount.objects.order_by("pk").values_list("pk", "count")) == stored
    dossiers[5].delete()
    Application.objects.filter(pk__in=[d.pk for d in dossiers[6:]]).delete()
    assert_counts_match()
    Application.objects.bulk_create(
        [
            Application(
                reference=f"CNT-2026-{100 + n:05d}",
                call=call,
                title="En nombre",
                status=S.SUBMITTED,
                submitted_at=timezone.now(),
                departement_id="32",
                created_by=dossiers[0].created_by,
            )
            for n in range(5)
        ]
    )
    assert_counts_match()


def test_the_counts_give_the_same_figures_as_counting_the_reviewable_dossiers():
    call = CallFactory()
    for number, (status, departement) in enumerate(
        [
            (S.SUBMITTED, "32"),
            (S.SUBMITTED, "31"),
            (S.IN_REVIEW, "32"),
            (S.CORRECTIONS, "75"),
            (S.AWARDED, "75"),
            (S.DRAFT, "32"),
            (S.DRAFT, None),
            (S.REFUSED, None),
        ]
    ):
        plain_dossier(call, number, status=status, departement=departement)
    for user in (occitanie_instructor(), programme_admin()):
        counted: dict[str, int] = {}
        for status in applications_reviewable_by(user).values_list("status", flat=True):
            counted[status] = counted.get(status, 0) + 1
        stored = {status: n for status, n in reviewable_counts_by_status(user).items() if n}
        assert stored == counted
    assert reviewable_counts_by_status(applicant()) == {}


def test_rebuild_recounts_a_damaged_table_and_the_command_checks_it(capsys):
    call = CallFactory()
    for number in range(4):
        plain_dossier(call, number)
    DossierCount.objects.update(count=Decimal("0"))
    DossierCount.objects.create(call=call, departement_code="99", status=S.AWARDED, count=7)
    with pytest.raises(SystemExit):
        call_command("rebuild_dossier_counts", "--check")
    assert dossier_counts_rebuild() == 1
    assert_counts_match()
    call_command("rebuild_dossier_counts")
    call_command("rebuild_dossier_counts", "--check")
    assert "à jour" in capsys.readouterr().out


def test_the_workspace_tabs_read_the_counts_when_nothing_is_filtered(client):
    call = CallFactory()
    for number in range(3):
        plain_dossier(call, number)
    plain_dossier(call, 3, status=S.IN_REVIEW)
    admin = programme_admin()
    client.force_login(admin)
    give_second_factor(client, admin)
    page = client.get(reverse("applications:instructor-home")).content.decode()
    assert "À instruire : 3 dossiers" in page
    # Counts the table holds are what the tabs show, filtered or not.
    filtered = client.get(reverse("applications:instructor-home"), {"call": call.pk}).content.decode()
    assert "À instruire : 3 dossiers" in filtered


def wave_of(call, number: int) -> Wave:  # type: ignore[no-untyped-def]
    return Wave.objects.create(
        call=call,
        number=number,
        name=f"Vague {number}",
        deadline=timezone.now() + timedelta(days=30 * number),
    )


def test_wave_and_kind_changes_are_counted_and_a_save_that_keeps_them_writes_nothing():
    call = CallFactory()
    first, second = wave_of(call, 1), wave_of(call, 2)
    dossiers = [
        plain_dossier(call, number, wave=first if number % 2 else None, kind="fnt" if number % 3 else "ft")
        for number in range(8)
    ]
    assert_counts_match()
    assert DossierCount.objects.get(
        call=call, wave_key=first.pk, departement_code="32", kind="fnt", status=S.SUBMITTED
    ).count == len([n for n in range(8) if n % 2 and n % 3])
    assert DossierCount.objects.get(
        call=call, wave_key=0, departement_code="32", kind="ft", status=S.SUBMITTED
    )
    Application.objects.filter(pk__in=[d.pk for d in dossiers[:3]]).update(wave=second)
    assert_counts_match()
    Application.objects.filter(pk=dossiers[3].pk).update(wave=None, kind="ft")
    assert_counts_match()
    Application.objects.filter(call=call).update(kind="fnt")
    assert_counts_match()
    stored = list(DossierCount.objects.order_by("pk").values_list("pk", "count"))
    Application.objects.filter(call=call).update(kind="fnt", title="Renommé")
    assert list(DossierCount.objects.order_by("pk").values_list("pk", "count")) == stored


def test_the_counts_narrowed_by_the_workspace_filters_give_the_same_figures_as_the_filtered_dossiers():
    """Every combination of the filters the counts answer (call, wave, département, kind, state),
    for an instructor of a région and for an admin: the counts equal the filtered dossiers."""
    from fabriques.models import Departement

    call, other_call = CallFactory(), CallFactory()
    first, second = wave_of(call, 1), wave_of(call, 2)
    layout = [
        (call, first, "32", "ft", S.SUBMITTED),
        (call, first, "32", "fnt", S.SUBMITTED),
        (call, second, "31", "ft", S.IN_REVIEW),
        (call, None, "75", "ft", S.CORRECTIONS),
        (call, second, "75", "fnt", S.AWARDED),
        (other_call, None, "32", "ft", S.SUBMITTED),
        (other_call, None, "31", "fnt", S.REFUSED),
        (call, first, "32", "ft", S.DRAFT),
        (call, None, None, "ft", S.DRAFT),
    ]
    for number, (dossier_call, wave, departement, kind, status) in enumerate(layout):
        plain_dossier(dossier_call, number, status=status, departement=departement, wave=wave, kind=kind)
    choices = {
        "call": [None, call, other_call],
        "wave": [None, first, second],
        "departement": [None, Departement.objects.get(pk="32"), Departement.objects.get(pk="75")],
        "kind": ["", "ft", "fnt"],
        "status": ["", S.SUBMITTED, S.AWARDED],
    }
    compared = 0
    for user in (occitanie_instructor(), programme_admin()):
        for values in product(*choices.values()):
            filters = dict(zip(choices, values, strict=True))
            counted: dict[str, int] = {}
            for status in workspace_filtered(user, filters).values_list("status", flat=True):
                counted[status] = counted.get(status, 0) + 1
            stored = {status: n for status, n in reviewable_counts_by_status(user, filters).items() if n}
            assert stored == counted, filters
            compared += bool(counted)
    assert compared > 20  # the combinations are not all empty


def test_the_workspace_tabs_read_the_counts_for_the_counted_filters_and_the_dossiers_for_a_search():
    call = CallFactory()
    for number in range(3):
        plain_dossier(call, number, kind="fnt" if number else "ft")
    user = programme_admin()
    tabs = {"todo": [S.SUBMITTED], "review": [S.IN_REVIEW, S.CORRECTIONS]}
    for filters, table, expected in [
        ({"kind": "fnt", "call": call, "sort": "-submitted", "labels": []}, "applications_dossiercount", 2),
        ({"kind": "fnt", "q": "Dossier 2"}, "applications_application", 1),
    ]:
        with CaptureQueriesContext(connection) as queries:
            counts = workspace_tab_counts(
                user=user, filtered=workspace_filtered(user, filters), filters=filters, tabs=tabs
            )
        assert counts == {"todo": expected, "review": 0}
        # One query counts (the user's roles may be read once before it).
        counting = [query["sql"] for query in queries.captured_queries if "auth_group" not in query["sql"]]
        assert len(counting) == 1
        assert f'FROM "{table}"' in counting[0]
