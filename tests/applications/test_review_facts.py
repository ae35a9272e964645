"""Each dossier's review columns (assignments, scorers, scores awaited, last scores, last
submission), kept by the database's triggers whoever writes the assignments and the state changes."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from applications.counters import review_facts_rebuild, review_facts_recount, review_facts_stored
from applications.models import Application, Assignment, StatusChange
from applications.services.review import (
    assignment_create,
    assignment_declare_conflict,
    corrections_request,
    scores_save,
)
from applications.services.submission import application_submit
from applications.workflow import transition
from tests.factories import CallFactory, applicant, in_review_application, instructor, programme_admin

pytestmark = pytest.mark.django_db

S = Application.Status


def assert_facts_match() -> None:
    stored, recounted = review_facts_stored(), review_facts_recount()
    assert stored == recounted
    assert stored  # there are dossiers to compare


def facts(application: Application) -> dict[str, object]:
    application.refresh_from_db()
    return {
        "assignments": application.assignment_count,
        "scorers": application.scorer_count,
        "unscored": application.unscored_count,
        "scored_at": application.last_scored_at,
        "from": application.last_submitted_from,
    }


def plain_dossier(call, number: int, status: str = S.IN_REVIEW) -> Application:  # type: ignore[no-untyped-def]
    return Application.objects.create(
        reference=f"FCT-2026-{number:05d}",
        call=call,
        title=f"Dossier {number}",
        status=status,
        submitted_at=timezone.now(),
        departement_id="32",
        created_by=applicant(),
    )


def test_the_services_of_the_review_move_the_columns():
    application, reviewer = in_review_application()
    assert facts(application) == {
        "assignments": 1,
        "scorers": 1,
        "unscored": 1,
        "scored_at": None,
        "from": S.DRAFT,
    }
    admin = programme_admin()
    second = assignment_create(application=application, instructor=admin, actor=admin)
    assert facts(application)["assignments"] == 2
    assert facts(application)["unscored"] == 2
    assignment_declare_conflict(assignment=second, note="Administrateur de la structure.", actor=admin)
    assert facts(application) | {"scored_at": None} == {
        "assignments": 2,
        "scorers": 1,
        "unscored": 1,
        "scored_at": None,
        "from": S.DRAFT,
    }
    assignment = Assignment.objects.get(application=application, instructor=reviewer)
    criteria = application.call.criteria.all()
    scores_save(
        assignment=assignment,
        values={criterion.pk: (3, "Solide.") for criterion in criteria},
        submit=True,
        actor=reviewer,
    )
    assignment.refresh_from_db()
    assert facts(application)["unscored"] == 0
    assert facts(application)["scored_at"] == assignment.scores_submitted_at
    assert_facts_match()

    corrections_request(application=application, points=["Le budget de l'an 2."], actor=reviewer)
    application.refresh_from_db()
    application_submit(application=application, actor=application.created_by)
    application.refresh_from_db()
    assert application.last_submitted_from == S.CORRECTIONS
    last = StatusChange.objects.filter(application=application, to_status=S.SUBMITTED).latest("at", "pk")
    assert application.last_submitted_at == last.at
    assert_facts_match()


def test_bulk_writes_updates_and_deletions_of_assignments_and_state_changes_are_followed():
    call = CallFactory()
    dossiers = [plain_dossier(call, number) for number in range(6)]
    reviewers = [instructor() for _ in range(3)]
    Assignment.objects.bulk_create(
        Assignment(application=dossier, instructor=reviewer, assigned_by=reviewer)
        for dossier in dossiers[:4]
        for reviewer in reviewers[: 1 + dossier.pk % 3]
    )
    assert_facts_match()
    now = timezone.now()
    Assignment.objects.filter(application__in=dossiers[:2]).update(scores_submitted_at=now)
    assert_facts_match()
    assert facts(dossiers[0])["unscored"] == 0
    Assignment.objects.filter(application=dossiers[2], instructor=reviewers[0]).update(
        conflict_of_interest=True
    )
    assert_facts_match()
    Assignment.objects.filter(application=dossiers[0]).update(scores_submitted_at=now + timedelta(hours=1))
    assert facts(dossiers[0])["scored_at"] == now + timedelta(hours=1)
    Assignment.objects.filter(application=dossiers[1]).delete()
    assert facts(dossiers[1])["assignments"] == 0
    assert_facts_match()
    # A move of an assignment to another dossier: both dossiers are recounted.
    moved = Assignment.objects.filter(application=dossiers[3]).first()
    assert moved is not None
    Assignment.objects.filter(pk=moved.pk).update(application=dossiers[5])
    assert_facts_match()

    StatusChange.objects.bulk_create(
        [
            StatusChange(application=dossiers[4], from_status=S.DRAFT, to_status=S.SUBMITTED, at=now),
            StatusChange(
                application=dossiers[4],
                from_status=S.CORRECTIONS,
                to_status=S.SUBMITTED,
                at=now + timedelta(days=2),
            ),
            StatusChange(application=dossiers[5], from_status=S.DRAFT, to_status=S.SUBMITTED, at=now),
        ]
    )
    assert facts(dossiers[4])["from"] == S.CORRECTIONS
    assert facts(dossiers[5])["from"] == S.DRAFT
    assert_facts_match()
    StatusChange.objects.filter(application=dossiers[4], from_status=S.CORRECTIONS).delete()
    assert facts(dossiers[4])["from"] == S.DRAFT
    assert_facts_match()
    with transaction.atomic():
        transition(application=dossiers[0], to_status=S.CORRECTIONS, actor=None)
    assert facts(dossiers[0])["from"] == ""  # never submitted through a recorded change
    dossiers[2].delete()
    assert_facts_match()


def test_the_command_finds_and_mends_damaged_columns(capsys):
    application, _reviewer = in_review_application()
    call_command("rebuild_dossier_counts", "--check")
    Application.objects.filter(pk=application.pk).update(assignment_count=7, last_submitted_from="")
    with pytest.raises(SystemExit):
        call_command("rebuild_dossier_counts", "--check")
    assert f"dossier {application.pk}" in capsys.readouterr().err
    assert review_facts_rebuild() >= 1
    assert_facts_match()
    call_command("rebuild_dossier_counts")
    call_command("rebuild_dossier_counts", "--check")
    assert "à jour" in capsys.readouterr().out
