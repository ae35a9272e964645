"""The instruction page and its actions, bulk decisions, the outside opinion and the applicant's thread."""

import html
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from applications.models import (
    Annotation,
    Application,
    Assignment,
    Call,
    Criterion,
    EligibilityAnswer,
    Message,
    Score,
    StatusChange,
)
from applications.services.review import (
    assignment_attest_no_conflict,
    assignment_create,
    eligibility_record,
    scores_save,
)
from grants.models import Grant
from tests.factories import (
    close_response,
    in_review_application,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)
from tests.pages import logged

pytestmark = pytest.mark.django_db

S = Application.Status


# --- helpers -----------------------------------------------------------------------------------


DECISION_URLS = {"review-decide", "review-reopen"}


def url(name: str, application: Application) -> str:
    namespace = "grants" if name in DECISION_URLS else "applications"
    return reverse(f"{namespace}:{name}", args=[application.reference])


def page(response) -> str:  # type: ignore[no-untyped-def]
    """The page's text with entities decoded, so that French apostrophes compare as typed."""
    return html.unescape(response.content.decode())


def field_error(response, field_id: str) -> str:  # type: ignore[no-untyped-def]
    """The error text shown under one field (the dsfr_crispy pack's <div id="<id>-erreurs">)."""
    match = re.search(
        rf'<div id="{re.escape(field_id)}-erreurs">(.*?)</div>', response.content.decode(), re.S
    )
    assert match, f"no error under {field_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def criteria(application: Application) -> list[Criterion]:
    return list(Criterion.objects.filter(call=application.call).order_by("position"))


def score_data(application: Application, action: str, values=(4, 7), comments=("Solide", "Viable")) -> dict:  # type: ignore[no-untyped-def]
    data = {"action": action}
    for criterion, value, comment in zip(criteria(application), values, comments, strict=True):
        data[f"scores-criterion_{criterion.pk}"] = "" if value is None else str(value)
        data[f"scores-comment_{criterion.pk}"] = comment
    return data


def hand_in(application: Application, instructor, comment: str = "Solide") -> None:  # type: ignore[no-untyped-def]
    assignment = Assignment.objects.get(application=application, instructor=instructor)
    first, second = criteria(application)
    scores_save(
        assignment=assignment,
        values={first.pk: (5, comment), second.pk: (8, "Viable")},
        submit=True,
        actor=instructor,
    )


def second_reviewer(application: Application):  # type: ignore[no-untyped-def]
    other = occitanie_instructor()
    assignment = assignment_create(application=application, instructor=other, actor=other)
    assignment_attest_no_conflict(assignment=assignment, actor=other)
    return other


# --- the page and its scope --------------------------------------------------------------------


def test_an_instructor_sees_the_whole_dossier_of_their_territory_and_nothing_outside_it():
    application, reviewer = in_review_application()
    client = logged(reviewer)

    response = client.get(url("review-detail", application))
    assert response.status_code == 200
    text = page(response)
    lead = application.members.get(is_lead=True).organisation
    assert application.title in text
    assert "Un lieu ressource." in text  # project texts
    assert lead.siret_display in text  # consortium with SIRETs
    assert "La Bobine" in text  # places
    assert "150\u00a0000\u00a0€" in text  # budget total
    assert "statuts.pdf" in text  # documents, with their download links
    assert "Déposé → En instruction" in text  # history
    assert "Me l'affecter" not in text  # already assigned

    # The instruction team downloads the documents through the same scoped views.
    attachment = application.attachments.first()
    download = client.get(
        reverse("applications:attachment-download", args=[application.reference, attachment.pk])
    )
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    close_response(download)
    receipt = application.status_changes.get(to_status=S.SUBMITTED)
    issued = client.get(reverse("applications:issued-document", args=[application.reference, receipt.pk]))
    # The receipt is still being produced (no commit in a test): back to the instruction page, not a 403.
    assert issued.status_code == 302
    assert issued["Location"] == url("review-detail", application)

    elsewhere = submitted_application()
    Application.objects.filter(pk=elsewhere.pk).update(departement_id="75")
    assert client.get(url("review-detail", elsewhere)).status_code == 404
    assert client.post(url("review-annotate", elsewhere), {"annotation-body": "x"}).status_code == 404
    attachment = elsewhere.attachments.first()
    assert (
        client.get(
            reverse("applications:attachment-download", args=[elsewhere.reference, attachment.pk])
        ).status_code
        == 404
    )


def test_me_l_affecter_opens_the_review_and_an_admin_assigns_an_instructor_of_the_territory():
    application = submitted_application()
    reviewer = occitanie_instructor()
    colleague = occitanie_instructor()
    client = logged(reviewer)
    assert "Me l'affecter" in page(client.get(url("review-detail", application)))

    response = client.post(url("review-assign", application), follow=True)
    assert "Le dossier vous est affecté." in page(response)
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW

    admin = logged(programme_admin())
    admin_page = page(admin.get(url("review-detail", application)))
    assert colleague.email in admin_page
    response = admin.post(url("review-assign", application), {"assign-instructor": colleague.pk}, follow=True)
    assert "Le dossier est affecté à" in page(response)
    assert Assignment.objects.filter(application=application, instructor=colleague).exists()

    # An instructor does not assign somebody else.
    third = occitanie_instructor()
    forced = client.post(url("review-assign", application), {"assign-instructor": third.pk})
    assert forced.status_code == 403
    assert not Assignment.objects.filter(application=application, instructor=third).exists()


# --- scores ------------------------------------------------------------------------------------


def test_the_scoring_form_saves_then_hands_in():
    application, reviewer = in_review_application()
    client = logged(reviewer)

    response = client.post(url("review-scores", application), score_data(application, "save"), follow=True)
    assert "Vos notes sont enregistrées" in page(response)
    assignment = Assignment.objects.get(application=application, instructor=reviewer)
    assert sorted(Score.objects.filter(assignment=assignment).values_list("value", flat=True)) == [4, 7]
    assert assignment.scores_submitted_at is None
    assert 'value="4" selected' in response.content.decode()  # saved values are shown again

    # Handing in shows the recap first and writes nothing...
    response = client.post(url("review-scores", application), score_data(application, "submit"))
    assert response.status_code == 200
    recap = page(response)
    assert "Confirmer la remise de ma notation" in recap
    assert "77,5 sur 100" in recap
    assert "Une notation remise ne se modifie plus" in recap
    assignment.refresh_from_db()
    assert assignment.scores_submitted_at is None
    # ...« Confirmer » hands it in.
    response = client.post(
        url("review-scores", application),
        {**score_data(application, "submit"), "confirmer": "1"},
        follow=True,
    )
    assert "Votre notation est remise" in page(response)
    assignment.refresh_from_db()
    assert assignment.scores_submitted_at is not None
    application.refresh_from_db()
    assert application.score is not None
    # Handed in: the form is gone, the scores are shown read-only.
    assert url("review-scores", application) not in response.content.decode()


def test_scoring_errors_are_french_next_to_their_field_and_save_nothing():
    application, reviewer = in_review_application()
    client = logged(reviewer)
    first, second = criteria(application)

    response = client.post(
        url("review-scores", application),
        score_data(application, "save", values=(6, 7), comments=("Trop haut", "")),
    )
    assert response.status_code == 200
    assert "La note de « Gouvernance » va de 0 à 5." in field_error(
        response, f"id_scores-criterion_{first.pk}"
    )
    assert "Un commentaire justifie la note de « Modèle économique »." in field_error(
        response, f"id_scores-comment_{second.pk}"
    )
    assert "Le formulaire contient 2 erreurs" in page(response)
    assert not Score.objects.exists()

    # Handing in with a criterion left unscored is refused the same way.
    response = client.post(
        url("review-scores", application),
        score_data(application, "submit", values=(3, None), comments=("Correct", "")),
    )
    assert "Notez ce critère." in field_error(response, f"id_scores-criterion_{second.pk}")
    assert not Score.objects.exists()
    assert Assignment.objects.get(application=application, instructor=reviewer).scores_submitted_at is None


def test_other_instructors_scores_are_hidden_until_one_has_handed_in_ones_own():
    application, reviewer = in_review_application()
    other = second_reviewer(application)
    hand_in(application, reviewer, comment="Gouvernance exemplaire")

    client = logged(other)
    before = page(client.get(url("review-detail", application)))
    assert "Gouvernance exemplaire" not in before
    assert "Note du dossier" not in before
    assert "s'affichent quand vous avez remis votre notation" in before

    client.post(url("review-scores", application), {**score_data(application, "submit"), "confirmer": "1"})
    after = page(client.get(url("review-detail", application)))
    assert "Gouvernance exemplaire" in after
    assert "Note du dossier" in after

    # An admin sees them without scoring.
    assert "Gouvernance exemplaire" in page(logged(programme_admin()).get(url("review-detail", application)))


# --- conflicts of interest ---------------------------------------------------------------------


def test_a_declared_conflict_removes_scoring_and_decision_and_a_forced_post_is_refused():
    application, reviewer = in_review_application()
    client = logged(reviewer)
    text = page(client.get(url("review-detail", application)))
    assert url("review-scores", application) in text
    assert url("review-decide", application) in text

    response = client.post(
        url("review-conflict", application),
        {"conflict-conflict_note": "Ma sœur préside l'association."},
        follow=True,
    )
    text = page(response)
    assert "Votre conflit d'intérêts est déclaré" in text
    assert url("review-scores", application) not in text
    assert url("review-decide", application) not in text
    assert url("review-corrections", application) not in text

    refusal = (
        "Vous avez déclaré un conflit d'intérêts sur ce dossier : vous ne pouvez ni le noter ni le décider."
    )
    forced = client.post(url("review-scores", application), score_data(application, "submit"), follow=True)
    assert refusal in page(forced)
    assert not Score.objects.exists()

    forced = client.post(
        url("review-decide", application), {"decision": "award", "amount": "150 000"}, follow=True
    )
    assert refusal in page(forced)
    assert not Grant.objects.exists()
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW


def test_a_conflict_declaration_needs_its_nature():
    application, reviewer = in_review_application()
    response = logged(reviewer).post(url("review-conflict", application), {"conflict-conflict_note": ""})
    assert response.status_code == 200
    assert field_error(response, "id_conflict-conflict_note")
    assert not Assignment.objects.get(application=application, instructor=reviewer).conflict_of_interest


# --- eligibility and decisions -----------------------------------------------------------------


def test_an_eligibility_condition_answered_no_blocks_the_award():
    application, reviewer = in_review_application()
    client = logged(reviewer)
    check = application.call.eligibility_checks.get()

    response = client.post(
        url("review-eligibility", application),
        {f"eligibility-check_{check.pk}": "no", f"eligibility-note_{check.pk}": "Centre-ville d'Auch."},
        follow=True,
    )
    assert "La vérification de l'éligibilité est enregistrée." in page(response)
    assert EligibilityAnswer.objects.get(application=application, condition=check).satisfied is False

    response = client.post(url("review-decide", application), {"decision": "award", "amount": "150 000"})
    assert response.status_code == 200
    assert "Condition d'éligibilité non vérifiée : Lieu en zone rurale ou en QPV" in page(response)
    assert not Grant.objects.exists()
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW


def test_a_changed_eligibility_answer_leaves_an_audit_row_with_the_previous_answer():
    from accounts.models import AuditEvent

    application, reviewer = in_review_application()
    check = application.call.eligibility_checks.get()
    first = AuditEvent.objects.get(action="review.eligibility_record", target_id=str(application.pk))
    assert first.data == {
        "answers": [{"condition": check.pk, "before": None, "after": {"satisfied": True, "note": ""}}]
    }

    logged(reviewer).post(
        url("review-eligibility", application),
        {f"eligibility-check_{check.pk}": "no", f"eligibility-note_{check.pk}": "Centre-ville d'Auch."},
    )
    event = AuditEvent.objects.filter(action="review.eligibility_record").latest("pk")
    assert event.actor == reviewer
    assert event.data == {
        "answers": [
            {
                "condition": check.pk,
                "before": {"satisfied": True, "note": ""},
                "after": {"satisfied": False, "note": "Centre-ville d'Auch."},
            }
        ]
    }
    # The same answers again change nothing, and log nothing.
    eligibility_record(
        application=application, answers={check.pk: (False, "Centre-ville d'Auch.")}, actor=reviewer
    )
    assert AuditEvent.objects.filter(action="review.eligibility_record").count() == 2


def test_an_eligibility_form_left_unanswered_is_refused_in_french():
    application, reviewer = in_review_application()
    check = application.call.eligibility_checks.get()
    response = logged(reviewer).post(url("review-eligibility", application), {})
    assert "Indiquez si cette condition est vérifiée." in field_error(
        response, f"id_eligibility-check_{check.pk}"
    )


def test_award_from_the_page_with_a_french_amount_creates_the_grant_and_links_the_letter(
    django_capture_on_commit_callbacks,
):
    application, reviewer = in_review_application()
    client = logged(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("review-decide", application), {"decision": "award", "amount": "150 000", "confirmer": "1"}
        )
    assert response.status_code == 302
    grant = Grant.objects.get(application=application)
    assert grant.amount == Decimal("150000")
    application.refresh_from_db()
    assert application.status == S.AWARDED

    change = application.status_changes.get(to_status=S.AWARDED)
    assert change.document is not None
    text = page(client.get(url("review-detail", application)))
    assert "lauréat" in text
    assert reverse("applications:issued-document", args=[application.reference, change.pk]) in text
    assert change.document.filename in text
    # Decided: no decision form any more.
    assert url("review-decide", application) not in text


def test_an_award_out_of_bounds_or_badly_typed_is_refused_next_to_the_amount():
    application, reviewer = in_review_application()
    client = logged(reviewer)
    response = client.post(url("review-decide", application), {"decision": "award", "amount": "cent mille"})
    assert "Saisissez un montant en euros" in field_error(response, "id_amount")
    response = client.post(url("review-decide", application), {"decision": "award", "amount": "200 000"})
    assert "Le montant attribué doit être compris entre" in field_error(response, "id_amount")
    response = client.post(
        url("review-decide", application), {"decision": "award", "amount": "150 000", "yearly_1": "50 000"}
    )
    assert "Remplissez toutes les tranches" in field_error(response, "id_yearly_2")
    assert not Grant.objects.exists()


def test_refusing_without_reasons_is_refused_in_french_and_writes_nothing():
    application, reviewer = in_review_application()
    client = logged(reviewer)
    changes = StatusChange.objects.count()
    response = client.post(url("review-decide", application), {"decision": "refuse", "reasons": "  "})
    assert response.status_code == 200
    assert "Une décision de refus doit être motivée." in field_error(response, "id_reasons")
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW
    assert StatusChange.objects.count() == changes

    response = client.post(
        url("review-decide", application),
        {"decision": "refuse", "reasons": "Projet hors champ.", "confirmer": "1"},
        follow=True,
    )
    assert f"Le dossier {application.reference} est refusé." in page(response)
    application.refresh_from_db()
    assert application.status == S.REFUSED


def test_an_unknown_decision_is_refused():
    application, reviewer = in_review_application()
    response = logged(reviewer).post(url("review-decide", application), {"decision": "maybe"}, follow=True)
    assert "Choisissez une décision" in page(response)
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW


# --- corrections and the applicant's thread ----------------------------------------------------


def test_corrections_reopen_the_dossier_and_the_applicant_answers_in_the_thread():
    application, reviewer = in_review_application()
    client = logged(reviewer)
    response = client.post(
        url("review-corrections", application),
        {"corrections-points": "Préciser le budget de l'année 2\n- Joindre les statuts signés\n\n"},
        follow=True,
    )
    assert "Les compléments sont demandés au porteur" in page(response)
    application.refresh_from_db()
    assert application.status == S.CORRECTIONS

    owner = logged(application.created_by)
    detail = page(owner.get(url("dossier-detail", application)))
    assert "Préciser le budget de l'année 2" in detail
    assert url("dossier-messages", application) in detail  # « Messages » in the side menu

    thread = owner.get(url("dossier-messages", application))
    assert thread.status_code == 200
    text = page(thread)
    assert "Préciser le budget de l'année 2" in text
    assert "Joindre les statuts signés" in text

    response = owner.post(
        url("dossier-messages", application), {"message-body": "Le budget est précisé."}, follow=True
    )
    assert "Votre message est envoyé à l'équipe d'instruction." in page(response)
    message = Message.objects.get(body="Le budget est précisé.")
    assert message.side == Message.Side.APPLICANT
    assert "Le budget est précisé." in page(client.get(url("review-detail", application)))


def test_corrections_need_at_least_one_point():
    application, reviewer = in_review_application()
    response = logged(reviewer).post(url("review-corrections", application), {"corrections-points": " \n "})
    assert response.status_code == 200
    assert field_error(response, "id_corrections-points")
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW


def test_an_empty_message_is_refused_next_to_the_field():
    application, _reviewer = in_review_application()
    response = logged(application.created_by).post(url("dossier-messages", application), {"message-body": ""})
    assert response.status_code == 200
    assert field_error(response, "id_message-body")
    assert not Message.objects.exists()


# --- private notes -----------------------------------------------------------------------------


def test_private_notes_never_appear_on_an_applicant_page():
    application, reviewer = in_review_application()
    response = logged(reviewer).post(
        url("review-annotate", application),
        {"annotation-body": "Note confidentielle : porteur fragile."},
        follow=True,
    )
    assert "Note confidentielle : porteur fragile." in page(response)
    assert Annotation.objects.filter(application=application).count() == 1

    owner = logged(application.created_by)
    for name in (
        "dossier-detail",
        "dossier-project",
        "dossier-consortium",
        "dossier-places",
        "dossier-budget",
        "dossier-documents",
        "dossier-access",
        "dossier-messages",
    ):
        response = owner.get(url(name, application))
        assert response.status_code == 200, name
        assert "confidentielle" not in page(response), name


# --- bulk decisions ----------------------------------------------------------------------------


def test_bulk_award_reports_each_dossier_and_the_envelope_refusal():
    first, reviewer = in_review_application()
    second = submitted_application(call=first.call)
    assignment_create(application=second, instructor=reviewer, actor=reviewer)
    eligibility_record(
        application=second,
        answers={check.pk: (True, "") for check in first.call.eligibility_checks.all()},
        actor=reviewer,
    )
    # Room for one award of 150 000 €, not two.
    Call.objects.filter(pk=first.call_id).update(envelope=Decimal("200000"))

    response = logged(reviewer).post(
        reverse("grants:review-bulk"),
        {
            "references": [first.reference, second.reference],
            "decision": "award",
            "reasons": "",
            "amount": "",
            "confirmer": "1",
        },
    )
    assert response.status_code == 200
    text = page(response)
    assert "1 décision enregistrée sur 2." in text
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</th>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", text, re.S)
    results = {
        reference: (re.sub(r"<[^>]+>", "", done).strip(), message) for reference, done, message in rows
    }
    assert results[first.reference] == ("Fait", "Décision enregistrée.")
    assert results[second.reference][0] == "Refusé"
    assert (
        "L'enveloppe de l'appel n'a plus que 50\u00a0000\u00a0€ disponibles" in results[second.reference][1]
    )
    assert Grant.objects.filter(application=first).exists()
    assert not Grant.objects.filter(application=second).exists()


def test_bulk_reports_a_dossier_out_of_scope_and_needs_a_decision():
    application, reviewer = in_review_application()
    elsewhere = submitted_application()
    Application.objects.filter(pk=elsewhere.pk).update(departement_id="75")
    client = logged(reviewer)

    response = client.post(
        reverse("grants:review-bulk"),
        {
            "references": f"{application.reference}\n{elsewhere.reference}",
            "decision": "close",
            "reasons": "Abandon.",
            "confirmer": "1",
        },
    )
    text = page(response)
    assert "Dossier introuvable ou hors de votre périmètre." in text
    application.refresh_from_db()
    elsewhere.refresh_from_db()
    assert application.status == S.CLOSED
    assert elsewhere.status == S.SUBMITTED

    response = client.post(reverse("grants:review-bulk"), {"references": application.reference})
    assert "Choisissez une décision." in field_error(response, "id_decision")


# --- who may use the instruction pages ---------------------------------------------------------


def test_an_applicant_gets_403_or_404_on_every_instruction_url():
    application, _reviewer = in_review_application()
    client = logged(application.created_by)
    assert client.get(url("review-detail", application)).status_code in (403, 404)
    for name in (
        "review-assign",
        "review-conflict",
        "review-scores",
        "review-eligibility",
        "review-opinion-request",
        "review-annotate",
        "review-message",
        "review-corrections",
        "review-decide",
        "review-reopen",
    ):
        response = client.post(url(name, application), {"decision": "award", "amount": "150 000"})
        assert response.status_code in (403, 404), name
    assert client.get(reverse("grants:review-bulk")).status_code in (403, 404)
    bulk = client.post(
        reverse("grants:review-bulk"), {"references": application.reference, "decision": "award"}
    )
    assert bulk.status_code in (403, 404)
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW
    assert not Annotation.objects.exists()

    anonymous = Client().get(url("review-detail", application))
    assert anonymous.status_code == 302
    assert reverse("accounts:login") in anonymous["Location"]


def test_reopen_works_for_an_admin_and_is_403_for_an_instructor():
    application, reviewer = in_review_application()
    client = logged(reviewer)
    client.post(
        url("review-decide", application), {"decision": "award", "amount": "150 000", "confirmer": "1"}
    )
    application.refresh_from_db()
    assert application.status == S.AWARDED

    assert url("review-reopen", application) not in page(client.get(url("review-detail", application)))
    assert client.post(url("review-reopen", application), {"reopen-reason": "Erreur."}).status_code == 403
    application.refresh_from_db()
    assert application.status == S.AWARDED

    admin = logged(programme_admin())
    response = admin.post(url("review-reopen", application), {"reopen-reason": ""})
    assert "La réouverture d'un dossier décidé doit être motivée." in field_error(
        response, "id_reopen-reason"
    )

    # Without the confirmation, the recap only.
    response = admin.post(url("review-reopen", application), {"reopen-reason": "Erreur sur le montant."})
    assert "Confirmer la réouverture" in page(response)
    application.refresh_from_db()
    assert application.status == S.AWARDED
    response = admin.post(
        url("review-reopen", application),
        {"reopen-reason": "Erreur sur le montant.", "confirmer": "1"},
        follow=True,
    )
    assert "est rouvert et revient en instruction" in page(response)
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW
    assert Grant.objects.get(application=application).status == Grant.Status.CANCELLED


def test_an_instructor_message_reaches_the_applicant_thread():
    application, reviewer = in_review_application()
    response = logged(reviewer).post(
        url("review-message", application),
        {"message-body": "Pouvez-vous préciser le public visé ?"},
        follow=True,
    )
    assert "Votre message est envoyé au porteur du projet." in page(response)
    message = Message.objects.get(application=application)
    assert message.side == Message.Side.INSTRUCTION
    thread = page(logged(application.created_by).get(url("dossier-messages", application)))
    assert "Pouvez-vous préciser le public visé ?" in thread
    assert "Équipe d'instruction" in thread
