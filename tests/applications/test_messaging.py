"""Messages with files, both ways, and one message written to the applicants of a filtered list."""

import io
import re
import uuid

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from applications.models import Application, Broadcast, Message, MessageFile
from applications.selectors import applications_reviewable_by, dossier_recipients
from applications.services import messaging
from applications.services.messaging import (
    FileUpload,
    broadcast_key,
    broadcast_preview,
    broadcast_recipients,
    broadcast_send,
)
from applications.services.review import message_post
from fabriques.models import Departement
from notifications.models import OutgoingEmail
from tests.factories import (
    PDF_BYTES,
    PNG_BYTES,
    applicant,
    in_review_application,
    instructor,
    member_of,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)
from tests.pages import logged, text

pytestmark = pytest.mark.django_db


def pdf(name: str = "convocation.pdf") -> FileUpload:
    return FileUpload(file=io.BytesIO(PDF_BYTES), name=name)


def url(name: str, application: Application) -> str:
    return reverse(f"applications:{name}", args=[application.reference])


def submitted_in(code: str) -> Application:
    application = submitted_application()
    Application.objects.filter(pk=application.pk).update(departement=Departement.objects.get(code=code))
    application.refresh_from_db()
    return application


def errors_of(response, field_id: str) -> str:  # type: ignore[no-untyped-def]
    """The text of the field's error block (the DSFR puts it under `<field id>-desc-error`)."""
    match = re.search(rf"<div id=\"{re.escape(field_id)}-erreurs\">(.*?)</div>", text(response), re.S)
    assert match, f"no error next to {field_id}"
    return re.sub(r"<[^>]+>", " ", match.group(1))


# --- files on a message ----------------------------------------------------------------------------


def test_a_message_carries_several_checked_files_stored_once_each():
    application, reviewer = in_review_application()
    message = message_post(
        application=application,
        body="Voici la convocation et le plan.",
        files=[pdf(), FileUpload(file=io.BytesIO(PNG_BYTES), name="plan d'accès.png")],
        actor=reviewer,
    )
    names = sorted(message.files.values_list("original_name", "content_type"))
    assert names == [("convocation.pdf", "application/pdf"), ("plan_daccès.png", "image/png")]
    assert all(row.file.storage.exists(row.file.name) for row in MessageFile.objects.all())
    assert AuditEvent.objects.filter(action="message.files", target_id=str(application.pk)).count() == 1


def test_a_file_whose_content_is_not_its_type_is_refused_and_nothing_is_saved():
    application, reviewer = in_review_application()
    fake = FileUpload(file=io.BytesIO(b"<html><script>alert(1)</script></html>"), name="rapport.pdf")
    with pytest.raises(ValidationError) as refused:
        message_post(application=application, body="Bonjour", files=[pdf(), fake], actor=reviewer)
    assert "son contenu a été vérifié" in refused.value.message_dict["attachments"][0]
    assert "rapport.pdf" in refused.value.message_dict["attachments"][0]
    assert not Message.objects.exists()
    assert not MessageFile.objects.exists()


def test_a_file_too_big_is_refused_next_to_the_field_on_the_applicant_page(monkeypatch):
    monkeypatch.setattr(messaging, "MESSAGE_FILE_MAX_MB", 0)
    application, _reviewer = in_review_application()
    upload = SimpleUploadedFile("budget.pdf", PDF_BYTES, content_type="application/pdf")
    response = logged(application.created_by).post(
        url("dossier-messages", application),
        {"message-body": "Voici le budget", "message-attachments": [upload]},
    )
    assert response.status_code == 200
    assert "dépasse la taille maximale de 0 Mo" in errors_of(response, "id_message-attachments")
    assert not Message.objects.exists()
    assert not MessageFile.objects.exists()
    assert not OutgoingEmail.objects.filter(key__startswith="message:").exists()


def test_a_wrong_type_is_refused_next_to_the_field_on_the_review_page():
    application, reviewer = in_review_application()
    upload = SimpleUploadedFile("note.pdf", b"GIF89a pas un pdf", content_type="application/pdf")
    response = logged(reviewer).post(
        url("review-message", application), {"message-body": "Voir la note", "message-attachments": [upload]}
    )
    assert response.status_code == 200
    assert "n'est pas un document accepté en pièce jointe" in errors_of(response, "id_message-attachments")
    assert not Message.objects.exists()


def test_files_go_both_ways_and_are_shown_with_name_and_size_in_the_thread():
    application, reviewer = in_review_application()
    response = logged(application.created_by).post(
        url("dossier-messages", application),
        {
            "message-body": "Le plan demandé",
            "message-attachments": [SimpleUploadedFile("plan.png", PNG_BYTES, content_type="image/png")],
        },
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.side == Message.Side.APPLICANT
    row = message.files.get()
    review = text(logged(reviewer).get(url("review-detail", application)))
    link = reverse("applications:message-file", args=[application.reference, row.pk])
    assert f'href="{link}"' in review
    assert "plan.png" in review and "67\xa0octets" in review


def test_a_message_file_is_downloaded_by_who_sees_the_thread_and_a_404_for_others():
    application, reviewer = in_review_application()
    message = message_post(application=application, body="Pièce", files=[pdf()], actor=reviewer)
    row = message.files.get()
    link = reverse("applications:message-file", args=[application.reference, row.pk])
    for who in (application.created_by, reviewer, programme_admin()):
        response = logged(who).get(link)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF_BYTES
        assert response["Content-Type"] == "application/pdf"
        assert "convocation.pdf" in response["Content-Disposition"]
    outsider = instructor()
    assert logged(outsider).get(link).status_code == 404
    assert logged(applicant()).get(link).status_code == 404
    # Another dossier's reference does not open this file, even to its own applicant.
    other = submitted_application()
    foreign = reverse("applications:message-file", args=[other.reference, row.pk])
    assert logged(other.created_by).get(foreign).status_code == 404


# --- broadcasts: the services -------------------------------------------------------------------


def test_the_bulk_recipients_are_those_of_dossier_recipients():
    first, second = submitted_application(), submitted_application()
    member_of(first.members.get(is_lead=True).organisation, applicant(email="collegue@tiers-lieu.fr"))
    gone = applicant(email="parti@tiers-lieu.fr", is_active=False)
    member_of(second.members.get(is_lead=True).organisation, gone)
    found = broadcast_recipients([first.pk, second.pk])
    for application in (first, second):
        assert found[application.pk] == dossier_recipients(application, side=Message.Side.APPLICANT)


def test_the_recap_counts_only_the_scope_and_writes_nothing():
    in_scope = [submitted_in("32"), submitted_in("31")]
    outside = submitted_in("75")
    reviewer = occitanie_instructor()
    with CaptureQueriesContext(connection) as reads:
        preview = broadcast_preview(dossiers=Application.objects.all(), actor=reviewer)
    assert preview.dossier_count == 2
    assert preview.recipient_count == 2
    assert preview.references == sorted(a.reference for a in in_scope)
    assert outside.reference not in preview.references
    assert not any(q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for q in reads)
    assert not Broadcast.objects.exists() and not Message.objects.exists()


def test_a_broadcast_writes_a_message_and_an_email_per_dossier_in_scope_and_one_audit_row():
    dossiers = [submitted_in("32"), submitted_in("31"), submitted_in("75")]
    reviewer = occitanie_instructor()
    broadcast, created = broadcast_send(
        token=uuid.uuid4(),
        subject="Comité du 12 mars",
        body="Le comité se réunira le 12 mars.",
        dossiers=Application.objects.all(),
        files=[pdf()],
        actor=reviewer,
    )
    assert created
    assert (broadcast.dossier_count, broadcast.recipient_count) == (2, 2)
    in_scope = dossiers[:2]
    messages = Message.objects.filter(broadcast=broadcast)
    assert sorted(messages.values_list("application_id", flat=True)) == sorted(a.pk for a in in_scope)
    assert all(
        m.side == Message.Side.INSTRUCTION and m.body.startswith("Comité du 12 mars\n\n") for m in messages
    )
    # The file is stored once and linked to each message.
    row = MessageFile.objects.get()
    assert Message.files.through.objects.filter(messagefile=row).count() == 2
    for application in in_scope:
        email = OutgoingEmail.objects.get(key=broadcast_key(broadcast.pk, application.pk))
        assert email.to == dossier_recipients(application, side=Message.Side.APPLICANT)
        assert application.reference in email.subject and "Le comité se réunira" in email.body
    assert not Message.objects.filter(application=dossiers[2]).exists()
    audit = AuditEvent.objects.get(action="message.broadcast")
    assert audit.data["dossiers"] == 2 and audit.data["recipients"] == 2
    assert AuditEvent.objects.filter(action__startswith="message.").count() == 1


def test_a_confirmation_posted_twice_sends_nothing_twice():
    submitted_in("32")
    reviewer = occitanie_instructor()
    token = uuid.uuid4()
    first, created = broadcast_send(
        token=token, subject="Objet", body="Texte", dossiers=Application.objects.all(), actor=reviewer
    )
    again, created_again = broadcast_send(
        token=token, subject="Objet", body="Texte", dossiers=Application.objects.all(), actor=reviewer
    )
    assert created and not created_again and again.pk == first.pk
    assert (
        Message.objects.count() == 1
        and OutgoingEmail.objects.filter(key__startswith="broadcast:").count() == 1
    )
    assert AuditEvent.objects.filter(action="message.broadcast").count() == 1


def test_a_broadcast_takes_the_same_number_of_queries_whatever_the_number_of_dossiers():
    reviewer = occitanie_instructor()

    def queries_for(count: int) -> int:
        ids = [submitted_in("32").pk for _ in range(count)]
        with CaptureQueriesContext(connection) as captured:
            broadcast_send(
                token=uuid.uuid4(),
                subject="Objet",
                body="Texte",
                dossiers=Application.objects.filter(pk__in=ids),
                files=[pdf()],
                actor=reviewer,
            )
        assert Message.objects.filter(application_id__in=ids).count() == count
        return len(captured)

    small, large = queries_for(2), queries_for(7)
    # The checks and reads, the broadcast, its file (its row and its constraints' checks), then one
    # bulk insert each for the messages, their files' links and the e-mails, and the audit row; then
    # the notifications of the applicants (their ids, their rows locked, the keys already notified, one
    # bulk insert, one update of their unread counters).
    assert small == large
    assert small <= 30


def test_a_broadcast_is_refused_to_applicants_and_for_an_empty_list():
    application = submitted_in("32")
    with pytest.raises(PermissionDenied):
        broadcast_send(
            token=uuid.uuid4(),
            subject="Objet",
            body="Texte",
            dossiers=Application.objects.all(),
            actor=application.created_by,
        )
    with pytest.raises(ValidationError):
        broadcast_send(
            token=uuid.uuid4(),
            subject="Objet",
            body="Texte",
            dossiers=Application.objects.none(),
            actor=occitanie_instructor(),
        )
    with pytest.raises(ValidationError) as refused:
        broadcast_send(
            token=uuid.uuid4(),
            subject=" ",
            body="",
            dossiers=Application.objects.all(),
            actor=programme_admin(),
        )
    assert set(refused.value.message_dict) == {"subject", "body"}
    assert not Broadcast.objects.exists() and not Message.objects.exists()


def test_the_broadcast_emails_are_sent_by_the_outbox_after_commit(
    django_capture_on_commit_callbacks, task_queues
):
    application = submitted_in("32")
    with django_capture_on_commit_callbacks(execute=True):
        broadcast, _created = broadcast_send(
            token=uuid.uuid4(),
            subject="Objet",
            body="Texte",
            dossiers=Application.objects.all(),
            actor=programme_admin(),
        )
    mail.outbox.clear()
    task_queues.drain()
    assert [m.to for m in mail.outbox] == [dossier_recipients(application, side=Message.Side.APPLICANT)]
    assert OutgoingEmail.objects.get(key=broadcast_key(broadcast.pk, application.pk)).status == "done"


# --- broadcasts: the pages ----------------------------------------------------------------------


def test_the_list_offers_to_write_to_the_applicants_with_its_filters():
    submitted_in("32")
    reviewer = occitanie_instructor()
    page = text(logged(reviewer).get(reverse("applications:instructor-home") + "?departement=32"))
    assert f'href="{reverse("applications:broadcast-compose")}?departement=32"' in page
    assert "Écrire aux porteurs" in page


def test_compose_recap_then_confirm_writes_the_filtered_list_once():
    gers, haute_garonne = submitted_in("32"), submitted_in("31")
    reviewer = occitanie_instructor()
    client = logged(reviewer)
    compose = reverse("applications:broadcast-compose") + "?departement=32"
    form = text(client.get(compose))
    assert "Vérifier avant l'envoi" in form and "La liste filtrée : 1 dossier, 1 destinataire." in form
    recap = client.post(compose, {"subject": "Comité", "body": "Le comité se réunit."})
    page = text(recap)
    assert "1 dossier, 1 destinataire" in page
    assert gers.reference in page and haute_garonne.reference not in page
    assert "Le comité se réunit." in page
    assert not Broadcast.objects.exists() and not Message.objects.exists()
    token = re.search(r'name="token" value="([0-9a-f-]+)"', page).group(1)  # type: ignore[union-attr]
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    data = {
        "confirmer": "1",
        "subject": "Comité",
        "body": "Le comité se réunit.",
        "token": token,
        "fingerprint": fingerprint,
        "attachments": [SimpleUploadedFile("ordre-du-jour.pdf", PDF_BYTES, content_type="application/pdf")],
    }
    done = client.post(compose, data, follow=True)
    assert "1 dossier, 1 destinataire" in text(done)
    assert list(Message.objects.values_list("application_id", flat=True)) == [gers.pk]
    assert MessageFile.objects.get().original_name == "ordre-du-jour.pdf"
    data["attachments"] = []
    again = client.post(compose, data, follow=True)
    assert "rien n'a été envoyé une seconde fois" in text(again)
    assert Message.objects.count() == 1 and Broadcast.objects.count() == 1


def test_a_refused_file_on_the_recap_is_shown_next_to_the_field_and_nothing_is_written():
    submitted_in("32")
    reviewer = occitanie_instructor()
    client = logged(reviewer)
    compose = reverse("applications:broadcast-compose")
    response = client.post(
        compose,
        {
            "confirmer": "1",
            "subject": "Comité",
            "body": "Texte",
            "token": str(uuid.uuid4()),
            "fingerprint": broadcast_preview(dossiers=Application.objects.all(), actor=reviewer).fingerprint,
            "attachments": [SimpleUploadedFile("ordre.docx", PDF_BYTES)],
        },
    )
    assert response.status_code == 200
    assert "son contenu a été vérifié" in errors_of(response, "id_attachments")
    assert (
        not Broadcast.objects.exists() and not Message.objects.exists() and not MessageFile.objects.exists()
    )


def test_the_broadcast_never_reaches_beyond_the_instructors_scope():
    submitted_in("75")
    reviewer = occitanie_instructor()
    assert not applications_reviewable_by(reviewer).exists()
    response = logged(reviewer).get(reverse("applications:broadcast-compose") + "?departement=75")
    assert "aucun dossier" in text(response)


def test_the_thread_reads_its_files_in_one_more_query_only_when_there_are_some():
    from applications.selectors import message_thread

    application, reviewer = in_review_application()
    message_post(application=application, body="Sans pièce", actor=reviewer)
    with CaptureQueriesContext(connection) as without:
        assert message_thread(application)[0].file_list == []  # type: ignore[attr-defined]
    for n in range(3):
        message_post(
            application=application, body=f"Pièces {n}", files=[pdf(), pdf("annexe.pdf")], actor=reviewer
        )
    with CaptureQueriesContext(connection) as with_files:
        thread = message_thread(application)
    assert (len(without), len(with_files)) == (1, 2)
    assert [[row.original_name for row in m.file_list] for m in thread] == [  # type: ignore[attr-defined]
        [],
        *[["convocation.pdf", "annexe.pdf"]] * 3,
    ]


def test_a_list_changed_since_the_recap_is_not_sent_and_the_recap_is_shown_again():
    submitted_in("32")
    reviewer = occitanie_instructor()
    client = logged(reviewer)
    compose = reverse("applications:broadcast-compose")
    seen = broadcast_preview(dossiers=Application.objects.all(), actor=reviewer)
    newcomer = submitted_in("31")  # submitted while the instructor read the recap
    data = {
        "confirmer": "1",
        "subject": "Comité",
        "body": "Texte",
        "token": str(uuid.uuid4()),
        "fingerprint": seen.fingerprint,
    }
    response = client.post(compose, data)
    page = text(response)
    assert response.status_code == 200
    assert "La liste a changé depuis le récapitulatif" in page
    assert "2 dossiers, 2 destinataires" in page and newcomer.reference in page
    assert not Broadcast.objects.exists() and not Message.objects.exists()
    fresh = re.search(r'name="fingerprint" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    assert client.post(compose, {**data, "fingerprint": fresh}).status_code == 302
    assert Message.objects.count() == 2


def test_more_files_than_a_message_takes_are_refused_and_nothing_is_saved():
    application, reviewer = in_review_application()
    with pytest.raises(ValidationError) as refused:
        message_post(
            application=application,
            body="Beaucoup de pièces",
            files=[pdf(f"piece-{n}.pdf") for n in range(messaging.MESSAGE_FILES_MAX + 1)],
            actor=reviewer,
        )
    assert refused.value.message_dict["attachments"] == ["Joignez au plus 5 fichiers à un message."]
    assert not Message.objects.exists() and not MessageFile.objects.exists()


def test_an_empty_file_is_refused_with_its_name():
    application, reviewer = in_review_application()
    with pytest.raises(ValidationError) as refused:
        message_post(
            application=application,
            body="Pièce vide",
            files=[FileUpload(file=io.BytesIO(b""), name="vide.pdf")],
            actor=reviewer,
        )
    assert refused.value.message_dict["attachments"] == ["Le fichier « vide.pdf » est vide."]
    assert not Message.objects.exists()


def test_the_message_goes_to_the_list_as_filtered_by_assignment_to_a_colleague():
    """« Affectés à <un instructeur> » is a choice the list draws for the user: the message reads
    the query with the same choices, so it reaches the list's dossiers, not the whole tab."""
    from tests.factories import in_review_application, programme_admin

    mine, _reviewer = in_review_application()
    theirs, colleague = in_review_application()
    compose = reverse("applications:broadcast-compose") + f"?tab=en-instruction&assigned={colleague.pk}"
    form = text(logged(programme_admin()).get(compose))
    assert "La liste filtrée : 1 dossier, 1 destinataire." in form


def test_a_subject_on_two_lines_is_refused_next_to_the_field_and_nothing_is_written():
    """An e-mail subject is one header line: a line break would make every e-mail of the broadcast
    fail at sending; it is refused before anything is written."""
    submitted_in("32")
    emails = OutgoingEmail.objects.count()  # the submission's receipt
    with pytest.raises(ValidationError) as refused:
        broadcast_send(
            token=uuid.uuid4(),
            subject="Comité\r\nBcc: quelquun@exemple.fr",
            body="Texte",
            dossiers=Application.objects.all(),
            actor=occitanie_instructor(),
        )
    assert refused.value.message_dict["subject"] == ["L'objet tient sur une seule ligne."]
    assert not Broadcast.objects.exists() and not Message.objects.exists()
    assert OutgoingEmail.objects.count() == emails
