"""The applicant's submission and the instructor's hand-in go through a recap; scoring needs the
attestation of no conflict of interests, a rule of the service and of the database."""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from applications.models import Application, Assignment, Criterion, Score, StatusChange
from applications.services.review import (
    assignment_attest_no_conflict,
    assignment_create,
    assignment_declare_conflict,
    scores_save,
)
from applications.services.submission import application_submit, submission_check
from core.formatting import format_money
from notifications.models import Document, OutgoingEmail
from tests.factories import (
    complete_application,
    in_review_application,
    occitanie_instructor,
    submitted_application,
)
from tests.pages import logged, text

pytestmark = pytest.mark.django_db


def review_url(name: str, application: Application) -> str:
    return reverse(f"applications:{name}", args=[application.reference])


def score_data(application: Application, action: str) -> dict[str, str]:
    data = {"action": action}
    for criterion, value in zip(
        Criterion.objects.filter(call=application.call).order_by("position"), (4, 7), strict=True
    ):
        data[f"scores-criterion_{criterion.pk}"] = str(value)
        data[f"scores-comment_{criterion.pk}"] = f"Commentaire sur {criterion.label}"
    return data


# --- submission ---------------------------------------------------------------------------------


def test_posting_the_submission_without_confirmation_writes_nothing_and_shows_the_recap():
    application = complete_application()
    owner = application.created_by
    client = logged(owner)
    changes, emails, documents = (
        StatusChange.objects.count(),
        OutgoingEmail.objects.count(),
        Document.objects.count(),
    )

    response = client.post(reverse("applications:dossier-submit", args=[application.reference]))

    assert response.status_code == 200
    page = text(response)
    assert f"Confirmer le dépôt – {application.reference}" in page
    assert format_money(Decimal("150000")) in page  # the grant asked, in full
    assert format_money(Decimal("50000")) in page  # and each year of it
    assert f"L'accusé de réception (PDF) sera envoyé par courriel à : {owner.email}" in page
    assert "ne peut plus être modifié" in page
    assert 'name="confirmer" value="1"' in page
    application.refresh_from_db()
    assert application.status == Application.Status.DRAFT
    assert (StatusChange.objects.count(), OutgoingEmail.objects.count(), Document.objects.count()) == (
        changes,
        emails,
        documents,
    )
    assert not AuditEvent.objects.filter(action="application.submit").exists()

    response = client.post(
        reverse("applications:dossier-submit", args=[application.reference]), {"confirmer": "1"}
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED


def forbid_the_write_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**kwargs: object) -> None:
        raise AssertionError("an unconfirmed post called the submission")

    monkeypatch.setattr("applications.views.dossiers.application_submit", refuse)


def test_a_submitted_dossier_fails_the_check_as_it_fails_the_submission():
    application = submitted_application()
    with pytest.raises(ValidationError, match="ne peut pas passer"):
        submission_check(application=application)


def test_an_unconfirmed_post_shows_the_recap_without_calling_the_submission(monkeypatch):
    application = complete_application()
    forbid_the_write_path(monkeypatch)
    response = logged(application.created_by).post(
        reverse("applications:dossier-submit", args=[application.reference])
    )
    assert response.status_code == 200 and "Confirmer le dépôt" in text(response)


@pytest.mark.parametrize("flaw", ["incomplete", "closed"])
def test_an_unconfirmed_post_on_a_dossier_that_cannot_be_submitted_says_why_and_writes_nothing(
    monkeypatch, flaw
):
    application = complete_application()
    if flaw == "incomplete":
        Application.objects.filter(pk=application.pk).update(summary="")
    else:
        application.call.closes_at = timezone.now() - timezone.timedelta(days=1)
        application.call.save(update_fields=["closes_at"])
    application.refresh_from_db()
    # What the submission would say, from the same check it runs under its lock.
    with pytest.raises(ValidationError) as refused, transaction.atomic():
        application_submit(application=application, actor=application.created_by)
    with pytest.raises(ValidationError) as checked:
        submission_check(application=application)
    assert checked.value.messages == refused.value.messages
    changes, documents = StatusChange.objects.count(), Document.objects.count()

    forbid_the_write_path(monkeypatch)
    client = logged(application.created_by)
    response = client.post(reverse("applications:dossier-submit", args=[application.reference]))
    assert response.status_code == 302
    page = text(client.get(response.url))
    assert checked.value.messages[0] in page
    assert "Confirmer le dépôt" not in page
    assert (StatusChange.objects.count(), Document.objects.count()) == (changes, documents)


# --- the attestation of no conflict of interests ------------------------------------------------


def test_scoring_without_the_attestation_is_refused_by_the_service_in_french():
    application = submitted_application()
    from tests.factories import grid

    grid(application.call)
    reviewer = occitanie_instructor()
    assignment = assignment_create(application=application, instructor=reviewer, actor=reviewer)
    first = Criterion.objects.filter(call=application.call).order_by("position").first()
    assert first is not None
    with pytest.raises(ValidationError) as refused:
        scores_save(assignment=assignment, values={first.pk: (3, "Correct")}, submit=False, actor=reviewer)
    assert (
        "Attestez d'abord que vous n'avez pas de conflit d'intérêts avec ce dossier"
        in refused.value.messages[0]
    )
    assert not Score.objects.exists()


def test_the_attestation_is_dated_signed_and_audited_and_a_conflict_replaces_it():
    application = submitted_application()
    reviewer, colleague = occitanie_instructor(), occitanie_instructor()
    assignment = assignment_create(application=application, instructor=reviewer, actor=reviewer)
    with pytest.raises(PermissionDenied):
        assignment_attest_no_conflict(assignment=assignment, actor=colleague)

    before = timezone.now()
    assignment_attest_no_conflict(assignment=assignment, actor=reviewer)
    assignment.refresh_from_db()
    assert assignment.no_conflict_attested_at is not None and assignment.no_conflict_attested_at >= before
    assert assignment.no_conflict_attested_by == reviewer
    assert AuditEvent.objects.filter(action="review.no_conflict_attested", actor=reviewer).count() == 1

    assignment_declare_conflict(assignment=assignment, note="Ma sœur préside l'association.", actor=reviewer)
    assignment.refresh_from_db()
    assert assignment.conflict_of_interest
    assert assignment.no_conflict_attested_at is None and assignment.no_conflict_attested_by is None
    with pytest.raises(ValidationError, match="conflit d'intérêts"):
        assignment_attest_no_conflict(assignment=assignment, actor=reviewer)


def test_the_database_refuses_an_attestation_on_a_conflicted_assignment():
    application = submitted_application()
    reviewer = occitanie_instructor()
    assignment = assignment_create(application=application, instructor=reviewer, actor=reviewer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(pk=assignment.pk).update(
            conflict_of_interest=True,
            no_conflict_attested_at=timezone.now(),
            no_conflict_attested_by=reviewer,
        )


def test_the_review_page_asks_for_the_attestation_before_opening_the_scores():
    application = submitted_application()
    from tests.factories import grid

    grid(application.call)
    reviewer = occitanie_instructor()
    assignment_create(application=application, instructor=reviewer, actor=reviewer)
    client = logged(reviewer)

    page = text(client.get(review_url("review-detail", application)))
    assert "Je n'ai pas de conflit d'intérêts avec ce dossier" in page
    assert review_url("review-attest", application) in page
    assert review_url("review-scores", application) not in page

    # A forced post of scores is refused with the service's message; nothing is saved.
    response = client.post(
        review_url("review-scores", application), score_data(application, "save"), follow=True
    )
    assert "Attestez d'abord que vous n'avez pas de conflit d'intérêts" in text(response)
    assert not Score.objects.exists()

    # The box left unticked: the error next to it.
    response = client.post(review_url("review-attest", application), {})
    assert response.status_code == 200
    assert "Cochez la case pour attester l'absence de conflit d'intérêts" in text(response)
    assert Assignment.objects.get(instructor=reviewer).no_conflict_attested_at is None

    response = client.post(
        review_url("review-attest", application), {"attestation-no_conflict": "on"}, follow=True
    )
    page = text(response)
    assert "Votre attestation d'absence de conflit d'intérêts est enregistrée" in page
    assert review_url("review-scores", application) in page
    assert re.search(r"Absence de conflit d'intérêts attestée le \d", page)
    assert Assignment.objects.get(instructor=reviewer).no_conflict_attested_by == reviewer


# --- handing in one's scores ----------------------------------------------------------------------


def test_handing_in_without_confirmation_writes_nothing_and_modifier_refills_the_form():
    application, reviewer = in_review_application()
    client = logged(reviewer)
    scores = review_url("review-scores", application)

    response = client.post(scores, score_data(application, "submit"))
    assert response.status_code == 200
    page = text(response)
    assert "Confirmer la remise de ma notation" in page
    assert "4 / 5" in page and "7 / 10" in page
    assert "Commentaire sur Gouvernance" in page
    assert "Une notation remise ne se modifie plus" in page
    assert not Score.objects.exists()
    assert Assignment.objects.get(instructor=reviewer).scores_submitted_at is None

    # « Modifier »: the review page, its form filled with what was typed, still nothing saved.
    response = client.post(scores, {**score_data(application, "submit"), "modifier": "1"})
    assert response.status_code == 200
    assert 'value="4" selected' in response.content.decode()
    assert not Score.objects.exists()

    client.post(scores, {**score_data(application, "submit"), "confirmer": "1"})
    assignment = Assignment.objects.get(instructor=reviewer)
    assert assignment.scores_submitted_at is not None
    assert Score.objects.filter(assignment=assignment).count() == 2
