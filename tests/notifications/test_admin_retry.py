"""The admin of documents and e-mails: read-only, failed and pending rows visible, « Relancer »."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.services import notification_retry
from notifications.models import Document, EmailStatus, OutgoingEmail, Status
from notifications.services import MAX_ATTEMPTS, email_retry
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.ignore_template_errors]

CHANGELIST = "admin:notifications_outgoingemail_changelist"


def email(key: str, status: str = EmailStatus.FAILED, to: str = "porteur@exemple.fr") -> OutgoingEmail:
    return OutgoingEmail.objects.create(
        key=key, to=[to], subject=f"Objet {key}", body="Texte.", status=status, attempts=MAX_ATTEMPTS
    )


@pytest.fixture
def staff_client(client):  # type: ignore[no-untyped-def]
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def test_failed_and_pending_emails_are_listed_filtered_and_searched_but_not_editable(staff_client):
    email("dossier:1:receipt", EmailStatus.FAILED, to="alice@exemple.fr")
    email("dossier:2:receipt", EmailStatus.PENDING, to="bob@exemple.fr")
    page = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert "Objet dossier:1:receipt" in page and "Objet dossier:2:receipt" in page
    assert "Relancer" in page

    failed = staff_client.get(reverse(CHANGELIST), {"status__exact": "failed"}).content.decode()
    assert "Objet dossier:1:receipt" in failed and "Objet dossier:2:receipt" not in failed
    found = staff_client.get(reverse(CHANGELIST), {"q": "bob@exemple"}).content.decode()
    assert "Objet dossier:2:receipt" in found and "Objet dossier:1:receipt" not in found

    row = OutgoingEmail.objects.get(key="dossier:1:receipt")
    assert staff_client.get(reverse("admin:notifications_outgoingemail_add")).status_code == 403
    staff_client.post(reverse("admin:notifications_outgoingemail_change", args=[row.pk]), {"subject": "X"})
    staff_client.post(reverse("admin:notifications_outgoingemail_delete", args=[row.pk]), {"post": "yes"})
    row.refresh_from_db()
    assert row.subject == "Objet dossier:1:receipt"


def test_documents_are_listed_by_status_and_kind_and_searched_by_key(staff_client):
    Document.objects.create(
        key="grant:1:letter", kind="letter", template_name="x.html", filename="a.pdf", status=Status.FAILED
    )
    Document.objects.create(
        key="grant:2:agreement", kind="agreement", template_name="x.html", filename="b.pdf"
    )
    url = reverse("admin:notifications_document_changelist")
    by_kind = staff_client.get(url, {"kind": "letter"}).content.decode()
    assert "a.pdf" in by_kind and "b.pdf" not in by_kind
    by_key = staff_client.get(url, {"q": "grant:2"}).content.decode()
    assert "b.pdf" in by_key and "a.pdf" not in by_key


def test_relancer_puts_failed_rows_back_to_pending_audits_and_sends_after_commit(
    staff_client, django_capture_on_commit_callbacks, task_queues
):
    failed = email("dossier:1:receipt", EmailStatus.FAILED)
    pending = email("dossier:2:receipt", EmailStatus.PENDING)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(
            reverse(CHANGELIST),
            {"action": "retry", "_selected_action": [failed.pk, pending.pk]},
            follow=True,
        )
    page = response.content.decode()
    assert "1 relance(s) demandée(s)." in page
    assert "1 ligne(s) ignorée(s) : seules celles en échec peuvent être relancées." in page
    # The failed one was queued after commit, and sent by the e-mail workers.
    assert len(callbacks) == 1
    assert [message.args for message in task_queues.in_queue("email")] == [(failed.pk,)]
    assert mail.outbox == []
    task_queues.drain()
    failed.refresh_from_db()
    assert failed.status == EmailStatus.DONE and failed.attempts == 1
    assert [m.subject for m in mail.outbox] == ["Objet dossier:1:receipt"]
    pending.refresh_from_db()
    assert (pending.status, pending.attempts) == (EmailStatus.PENDING, MAX_ATTEMPTS)

    event = AuditEvent.objects.get(action="notification.email_retry")
    assert event.actor == staff_client.user
    assert event.target_id == str(failed.pk)
    assert event.data == {
        "key": "dossier:1:receipt",
        "before": {"status": "failed", "attempts": MAX_ATTEMPTS},
        "after": {"status": "pending", "attempts": 0},
    }


def test_only_a_failed_row_is_retried_and_a_document_retry_is_audited(django_capture_on_commit_callbacks):
    sent = email("dossier:3:receipt", EmailStatus.PENDING)
    with pytest.raises(ValidationError):
        email_retry(email=sent)  # pending: still in the workers' hands
    document = Document.objects.create(
        key="grant:1:letter",
        kind="letter",
        template_name="x.html",
        filename="a.pdf",
        status=Status.FAILED,
        attempts=MAX_ATTEMPTS,
    )
    admin = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notification_retry(row=document, actor=admin)
    assert len(callbacks) == 1  # the render is queued after commit, not run inside the transaction
    document.refresh_from_db()
    assert (document.status, document.attempts) == (Status.PENDING, 0)
    event = AuditEvent.objects.get(action="notification.document_retry")
    assert event.data["before"] == {"status": "failed", "attempts": MAX_ATTEMPTS}
    with pytest.raises(ValidationError):
        notification_retry(row=document, actor=admin)
    assert AuditEvent.objects.filter(action="notification.document_retry").count() == 1
