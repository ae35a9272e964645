"""« Mon espace », the workspace and the steering page say what is expected next, for each side.

The applicant's steps per dossier (corrections asked, agreement to accept, tranche to request and
what it waits for, reports due, payments on their way with their deadline), the staff's to-do
(assigned and not scored, corrections answered, opinions received, agreements to activate, payment
requests to validate, overdue payments), each scoped and each in a fixed number of queries.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications.models import Application, Member
from applications.next_steps import applicant_next_steps, staff_todo
from applications.selectors import applications_visible_to
from applications.services import application_submit
from applications.services.review import (
    assignment_create,
    assignment_declare_conflict,
    corrections_request,
    opinion_give,
    opinion_request,
    scores_save,
)
from core.formatting import format_date
from grants.models import Agreement, Tranche
from grants.services.agreements import agreement_accept, agreement_activate
from grants.services.decisions import application_refuse
from tests.factories import (
    OrganisationFactory,
    applicant,
    in_review_application,
    instructor,
    member_of,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)
from tests.grants.test_payments import Setup, accept_reports, force

pytestmark = pytest.mark.django_db

T = Tranche.Status
NBSP = "\u00a0"


def steps_of(user: object, application: Application) -> list[object]:
    found = {dossier.application.pk: dossier.steps for dossier in applicant_next_steps(user)}  # type: ignore[arg-type]
    return found.get(application.pk, [])


def labels(steps: list[object]) -> list[str]:
    return [step.label for step in steps]  # type: ignore[attr-defined]


def long_date(value: object) -> str:
    return format_date(value)  # type: ignore[arg-type]


# --- the applicant ---------------------------------------------------------------------------------


def test_corrections_asked_are_listed_with_the_points_and_a_link_to_the_dossier(client):
    application, reviewer = in_review_application()
    corrections_request(application=application, points=["Préciser le budget de l'année 2"], actor=reviewer)
    client.force_login(application.created_by)

    page = client.get(reverse("applications:applicant-home")).content.decode()

    assert "Ce qui est attendu" in page
    assert "Compléments demandés" in page
    assert "Préciser le budget de l&#x27;année 2" in page
    assert reverse("applications:dossier-detail", args=[application.reference]) in page
    assert "Répondre aux compléments" in page


def test_the_agreement_to_accept_then_the_first_tranche_and_what_it_waits_for():
    setup = Setup(agreement_status="awaiting_signature")
    agreement = Agreement.objects.get(grant=setup.grant)
    Agreement.objects.filter(pk=agreement.pk).update(commitment_number="")
    steps = steps_of(setup.beneficiary, setup.application)
    assert labels(steps)[0] == "Convention à accepter"
    tranche_step = next(step for step in steps if step.label.startswith("Tranche de l'année 1"))
    assert f"50{NBSP}000{NBSP}€" in tranche_step.label
    assert tranche_step.waiting
    assert "doit être signée" in tranche_step.detail

    agreement_accept(agreement=agreement, actor=setup.beneficiary)
    steps = steps_of(setup.beneficiary, setup.application)
    assert "Convention à accepter" not in labels(steps)
    tranche_step = next(step for step in steps if step.label.startswith("Tranche de l'année 1"))
    assert tranche_step.waiting
    assert "dès son activation par le programme" in tranche_step.detail

    agreement_activate(agreement=agreement, commitment_number="2100123456", actor=setup.admin)
    tranche_step = next(
        step for step in steps_of(setup.beneficiary, setup.application) if step.label.startswith("Tranche")
    )
    assert not tranche_step.waiting
    assert tranche_step.action == "Demander le versement"
    assert tranche_step.url == reverse("grants:tranche-grant", args=[setup.application.reference])


def test_a_payment_on_its_way_shows_its_60_day_deadline_and_the_next_tranche_waits_for_reports():
    setup = Setup(agreement_status="active")
    requested = force(setup.tranche(1), T.REQUESTED, requested_days_ago=10)

    steps = steps_of(setup.beneficiary, setup.application)
    payment = next(step for step in steps if step.label.startswith("Versement en cours"))
    assert "tranche de l'année 1" in payment.label
    assert long_date(requested.pay_by) in payment.detail
    assert "60 jours" in payment.detail
    assert not payment.overdue
    nxt = next(step for step in steps if step.label.startswith("Tranche de l'année 2"))
    assert nxt.waiting
    assert "une fois le rapport d'activité et le compte rendu financier de l'année 1 acceptés." in nxt.detail

    force(setup.tranche(1), T.REQUESTED, requested_days_ago=70)
    payment = next(
        step for step in steps_of(setup.beneficiary, setup.application) if step.label.startswith("Versement")
    )
    assert payment.overdue


def test_yearly_reports_due_are_listed_with_their_date_until_they_are_filed():
    setup = Setup(agreement_status="active")
    Agreement.objects.filter(grant=setup.grant).update(starts_on=timezone.localdate() - timedelta(days=400))
    force(setup.tranche(1), T.PAID)

    steps = steps_of(setup.beneficiary, setup.application)
    reports = next(step for step in steps if step.label == "Rapports de l'année 1 à déposer")
    assert reports.overdue
    assert "Rapport d'activité et compte rendu financier attendus depuis le" in reports.detail
    due = timezone.localdate() - timedelta(days=400)
    assert long_date(due.replace(year=due.year + 1)) in reports.detail

    accept_reports(setup, 1)
    steps = steps_of(setup.beneficiary, setup.application)
    assert "Rapports de l'année 1 à déposer" not in labels(steps)
    # Reports accepted, the second tranche can now be requested.
    nxt = next(step for step in steps if step.label.startswith("Tranche de l'année 2"))
    assert not nxt.waiting


def test_another_applicant_sees_none_of_these_steps(client):
    setup = Setup(agreement_status="awaiting_signature")
    stranger = applicant()
    member_of(OrganisationFactory(), stranger)
    assert applicant_next_steps(stranger) == []
    client.force_login(stranger)
    page = client.get(reverse("applications:applicant-home")).content.decode()
    assert setup.application.reference not in page
    assert "est attendu de vous pour le moment." in page


def test_the_applicant_home_shows_the_steps(client):
    setup = Setup(agreement_status="awaiting_signature")
    client.force_login(setup.beneficiary)
    page = client.get(reverse("applications:applicant-home")).content.decode()
    assert "Convention à accepter" in page
    assert "Lire et accepter la convention" in page
    assert reverse("grants:agreement-detail", args=[Agreement.objects.get(grant=setup.grant).number]) in page
    assert f"Tranche de l&#x27;année 1 à demander : 50{NBSP}000{NBSP}€" in page


def test_the_applicant_steps_run_a_fixed_number_of_queries_whatever_the_number_of_dossiers():
    first = Setup(agreement_status="active")
    force(first.tranche(1), T.PAID)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            found = applicant_next_steps(first.beneficiary)
        assert found
        return len(queries.captured_queries)

    applicant_next_steps(first.beneficiary)  # the user's roles are read once, then kept on the user
    one = count()
    # Two more awarded dossiers of the same structure, each with tranches and an agreement.
    lead = first.lead()
    for _ in range(2):
        other = Setup(agreement_status="signed")
        other.application.members.filter(is_lead=True).update(organisation=lead)
    assert len(applicant_next_steps(first.beneficiary)) == 3
    assert count() == one


# --- the staff ---------------------------------------------------------------------------------


def group(user: object, key: str) -> object | None:
    return next((group for group in staff_todo(user) if group.key == key), None)  # type: ignore[arg-type]


def test_an_instructor_sees_assigned_dossiers_to_score_answered_corrections_and_opinions(client):
    application, reviewer = in_review_application()
    assigned = group(reviewer, "assigned")
    assert assigned is not None and [item.reference for item in assigned.items] == [application.reference]

    corrections_request(application=application, points=["Le budget"], actor=reviewer)
    application.refresh_from_db()
    assert group(reviewer, "corrections") is None
    application_submit(application=application, actor=application.created_by)
    application.refresh_from_db()
    assert application.status == Application.Status.IN_REVIEW
    answered = group(reviewer, "corrections")
    assert answered is not None and answered.items[0].reference == application.reference

    opinion = opinion_request(
        application=application,
        email="sgar@occitanie.gouv.fr",
        organisation_name="SGAR",
        question="Quel est votre avis sur ce projet ?",
        actor=reviewer,
    )
    assert group(reviewer, "opinions") is None
    opinion_give(opinion=opinion, verdict="favourable", comment="", actor=opinion.expert)
    opinions = group(reviewer, "opinions")
    assert opinions is not None and "SGAR" in opinions.items[0].detail

    client.force_login(reviewer)
    page = client.get(reverse("applications:instructor-home")).content.decode()
    assert "À faire" in page
    assert "Dossiers qui vous sont affectés, à noter (1)" in page
    assert "Compléments reçus (1)" in page
    assert "Avis reçus (1)" in page
    assert f"Noter « {application.title} »" in page


def score_all(application: Application, reviewer: object) -> None:
    assignment = application.assignments.get(instructor=reviewer)
    values = {criterion.pk: (3, "Conforme au projet.") for criterion in application.call.criteria.all()}
    scores_save(assignment=assignment, values=values, submit=True, actor=reviewer)  # type: ignore[arg-type]


def test_submitted_dossiers_to_assign_are_listed_for_the_admin_and_the_territorys_instructors(client):
    application = submitted_application()
    territory, elsewhere, admin = occitanie_instructor(), instructor(), programme_admin()
    for user in (admin, territory):
        waiting = group(user, "to_assign")
        assert waiting is not None and [item.reference for item in waiting.items] == [application.reference]
        assert waiting.items[0].url == reverse("applications:review-detail", args=[application.reference])
    assert group(elsewhere, "to_assign") is None  # another territory's dossier

    client.force_login(territory)
    page = client.get(reverse("applications:instructor-home")).content.decode()
    assert "Dossiers déposés à affecter (1)" in page
    assert f"Affecter « {application.title} »" in page

    assignment_create(application=application, instructor=territory, actor=territory)
    assert group(admin, "to_assign") is None
    assert group(territory, "to_assign") is None


def test_dossiers_whose_every_score_is_in_wait_for_a_decision_until_it_is_taken(client):
    application, reviewer = in_review_application()
    second = occitanie_instructor()
    assignment = assignment_create(application=application, instructor=second, actor=programme_admin())
    admin = programme_admin()
    score_all(application, reviewer)
    assert group(admin, "to_decide") is None  # the second instructor has not handed in yet
    assert group(reviewer, "to_decide") is None

    assignment_declare_conflict(assignment=assignment, note="Ancien salarié", actor=second)
    for user in (admin, reviewer):
        waiting = group(user, "to_decide")
        assert waiting is not None and [item.reference for item in waiting.items] == [application.reference]
    assert group(second, "to_decide") is None  # declared a conflict: not theirs to decide
    assert group(occitanie_instructor(), "to_decide") is None  # scored by others

    client.force_login(admin)
    page = client.get(reverse("grants:admin-home")).content.decode()
    assert "Notations remises, décision à prendre (1)" in page
    assert f"Décider de « {application.title} »" in page

    application_refuse(application=application, reasons="Hors du cadre de l'appel.", actor=admin)
    assert group(admin, "to_decide") is None


def test_payment_requests_to_validate_and_overdue_payments_are_scoped_to_the_territory():
    setup = Setup(agreement_status="active")
    force(setup.tranche(1), T.REQUESTED, requested_days_ago=70)
    requested = group(setup.reviewer, "requested")
    late = group(setup.reviewer, "late")
    assert requested is not None and requested.items[0].reference == setup.application.reference
    assert late is not None and late.items[0].overdue
    assert late.items[0].url == reverse("grants:tranche-manage", args=[setup.application.reference])

    elsewhere = instructor()  # no scope: sees nothing of the Gers
    assert staff_todo(elsewhere) == []
    # An applicant has no to-do of the staff.
    assert staff_todo(setup.beneficiary) == []


def test_a_payment_requested_59_days_ago_is_not_overdue_yet():
    setup = Setup(agreement_status="active")
    force(setup.tranche(1), T.VALIDATED, requested_days_ago=59)
    assert group(setup.admin, "late") is None
    assert group(setup.admin, "validated") is not None
    force(setup.tranche(1), T.VALIDATED, requested_days_ago=61)
    assert group(setup.admin, "late") is not None


def test_the_admin_home_lists_agreements_to_activate_and_payments_to_record(client):
    setup = Setup(agreement_status="signed")
    Agreement.objects.filter(grant=setup.grant).update(commitment_number="")
    client.force_login(setup.admin)
    page = client.get(reverse("grants:admin-home")).content.decode()
    number = Agreement.objects.get(grant=setup.grant).number
    assert "Conventions signées à activer (1)" in page
    assert f"Activer la convention n° {number}" in page
    # Instructors do not activate agreements: not in their to-do.
    assert group(setup.reviewer, "agreements") is None


def test_the_staff_todo_runs_a_fixed_number_of_queries_whatever_the_number_of_dossiers():
    setup = Setup(agreement_status="signed")
    force(setup.tranche(1), T.REQUESTED, requested_days_ago=70)

    def count(user: object) -> int:
        with CaptureQueriesContext(connection) as queries:
            staff_todo(user)  # type: ignore[arg-type]
        return len(queries.captured_queries)

    staff_todo(setup.admin), staff_todo(setup.reviewer)  # roles read once, then kept on the user
    admin_before, reviewer_before = count(setup.admin), count(setup.reviewer)
    for _ in range(3):
        other = Setup(agreement_status="signed")
        force(other.tranche(1), T.REQUESTED, requested_days_ago=70)
        assignment_create(
            application=submitted_application(), instructor=setup.reviewer, actor=setup.reviewer
        )
        submitted_application()  # one more dossier to assign
    assert group(setup.admin, "requested").total == 4  # type: ignore[union-attr]
    assert group(setup.reviewer, "to_assign").total == 3  # type: ignore[union-attr]
    # One query for the five groups of the dossiers, one for those of the grants (rows and totals
    # together; an admin's grants also have agreements to activate and payments to record).
    assert (admin_before, reviewer_before) == (1 + 1, 1 + 1)
    assert count(setup.admin) == admin_before
    assert count(setup.reviewer) == reviewer_before


def test_a_group_shows_its_first_rows_and_its_total():
    setup = Setup(agreement_status="active")
    force(setup.tranche(1), T.REQUESTED)
    for _ in range(11):
        other = Setup(agreement_status="active")
        force(other.tranche(1), T.REQUESTED)
    requested = group(setup.admin, "requested")
    assert requested is not None
    assert requested.total == 12
    assert len(requested.items) == 10


def test_amounts_in_the_steps_are_french():
    setup = Setup(amount="75000", agreement_status="active")
    steps = steps_of(setup.beneficiary, setup.application)
    tranche_step = next(step for step in steps if step.label.startswith("Tranche"))
    assert f"25{NBSP}000{NBSP}€" in tranche_step.label
    assert ".00" not in tranche_step.label
    assert Decimal("25000") == setup.tranche(1).amount


def test_a_partner_structures_member_sees_the_dossier_but_no_step_of_the_lead():
    setup = Setup(agreement_status="awaiting_signature")
    partner_user = applicant()
    partner = OrganisationFactory(name="Coopérative Kanopé")
    member_of(partner, partner_user)
    Member.objects.create(
        application=setup.application,
        organisation=partner,
        is_lead=False,
        role="CAE",
        share_percent=Decimal("0"),
    )
    assert setup.application in applications_visible_to(partner_user)
    assert applicant_next_steps(partner_user) == []

    application, reviewer = in_review_application()
    Member.objects.create(
        application=application, organisation=partner, is_lead=False, role="CAE", share_percent=Decimal("0")
    )
    corrections_request(application=application, points=["Le budget"], actor=reviewer)
    assert applicant_next_steps(partner_user) == []
    assert labels(steps_of(application.created_by, application)) == ["Compléments demandés"]


def test_the_payment_groups_keep_their_own_rows_totals_and_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requested, validated and late read the same tranches: each group is cut to its own first rows
    (by request date) and counted over its own rows, a late tranche appearing in its state's group too."""
    import applications.next_steps as todo

    setup = Setup(agreement_status="signed")
    assert Tranche.objects.filter(grant=setup.grant).count() >= 3
    oldest = force(setup.tranche(1), T.REQUESTED, requested_days_ago=70)
    recent = force(setup.tranche(2), T.REQUESTED, requested_days_ago=5)
    validated = force(setup.tranche(3), T.VALIDATED, requested_days_ago=65)

    def shown(key: str) -> tuple[list[str], int]:
        found = group(setup.admin, key)
        assert found is not None
        return [item.detail for item in found.items], found.total  # type: ignore[attr-defined]

    def detail(tranche: Tranche) -> str:
        return f"Tranche de l'année {tranche.year_index},"

    requested, requested_total = shown("requested")
    assert requested_total == 2 and len(requested) == 2
    assert all(detail(t) in d for t, d in zip((oldest, recent), requested, strict=True))
    validated_rows, validated_total = shown("validated")
    assert validated_total == 1 and detail(validated) in validated_rows[0]
    late, late_total = shown("late")
    assert late_total == 2
    assert [detail(oldest) in late[0], detail(validated) in late[1]] == [True, True]  # by request date

    # Cut to one row each, the totals still count every row of their own group.
    monkeypatch.setattr(todo, "GROUP_LIMIT", 1)
    requested, requested_total = shown("requested")
    assert requested_total == 2 and len(requested) == 1 and detail(oldest) in requested[0]
    late, late_total = shown("late")
    assert late_total == 2 and len(late) == 1 and detail(oldest) in late[0]
    validated_rows, validated_total = shown("validated")
    assert validated_total == 1 and len(validated_rows) == 1
    # An instructor has no payments to record, but validates requests and sees the late ones.
    assert group(setup.reviewer, "validated") is None
    assert group(setup.reviewer, "late").total == 2  # type: ignore[attr-defined]


def test_the_reviewable_scope_compiled_once_selects_the_territory_and_follows_its_changes() -> None:
    """applications_reviewable_by compiles an instructor's territory to SQL once per user object:
    it reads the right dossiers for every kind of territory, the second time as the first, and
    stays right when the territory changes after it was compiled (the database reads the scopes at
    each query)."""
    from applications.selectors import applications_reviewable_by
    from fabriques.models import Departement, Region
    from fabriques.services import instructor_scope_set
    from tests.factories import complete_application

    gers = submitted_application()
    paris = submitted_application()
    Application.objects.filter(pk=paris.pk).update(departement_id="75")
    draft = complete_application()
    by_region = occitanie_instructor()
    by_departement = instructor()
    instructor_scope_set(
        instructor=by_departement, departements=[Departement.objects.get(code="75")], actor=None
    )
    both = instructor()
    instructor_scope_set(
        instructor=both,
        regions=[Region.objects.get(code="76")],
        departements=[Departement.objects.get(code="75")],
        actor=None,
    )
    nowhere = instructor()

    def pks(queryset: object) -> set[int]:
        return set(queryset.values_list("pk", flat=True))  # type: ignore[attr-defined]

    expected = {
        by_region: {gers.pk},
        by_departement: {paris.pk},
        both: {gers.pk, paris.pk},
        nowhere: set(),
        programme_admin(): {gers.pk, paris.pk},
        applicant(): set(),
    }
    for user, dossiers in expected.items():
        assert pks(applications_reviewable_by(user)) == dossiers
        assert pks(applications_reviewable_by(user)) == dossiers  # the second time from the memo
        assert draft.pk not in pks(applications_reviewable_by(user))
    instructor_scope_set(instructor=nowhere, regions=[Region.objects.get(code="76")], actor=None)
    assert pks(applications_reviewable_by(nowhere)) == {gers.pk}
