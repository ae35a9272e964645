from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from applications.models import Application, Assignment, Criterion, Score
from applications.services import application_submit
from applications.services.review import (
    assignment_attest_no_conflict,
    assignment_create,
    assignment_declare_conflict,
    corrections_request,
    scores_save,
)
from applications.workflow import TRANSITIONS, can_move
from tests.factories import (
    in_review_application,
    instructor,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)

pytestmark = pytest.mark.django_db


def criteria(application: Application) -> tuple[Criterion, Criterion]:
    governance, economy = Criterion.objects.filter(call=application.call).order_by("position")
    return governance, economy


def test_every_pair_of_the_transition_table_is_either_allowed_or_refused():
    statuses = [status.value for status in Application.Status]
    allowed = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    for source in statuses:
        for target in statuses:
            assert can_move(source, target) == ((source, target) in allowed)
    assert ("draft", "submitted") in allowed and ("submitted", "in_review") in allowed
    assert ("in_review", "corrections_requested") in allowed and (
        "corrections_requested",
        "submitted",
    ) in allowed
    assert ("in_review", "awarded") in allowed and ("draft", "awarded") not in allowed
    assert ("withdrawn", "submitted") not in allowed


def test_self_assignment_opens_review_and_an_out_of_scope_instructor_is_refused():
    application = submitted_application()
    reviewer = occitanie_instructor()
    assignment_create(application=application, instructor=reviewer, actor=reviewer)
    application.refresh_from_db()
    assert application.status == "in_review"
    assert application.status_changes.last().to_status == "in_review"
    stranger = instructor()  # no territory at all
    with pytest.raises(PermissionDenied, match="pas dans votre périmètre"):
        assignment_create(application=application, instructor=stranger, actor=stranger)
    assert Assignment.objects.count() == 1


def test_only_an_admin_assigns_someone_else():
    application = submitted_application()
    reviewer, colleague = occitanie_instructor(), occitanie_instructor()
    with pytest.raises(PermissionDenied):
        assignment_create(application=application, instructor=colleague, actor=reviewer)
    admin = programme_admin()
    assignment_create(application=application, instructor=colleague, actor=admin)
    assert Assignment.objects.get().assigned_by == admin


def test_the_weighted_score_on_100_and_the_spread_between_instructors():
    application, reviewer = in_review_application()
    governance, economy = criteria(application)
    second = occitanie_instructor()
    assignment_create(application=application, instructor=programme_admin(), actor=programme_admin())
    assignment_attest_no_conflict(
        assignment=Assignment.objects.create(application=application, instructor=second), actor=second
    )
    first_assignment = Assignment.objects.get(application=application, instructor=reviewer)
    # Reviewer 1: 4/5 (weight 3) and 5/10 (weight 1) -> (0.8*3 + 0.5*1) / 4 * 100 = 72.5
    scores_save(
        assignment=first_assignment,
        values={governance.pk: (4, "Collectif solide"), economy.pk: (5, "Fragile")},
        submit=True,
        actor=reviewer,
    )
    application.refresh_from_db()
    assert application.score == Decimal("72.5") and application.score_spread == Decimal("0")
    # Reviewer 2: 5/5 and 10/10 -> 100; mean 86.3 (86.25 rounded), spread 27.5
    scores_save(
        assignment=Assignment.objects.get(application=application, instructor=second),
        values={governance.pk: (5, "Excellent"), economy.pk: (10, "Solide")},
        submit=True,
        actor=second,
    )
    application.refresh_from_db()
    assert application.score == Decimal("86.3")
    assert application.score_spread == Decimal("27.5")


@pytest.mark.parametrize(
    ("values", "key", "message"),
    [
        ({"g": (6, "Trop"), "e": (5, "Ok")}, "criterion", "va de 0 à 5"),
        ({"g": (4, ""), "e": (5, "Ok")}, "comment", "Un commentaire justifie la note"),
        ({"g": (4, "Ok")}, "criterion", "Notez ce critère."),
    ],
)
def test_bad_scores_are_refused_with_a_french_message_and_nothing_is_saved(values, key, message):
    application, reviewer = in_review_application()
    governance, economy = criteria(application)
    ids = {"g": governance.pk, "e": economy.pk}
    assignment = Assignment.objects.get(application=application, instructor=reviewer)
    with pytest.raises(ValidationError) as error:
        scores_save(
            assignment=assignment,
            values={ids[k]: v for k, v in values.items()},
            submit=True,
            actor=reviewer,
        )
    assert any(k.startswith(key) for k in error.value.message_dict)
    assert message in " ".join(error.value.messages)
    assert not Score.objects.exists()
    assignment.refresh_from_db()
    assert assignment.scores_submitted_at is None


def test_handed_in_scores_are_final():
    application, reviewer = in_review_application()
    governance, economy = criteria(application)
    assignment = Assignment.objects.get(application=application, instructor=reviewer)
    values = {governance.pk: (3, "Moyen"), economy.pk: (7, "Correct")}
    scores_save(assignment=assignment, values=values, submit=True, actor=reviewer)
    with pytest.raises(ValidationError, match="déjà remise"):
        scores_save(assignment=assignment, values=values, submit=True, actor=reviewer)


def test_a_declared_conflict_withdraws_scores_and_forbids_scoring():
    application, reviewer = in_review_application()
    governance, economy = criteria(application)
    assignment = Assignment.objects.get(application=application, instructor=reviewer)
    scores_save(assignment=assignment, values={governance.pk: (3, "x")}, submit=False, actor=reviewer)
    with pytest.raises(ValidationError, match="nature du conflit"):
        assignment_declare_conflict(assignment=assignment, note=" ", actor=reviewer)
    assignment_declare_conflict(assignment=assignment, note="J'administre l'association.", actor=reviewer)
    assert not Score.objects.exists()
    with pytest.raises(ValidationError, match="conflit d'intérêts"):
        scores_save(assignment=assignment, values={governance.pk: (3, "x")}, submit=False, actor=reviewer)


def test_corrections_reopen_the_dossier_and_resubmission_returns_it_to_review(
    django_capture_on_commit_callbacks,
):
    application, reviewer = in_review_application()
    with pytest.raises(ValidationError, match="au moins un point"):
        corrections_request(application=application, points=["  "], actor=reviewer)
    corrections_request(
        application=application, points=["Joindre les comptes 2025", "Préciser le budget"], actor=reviewer
    )
    application.refresh_from_db()
    assert application.status == "corrections_requested"
    assert "- Joindre les comptes 2025" in application.status_changes.last().note
    assert application.messages.filter(side="instruction").exists()
    with django_capture_on_commit_callbacks(execute=True):
        application_submit(application=application, actor=application.created_by)
    application.refresh_from_db()
    assert application.status == "in_review"
    moves = list(application.status_changes.values_list("from_status", "to_status"))
    assert moves[-2:] == [("corrections_requested", "submitted"), ("submitted", "in_review")]
