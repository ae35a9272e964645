"""Expert opinions, the pages: the instruction's request through its recap, the invitation's link,
the expert's space (only their dossiers, only while open, 404 after), the answer through its
recap, « Relancer » and « Annuler » on the review page, and upload refusals."""

import html
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from applications.models import MessageFile, Opinion
from applications.services.opinions import opinion_request
from notifications.models import OutgoingEmail
from tests.factories import PDF_BYTES, close_response, in_review_application
from tests.pages import logged, text

pytestmark = pytest.mark.django_db

QUESTION = "Le lieu est-il accessible aux personnes à mobilité réduite ?"


def field_error(response, field_id: str) -> str:  # type: ignore[no-untyped-def]
    match = re.search(
        rf'<div id="{re.escape(field_id)}-erreurs">(.*?)</div>', response.content.decode(), re.S
    )
    assert match, f"no error under {field_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def request_form(**extra: str) -> dict[str, str]:
    return {
        "opinion-organisation_name": "DDT du Gers",
        "opinion-email": "Expert@DDT-Gers.gouv.fr",
        "opinion-question": QUESTION,
        "opinion-answer_kind": "yes_no",
        "opinion-due_on": (timezone.localdate() + timedelta(days=9)).isoformat(),
        "opinion-confidentiality": "shared",
        **extra,
    }


def asked(application, reviewer, **kwargs):  # type: ignore[no-untyped-def]
    return opinion_request(
        application=application,
        email=kwargs.pop("email", "expert@ddt-gers.gouv.fr"),
        organisation_name="DDT du Gers",
        question=QUESTION,
        actor=reviewer,
        **kwargs,
    )


def test_the_instruction_asks_through_a_recap_then_the_expert_answers_through_theirs():
    application, reviewer = in_review_application()
    instruction = logged(reviewer)
    url = reverse("applications:review-opinion-request", args=[application.reference])

    recap = instruction.post(url, request_form())
    assert recap.status_code == 200
    page = text(recap)
    assert "Vérifiez la demande d'avis avant l'envoi" in page
    assert QUESTION in page and "expert@ddt-gers.gouv.fr" in page and "Réponse par oui ou non" in page
    assert "Partagé : montré au porteur" in page
    assert (
        not Opinion.objects.exists() and not OutgoingEmail.objects.filter(key__startswith="opinion:").exists()
    )

    # « Modifier »: the review page's form again, filled in.
    edit = instruction.post(url, {**request_form(), "modifier": "1"})
    assert edit.status_code == 200 and QUESTION in text(edit) and not Opinion.objects.exists()

    sent = instruction.post(
        url,
        {**request_form(), "confirmer": "1", "attachments": SimpleUploadedFile("cadrage.pdf", PDF_BYTES)},
        follow=True,
    )
    assert "La demande d'avis est envoyée à DDT du Gers (expert@ddt-gers.gouv.fr)" in text(sent)
    opinion = Opinion.objects.get()
    assert (opinion.answer_kind, opinion.confidential) == ("yes_no", False)
    assert [f.original_name for f in opinion.request_files.all()] == ["cadrage.pdf"]
    review = text(sent)
    assert QUESTION in review and "Relancer l'expert" in review and "cadrage.pdf" in review

    # The invitation's link: the new account chooses its password first.
    entry = reverse("applications:opinion-give", args=[opinion.token])
    response = Client().get(entry)
    uid = urlsafe_base64_encode(force_bytes(opinion.expert.pk))
    prefix = reverse("accounts:password-reset-confirm", args=[uid, "jeton"]).removesuffix("jeton/")
    assert response.status_code == 302 and response["Location"].startswith(prefix)
    chooser = Client().get(response["Location"], follow=True)
    assert chooser.status_code == 200 and "new_password1" in chooser.content.decode()

    expert = logged(opinion.expert)
    assert expert.get(entry)["Location"] == reverse("applications:expert-request", args=[opinion.pk])
    home = text(expert.get(reverse("applications:expert-home")))
    assert application.reference in home and "En retard" not in home
    request_page = expert.get(reverse("applications:expert-request", args=[opinion.pk]))
    page = text(request_page)
    assert QUESTION in page and application.title in page and "cadrage.pdf" in page
    attachment = application.attachments.first()
    assert attachment is not None and attachment.original_name in page
    assert "Oui" in page and "Non" in page and "Favorable" not in page

    answer_url = reverse("applications:expert-request", args=[opinion.pk])
    refused = expert.post(answer_url, {"answer-comment": "Sans réponse."})
    assert "Répondez par oui ou par non." in field_error(refused, "id_answer-verdict")
    recap = expert.post(answer_url, {"answer-verdict": "yes", "answer-comment": "Rampe installée."})
    assert "Vérifiez votre avis avant de le rendre" in text(recap) and "Rampe installée." in text(recap)
    opinion.refresh_from_db()
    assert opinion.status == Opinion.Status.REQUESTED

    done = expert.post(
        answer_url,
        {
            "answer-verdict": "yes",
            "answer-comment": "Rampe installée.",
            "confirmer": "1",
            "attachments": SimpleUploadedFile("photo.pdf", PDF_BYTES),
        },
        follow=True,
    )
    assert "Merci : votre avis est rendu" in text(done)
    opinion.refresh_from_db()
    assert (opinion.status, opinion.verdict) == (Opinion.Status.GIVEN, "yes")
    assert [f.original_name for f in opinion.answer_files.all()] == ["photo.pdf"]
    # Given: the request and the dossier's files are closed to the expert, listed without a link.
    assert expert.get(answer_url).status_code == 404
    assert (
        expert.get(reverse("applications:expert-attachment", args=[opinion.pk, attachment.pk])).status_code
        == 404
    )
    assert expert.get(entry).status_code == 404
    home = text(expert.get(reverse("applications:expert-home")))
    assert application.reference in home and answer_url not in home and "Rendu" in home

    # Shared: the applicant reads it, with its file.
    applicant_page = text(
        logged(application.created_by).get(
            reverse("applications:dossier-detail", args=[application.reference])
        )
    )
    assert "Rampe installée." in applicant_page and "photo.pdf" in applicant_page
    answer_file = opinion.answer_files.get()
    file_url = reverse("applications:opinion-file", args=[application.reference, opinion.pk, answer_file.pk])
    for who in (application.created_by, reviewer):
        download = logged(who).get(file_url)
        assert download.status_code == 200 and b"".join(download.streaming_content) == PDF_BYTES
        close_response(download)


def test_an_expert_sees_only_the_requests_asked_of_them():
    application, reviewer = in_review_application()
    other, other_reviewer = in_review_application()
    mine = asked(application, reviewer)
    theirs = asked(other, other_reviewer, email="autre-expert@exemple.gouv.fr")
    expert = logged(mine.expert)
    home = text(expert.get(reverse("applications:expert-home")))
    assert application.reference in home and other.reference not in home
    assert expert.get(reverse("applications:expert-request", args=[theirs.pk])).status_code == 404
    attachment = other.attachments.first()
    assert attachment is not None
    assert (
        expert.get(reverse("applications:expert-attachment", args=[mine.pk, attachment.pk])).status_code
        == 404
    )
    assert (
        expert.get(reverse("applications:expert-attachment", args=[theirs.pk, attachment.pk])).status_code
        == 404
    )
    # Nor the dossier's pages of the applicant's or the instruction's spaces.
    for name in ("applications:dossier-detail", "applications:review-detail"):
        assert expert.get(reverse(name, args=[application.reference])).status_code in (403, 404)


def test_an_overdue_request_is_badged_for_the_expert_and_on_the_review_page():
    application, reviewer = in_review_application()
    opinion = asked(application, reviewer)
    Opinion.objects.filter(pk=opinion.pk).update(due_on=timezone.localdate() - timedelta(days=1))
    assert "En retard" in text(logged(opinion.expert).get(reverse("applications:expert-home")))
    review = text(logged(reviewer).get(reverse("applications:review-detail", args=[application.reference])))
    assert "Avis d'experts (1)" in review and "1 en retard" in review
    listed = text(
        logged(reviewer).get(
            reverse("applications:instructor-home"), {"opinions_overdue": "1", "tab": "en-instruction"}
        )
    )
    assert application.reference in listed


def test_relancer_and_annuler_on_the_review_page():
    application, reviewer = in_review_application()
    opinion = asked(application, reviewer)
    client = logged(reviewer)
    remind = reverse("applications:review-opinion-remind", args=[application.reference, opinion.pk])
    cancel = reverse("applications:review-opinion-cancel", args=[application.reference, opinion.pk])
    assert "L'expert (expert@ddt-gers.gouv.fr) est relancé par courriel." in text(
        client.post(remind, follow=True)
    )
    assert "L'expert a déjà été relancé aujourd'hui." in text(client.post(remind, follow=True))
    assert "Indiquez pourquoi la demande est annulée." in text(client.post(cancel, {}, follow=True))
    opinion.refresh_from_db()
    assert opinion.status == Opinion.Status.REQUESTED
    done = text(client.post(cancel, {"cancel-reason": "Le lieu a changé."}, follow=True))
    assert "La demande d'avis à DDT du Gers est annulée" in done
    opinion.refresh_from_db()
    assert opinion.status == Opinion.Status.CANCELLED
    assert "Relancer l'expert" not in done
    assert (
        logged(opinion.expert).get(reverse("applications:expert-request", args=[opinion.pk])).status_code
        == 404
    )


def test_a_file_refused_by_its_content_keeps_the_recap_with_the_error_and_writes_nothing():
    application, reviewer = in_review_application()
    client = logged(reviewer)
    url = reverse("applications:review-opinion-request", args=[application.reference])
    fake = SimpleUploadedFile("note.pdf", b"MZ\x90\x00 this is no pdf")
    response = client.post(url, {**request_form(), "confirmer": "1", "attachments": fake})
    assert response.status_code == 200
    assert "son contenu a été vérifié" in field_error(response, "id_attachments")
    assert not Opinion.objects.exists() and not MessageFile.objects.exists()

    opinion = asked(application, reviewer)
    expert = logged(opinion.expert)
    answer_url = reverse("applications:expert-request", args=[opinion.pk])
    fake = SimpleUploadedFile("carte.pdf", b"GIF89a not a pdf")
    response = expert.post(
        answer_url,
        {"answer-verdict": "favourable", "answer-comment": "", "confirmer": "1", "attachments": fake},
    )
    assert "son contenu a été vérifié" in field_error(response, "id_attachments")
    opinion.refresh_from_db()
    assert opinion.status == Opinion.Status.REQUESTED and not MessageFile.objects.exists()
