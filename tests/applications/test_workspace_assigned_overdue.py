"""The instructors' list's filters « Affectation » (to me, to a colleague, none) and « En retard »,
with the instruction delay of each call."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from applications.models import Application, Member
from applications.selectors import workspace_filtered, workspace_instructors
from applications.services.review import assignment_create
from fabriques.models import Organisation, Region, TiersLieu
from fabriques.services import instructor_scope_set
from tests.factories import (
    CallFactory,
    UserFactory,
    instructor,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)
from tests.pages import logged, text

pytestmark = pytest.mark.django_db

WORKSPACE = reverse("applications:instructor-home")
S = Application.Status


def references_in(page: str) -> list[str]:
    return re.findall(r'<a href="/instruction/dossiers/[^/"]+/">([^<]+)</a>', page)


def paris_dossier(**kwargs: object) -> Application:
    application = submitted_application(**kwargs)
    lead = Member.objects.get(application=application, is_lead=True).organisation
    Organisation.objects.filter(pk=lead.pk).update(departement_id="75")
    TiersLieu.objects.filter(applications=application).update(departement_id="75")
    Application.objects.filter(pk=application.pk).update(departement_id="75")
    application.refresh_from_db()
    return application


@pytest.fixture
def team() -> dict[str, object]:
    """Three Gers dossiers: one assigned to me, one to a colleague of Occitanie, one to nobody;
    a Paris dossier assigned to the colleague (who also reviews Île-de-France)."""
    admin = programme_admin()
    me = occitanie_instructor(first_name="Alice", last_name="Moi")
    colleague = instructor(first_name="Bruno", last_name="Collègue")
    instructor_scope_set(
        instructor=colleague,
        regions=[Region.objects.get(code="76"), Region.objects.get(code="11")],
        actor=None,
    )
    stranger = instructor(first_name="Claire", last_name="Ailleurs")
    instructor_scope_set(instructor=stranger, regions=[Region.objects.get(code="11")], actor=None)
    mine, theirs, nobodys = (submitted_application() for _ in range(3))
    assignment_create(application=mine, instructor=me, actor=me)
    assignment_create(application=theirs, instructor=colleague, actor=admin)
    paris = paris_dossier()
    assignment_create(application=paris, instructor=colleague, actor=admin)
    return {
        "admin": admin,
        "me": me,
        "colleague": colleague,
        "stranger": stranger,
        "mine": mine,
        "theirs": theirs,
        "nobodys": nobodys,
        "paris": paris,
    }


def test_assigned_to_me_to_a_colleague_and_not_assigned_narrow_the_rows_and_the_tab_counts(team) -> None:
    client = logged(team["me"])
    page = text(client.get(WORKSPACE, {"assigned": "me", "tab": "en-instruction"}))
    assert references_in(page) == [team["mine"].reference]
    assert "En instruction (1)" in page and "À instruire (0)" in page

    page = text(client.get(WORKSPACE, {"assigned": str(team["colleague"].pk), "tab": "en-instruction"}))
    # The colleague's Paris dossier is not of my territory: never shown through the filter.
    assert references_in(page) == [team["theirs"].reference]
    assert "En instruction (1)" in page

    page = text(client.get(WORKSPACE, {"assigned": "none"}))
    assert references_in(page) == [team["nobodys"].reference]
    assert "À instruire (1)" in page and "En instruction (0)" in page

    page = text(client.get(WORKSPACE, {"tab": "en-instruction"}))
    assert sorted(references_in(page)) == sorted([team["mine"].reference, team["theirs"].reference])


def test_an_instructor_is_offered_the_colleagues_of_their_territory_and_an_admin_every_instructor(
    team,
) -> None:
    me, colleague, stranger = team["me"], team["colleague"], team["stranger"]
    inactive = occitanie_instructor(first_name="Denis", last_name="Parti", is_active=False)
    assert workspace_instructors(me) == [(colleague.pk, "Bruno Collègue")]
    offered = dict(workspace_instructors(team["admin"]))
    assert {colleague.pk, stranger.pk, me.pk} <= set(offered) and inactive.pk not in offered

    page = text(logged(me).get(WORKSPACE))
    assert '<option value="me">Affectés à moi</option>' in page
    assert f'<option value="{colleague.pk}">Affectés à Bruno Collègue</option>' in page
    assert "Claire Ailleurs" not in page

    # An instructor out of the territory typed in the address: said next to the filter, ignored.
    page = text(logged(me).get(WORKSPACE, {"assigned": str(stranger.pk), "tab": "en-instruction"}))
    assert "Cet instructeur n'est pas proposé ici." in page
    assert sorted(references_in(page)) == sorted([team["mine"].reference, team["theirs"].reference])

    # The admin sees the colleague's dossiers of both territories.
    page = text(
        logged(team["admin"]).get(WORKSPACE, {"assigned": str(colleague.pk), "tab": "en-instruction"})
    )
    assert sorted(references_in(page)) == sorted([team["theirs"].reference, team["paris"].reference])


def test_overdue_counts_the_call_s_delay_from_the_last_submission() -> None:
    call = CallFactory(instruction_delay_days=30)
    me = occitanie_instructor()
    application = submitted_application(call=call)
    since = application.last_submitted_at or application.submitted_at
    assert since is not None

    def overdue_on(now: object) -> list[str]:
        rows = workspace_filtered(me, {"overdue": "1"}, now=now)  # type: ignore[arg-type]
        return list(rows.values_list("reference", flat=True))

    assert overdue_on(since + timedelta(days=29, hours=23)) == []
    assert overdue_on(since + timedelta(days=30, seconds=1)) == [application.reference]

    # A submission after corrections starts the delay again.
    Application.objects.filter(pk=application.pk).update(last_submitted_at=since + timedelta(days=20))
    assert overdue_on(since + timedelta(days=31)) == []
    assert overdue_on(since + timedelta(days=50, seconds=1)) == [application.reference]

    # Another call's delay applies to its own dossiers.
    other = submitted_application(call=CallFactory(instruction_delay_days=90))
    other_since = other.last_submitted_at or other.submitted_at
    assert other.reference not in overdue_on(other_since + timedelta(days=89))
    assert other.reference in overdue_on(other_since + timedelta(days=91))

    # A decided dossier is never late.
    Application.objects.filter(pk=application.pk).update(status=S.AWARDED)
    assert application.reference not in overdue_on(since + timedelta(days=400))


def test_corrections_past_their_due_date_are_overdue_from_that_day() -> None:
    me = occitanie_instructor()
    application = submitted_application()
    due = timezone.localdate() + timedelta(days=10)
    Application.objects.filter(pk=application.pk).update(status=S.CORRECTIONS, corrections_due_on=due)
    noon = timezone.now().replace(hour=12)

    def overdue_on(days: int) -> bool:
        rows = workspace_filtered(me, {"overdue": "1"}, now=noon + timedelta(days=days))
        return rows.filter(pk=application.pk).exists()

    assert not overdue_on(9)
    assert overdue_on(10)  # the due date is the first day the answer is late


def test_the_overdue_filter_and_badge_on_the_page() -> None:
    call = CallFactory(instruction_delay_days=60)
    late, recent = submitted_application(call=call), submitted_application(call=call)
    long_ago = timezone.now() - timedelta(days=61)
    Application.objects.filter(pk=late.pk).update(submitted_at=long_ago, last_submitted_at=long_ago)
    client = logged(occitanie_instructor())

    page = text(client.get(WORKSPACE, {"overdue": "1"}))
    assert references_in(page) == [late.reference]
    assert "À instruire (1)" in page
    assert page.count("fr-badge--error fr-badge--no-icon") == 1

    page = text(client.get(WORKSPACE))
    assert sorted(references_in(page)) == sorted([late.reference, recent.reference])
    assert page.count(">En retard</span>") == 1  # the late dossier's badge, under its state


def test_the_filters_keep_the_page_s_queries_whatever_the_number_of_dossiers() -> None:
    me = occitanie_instructor()
    client = logged(me)
    params = {"assigned": "me", "overdue": "1", "per_page": "50", "tab": "en-instruction"}

    def count() -> int:
        client.get(WORKSPACE, params)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(WORKSPACE, params)
        assert response.status_code == 200
        return len(queries.captured_queries)

    long_ago = timezone.now() - timedelta(days=100)

    def late_and_mine() -> None:
        application = submitted_application()
        assignment_create(application=application, instructor=me, actor=me)
        Application.objects.filter(pk=application.pk).update(
            submitted_at=long_ago, last_submitted_at=long_ago
        )

    late_and_mine()
    small = count()
    for _ in range(4):
        late_and_mine()
    assert count() == small
    assert len(references_in(text(client.get(WORKSPACE, params)))) == 5


def test_the_instruction_delay_is_set_in_the_admin_audited_and_below_one_refused_next_to_the_field(
    client,
) -> None:
    from tests.config.test_admin_writes import change_form_data

    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    call = CallFactory()
    assert call.instruction_delay_days == 60
    url = reverse("admin:applications_call_change", args=[call.pk])
    response = client.post(url, change_form_data(client, url, instruction_delay_days="0"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["instruction_delay_days"] == [
        "Assurez-vous que cette valeur est supérieure ou égale à 1."
    ]
    assert not AuditEvent.objects.filter(action="call.update").exists()

    response = client.post(url, change_form_data(client, url, instruction_delay_days="45"))
    assert response.status_code == 302
    call.refresh_from_db()
    assert call.instruction_delay_days == 45
    event = AuditEvent.objects.get(action="call.update", actor=superuser)
    assert event.data == {
        "fields": ["instruction_delay_days"],
        "before": {"instruction_delay_days": 60},
        "after": {"instruction_delay_days": 45},
    }


def test_the_service_and_the_database_refuse_an_instruction_delay_below_one_day() -> None:
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    from applications.models import Call
    from applications.services.calls import call_update

    call, admin = CallFactory(), UserFactory(is_staff=True, is_superuser=True)
    with pytest.raises(ValidationError) as refused:
        call_update(call=call, actor=admin, instruction_delay_days=0)
    assert refused.value.message_dict == {
        "instruction_delay_days": ["Assurez-vous que cette valeur est supérieure ou égale à 1."]
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.filter(pk=call.pk).update(instruction_delay_days=0)
    call.refresh_from_db()
    assert call.instruction_delay_days == 60
    assert not AuditEvent.objects.filter(action="call.update").exists()
