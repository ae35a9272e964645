"""notifications.services, their tasks run as a worker runs them (task_queues): rows, idempotency, retries."""

import copy
import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.template import TemplateDoesNotExist
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import services
from notifications.models import Document, OutgoingEmail, Status
from notifications.pdf import ForbiddenResource
from notifications.services import (
    MAX_ATTEMPTS,
    SWEEP_GRACE,
    document_render,
    document_request,
    email_queue,
    email_send,
    notifications_sweep,
)
from notifications.tasks import document_render_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The template names that went through the PDF renderer, in order."""
    calls: list[str] = []
    real_render_pdf = services.render_pdf

    def counting_render_pdf(template_name, context):  # type: ignore[no-untyped-def]
        calls.append(template_name)
        return real_render_pdf(template_name, context)

    monkeypatch.setattr(services, "render_pdf", counting_render_pdf)
    return calls


def ask_specimen(key: str = "specimen:test", reference: str = "REF-SERVICES-001") -> Document:
    return document_request(
        key=key,
        kind="specimen",
        template_name="pdf/specimen.html",
        context={"reference": reference, "generated_at": "26/11/2026 10:15"},
        filename="specimen.pdf",
    )


def stored_bytes(document: Document) -> bytes:
    with document.file.open("rb") as handle:
        return handle.read()


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def stored_files(media_root: Path) -> list[Path]:
    return sorted(path for path in media_root.rglob("*") if path.is_file())


def make_old(model: type[Document] | type[OutgoingEmail], pk: int, age: timedelta) -> None:
    model.objects.filter(pk=pk).update(created_at=timezone.now() - age)


# --- Documents ----------------------------------------------------------------------------------


def test_a_document_is_rendered_only_after_the_callers_transaction_commits(
    django_capture_on_commit_callbacks, renders, _media_root, task_queues
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            document = ask_specimen()
        document.refresh_from_db()
        assert document.status == Status.PENDING
        assert not document.file
        assert renders == []
        assert task_queues.sent == []

    assert len(callbacks) == 1
    assert task_queues.sent == ["notifications.tasks.document_render_task"]
    assert [message.queue for message in task_queues.in_queue("pdf")] == ["pdf"]
    assert renders == []
    task_queues.drain()
    document.refresh_from_db()
    assert document.status == Status.DONE
    assert renders == ["pdf/specimen.html"]
    assert document.attempts == 1
    assert document.last_error == ""
    assert document.rendered_at is not None
    assert document.file.name.startswith("documents/") and document.file.name.endswith(".pdf")
    pdf = stored_bytes(document)
    assert pdf.startswith(b"%PDF-")
    assert document.sha256 == hashlib.sha256(pdf).hexdigest()
    assert document.size == len(pdf)
    assert "REF-SERVICES-001" in pdf_text(pdf)
    assert stored_files(_media_root) == [Path(document.file.path)]


def test_asking_twice_with_the_same_key_gives_one_row_and_one_render(
    django_capture_on_commit_callbacks, renders, task_queues
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = ask_specimen(key="dossier:42:receipt:v1", reference="PREMIER")
        second = ask_specimen(key="dossier:42:receipt:v1", reference="SECOND")
    task_queues.drain()

    assert second.pk == first.pk
    assert Document.objects.filter(key="dossier:42:receipt:v1").count() == 1
    assert len(callbacks) == 1
    assert renders == ["pdf/specimen.html"]

    # Asked again once it is done: the same row, nothing queued, nothing rendered.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        third = ask_specimen(key="dossier:42:receipt:v1", reference="TROISIEME")
    assert third.pk == first.pk
    assert callbacks == []
    assert task_queues.sent == []
    assert renders == ["pdf/specimen.html"]
    third.refresh_from_db()
    assert third.status == Status.DONE
    assert third.context["reference"] == "PREMIER"
    assert "PREMIER" in pdf_text(stored_bytes(third))


def test_nothing_is_kept_nor_rendered_when_the_callers_transaction_rolls_back(
    django_capture_on_commit_callbacks, renders
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            ask_specimen()
            raise RuntimeError("the caller's action failed")

    assert callbacks == []
    assert renders == []
    assert not Document.objects.exists()


def test_rendering_a_done_document_again_changes_nothing(
    django_capture_on_commit_callbacks, renders, _media_root, task_queues
):
    with django_capture_on_commit_callbacks(execute=True):
        document = ask_specimen()
    task_queues.drain()
    document.refresh_from_db()
    before = (document.file.name, document.sha256, document.size, document.attempts, document.rendered_at)
    pdf = stored_bytes(document)

    again = document_render(document_id=document.pk)
    document_render_task.delay(document.pk)
    assert [run.outcome for run in task_queues.drain()] == ["done"]

    again.refresh_from_db()
    assert (again.file.name, again.sha256, again.size, again.attempts, again.rendered_at) == before
    assert stored_bytes(again) == pdf
    assert renders == ["pdf/specimen.html"]
    assert stored_files(_media_root) == [Path(document.file.path)]


def test_a_render_takes_three_statements_and_one_transaction(renders, _media_root):
    """A worker's database work per document (docs/performance.md « Worker pool »): the claim in one
    conditional UPDATE; then, in the rendering's transaction, the row locked, and its update."""
    document = ask_specimen()
    with CaptureQueriesContext(connection) as captured:
        document_render(document_id=document.pk)
    # The rendering's transaction is a savepoint inside the test's: its SAVEPOINT and RELEASE aside.
    sql = [
        query["sql"].upper()
        for query in captured.captured_queries
        if not query["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    assert len(sql) == 3, sql
    assert sql[0].startswith("UPDATE") and '"ATTEMPTS"' in sql[0]
    assert sql[1].startswith("SELECT")
    assert sql[2].startswith("UPDATE") and '"SHA256"' in sql[2]
    document.refresh_from_db()
    assert (document.status, document.attempts, renders) == (Status.DONE, 1, ["pdf/specimen.html"])


def test_a_document_out_of_attempts_is_claimed_by_the_full_claim_and_marked_failed(renders):
    document = ask_specimen()
    Document.objects.filter(pk=document.pk).update(attempts=MAX_ATTEMPTS)
    assert document_render(document_id=document.pk).status == Status.FAILED
    document.refresh_from_db()
    assert (document.status, document.attempts, renders) == (Status.FAILED, MAX_ATTEMPTS, [])


def failed_error(task_queues) -> BaseException | None:  # type: ignore[no-untyped-def]
    """Drain the queues: one delivery, failed for good (not retried by the task); its error."""
    (run,) = task_queues.drain(raise_failures=False)
    assert run.outcome == "failed"
    return run.error


def test_a_failing_render_keeps_the_error_and_the_count_then_gives_up_after_max_attempts(task_queues):
    document = Document.objects.create(
        key="broken:1", kind="test", template_name="pdf/no-such-template.html", filename="x.pdf"
    )

    document_render_task.delay(document.pk)
    assert isinstance(failed_error(task_queues), TemplateDoesNotExist)

    document.refresh_from_db()
    assert document.status == Status.PENDING
    assert document.attempts == 1
    assert "TemplateDoesNotExist" in document.last_error
    assert "pdf/no-such-template.html" in document.last_error
    assert not document.file and document.sha256 == ""

    for attempt in range(2, MAX_ATTEMPTS + 1):
        document_render_task.delay(document.pk)
        assert isinstance(failed_error(task_queues), TemplateDoesNotExist)
        document.refresh_from_db()
        assert document.attempts == attempt
        assert document.status == (Status.FAILED if attempt == MAX_ATTEMPTS else Status.PENDING)

    assert document.status == Status.FAILED
    assert "TemplateDoesNotExist" in document.last_error


def test_a_render_failing_after_commit_does_not_reach_the_caller_and_is_recorded(
    django_capture_on_commit_callbacks, task_queues
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        document = document_request(
            key="broken:2",
            kind="test",
            template_name="pdf/no-such-template.html",
            context={},
            filename="x.pdf",
        )

    assert len(callbacks) == 1
    document.refresh_from_db()
    assert (document.status, document.attempts) == (Status.PENDING, 0)
    assert isinstance(failed_error(task_queues), TemplateDoesNotExist)
    document.refresh_from_db()
    assert document.status == Status.PENDING
    assert document.attempts == 1
    assert "TemplateDoesNotExist" in document.last_error


def test_a_render_refused_by_the_url_fetcher_is_recorded_as_a_failure(tmp_path: Path, settings, task_queues):
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "remote.html").write_text(
        '<html><body><img src="http://example.invalid/logo.png"></body></html>', encoding="utf-8"
    )
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [str(folder), *templates[0]["DIRS"]]
    settings.TEMPLATES = templates
    document = Document.objects.create(
        key="remote:1", kind="test", template_name="remote.html", filename="r.pdf"
    )

    document_render_task.delay(document.pk)
    assert isinstance(failed_error(task_queues), ForbiddenResource)

    document.refresh_from_db()
    assert document.attempts == 1
    assert "ForbiddenResource" in document.last_error


# --- E-mails ------------------------------------------------------------------------------------


def test_an_email_is_sent_once_with_its_pdf_attached(django_capture_on_commit_callbacks, task_queues):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            document = ask_specimen()
            email = email_queue(
                key="dossier:42:receipt-email",
                to=["porteur@exemple.fr"],
                subject="Accusé de réception",
                body="Votre dossier est bien reçu.",
                attachments=[document],
            )
        assert mail.outbox == []

    assert mail.outbox == []
    assert task_queues.sent == [
        "notifications.tasks.document_render_task",
        "notifications.tasks.email_send_task",
    ]
    task_queues.drain()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["porteur@exemple.fr"]
    assert message.subject == "Accusé de réception"
    assert message.body == "Votre dossier est bien reçu."
    document.refresh_from_db()
    assert message.attachments == [("specimen.pdf", stored_bytes(document), "application/pdf")]
    email.refresh_from_db()
    assert email.status == Status.DONE
    assert email.sent_at is not None
    assert email.attempts == 1

    # A redelivered task, or the same e-mail asked again: nothing more is sent.
    email_send(email_id=email.pk)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = email_queue(
            key="dossier:42:receipt-email", to=["autre@exemple.fr"], subject="Autre", body="Autre"
        )
    assert again.pk == email.pk
    assert callbacks == []
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.attempts == 1


def test_an_email_queued_before_its_attachment_is_rendered_waits_for_the_pdf_queue(
    django_capture_on_commit_callbacks, task_queues
):
    document = Document.objects.create(
        key="specimen:pending",
        kind="specimen",
        template_name="pdf/specimen.html",
        context={"reference": "REF-PIECE-JOINTE", "generated_at": "hier"},
        filename="piece.pdf",
    )

    with django_capture_on_commit_callbacks(execute=True):
        email_queue(key="mail:pending", to=["a@exemple.fr"], subject="S", body="B", attachments=[document])
    # The document's task is still on the pdf queue (sent after its own commit, earlier).
    document_render_task.delay(document.pk)

    runs = task_queues.drain()
    # The e-mail, taken first, looks again 5 seconds later; meanwhile the pdf queue renders.
    assert [(run.message.task.rsplit(".", 1)[1], run.outcome) for run in runs] == [
        ("email_send_task", "retry"),
        ("document_render_task", "done"),
        ("email_send_task", "done"),
    ]
    assert [run.message.retries for run in runs] == [0, 0, 1]
    assert runs[2].message.due == 5
    document.refresh_from_db()
    assert document.status == Status.DONE
    assert len(mail.outbox) == 1
    ((filename, content, mimetype),) = mail.outbox[0].attachments
    assert (filename, mimetype) == ("piece.pdf", "application/pdf")
    assert content == stored_bytes(document)
    assert "REF-PIECE-JOINTE" in pdf_text(content)


# --- The sweep ----------------------------------------------------------------------------------


def test_the_sweep_requeues_only_pending_rows_older_than_the_grace_period(renders, task_queues):
    def pending_document(key: str) -> Document:
        return Document.objects.create(
            key=key,
            kind="specimen",
            template_name="pdf/specimen.html",
            context={"reference": key, "generated_at": "hier"},
            filename=f"{key}.pdf",
        )

    old_document = pending_document("old")
    young_document = pending_document("young")
    failed_document = pending_document("failed")
    Document.objects.filter(pk=failed_document.pk).update(status=Status.FAILED, attempts=MAX_ATTEMPTS)
    old_email = OutgoingEmail.objects.create(key="old-mail", to=["a@x.fr"], subject="Ancien", body="B")
    young_email = OutgoingEmail.objects.create(key="young-mail", to=["b@x.fr"], subject="Récent", body="B")
    make_old(Document, old_document.pk, SWEEP_GRACE + timedelta(minutes=1))
    make_old(Document, failed_document.pk, SWEEP_GRACE + timedelta(hours=1))
    make_old(Document, young_document.pk, SWEEP_GRACE - timedelta(minutes=1))
    make_old(OutgoingEmail, old_email.pk, SWEEP_GRACE + timedelta(minutes=1))
    make_old(OutgoingEmail, young_email.pk, SWEEP_GRACE - timedelta(minutes=1))

    assert notifications_sweep() == {"documents": 1, "emails": 1}
    task_queues.drain()

    assert renders == ["pdf/specimen.html"]
    for row in (old_document, young_document, failed_document, old_email, young_email):
        row.refresh_from_db()
    assert old_document.status == Status.DONE
    assert young_document.status == Status.PENDING and not young_document.file
    assert failed_document.status == Status.FAILED and failed_document.attempts == MAX_ATTEMPTS
    assert old_email.status == Status.DONE
    assert young_email.status == Status.PENDING
    assert [message.subject for message in mail.outbox] == ["Ancien"]

    # Nothing is left pending past the grace period: a second sweep queues nothing.
    assert notifications_sweep() == {"documents": 0, "emails": 0}
    assert task_queues.sent == []
    assert renders == ["pdf/specimen.html"]
    assert len(mail.outbox) == 1


# --- The operators' command ---------------------------------------------------------------------


def test_render_specimen_queue_asks_for_a_document_rendered_after_commit(
    django_capture_on_commit_callbacks, task_queues
):
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        call_command("render_specimen", "--queue", stdout=out)

    document = Document.objects.get(kind="specimen")
    assert document.key.startswith("specimen:")
    assert len(callbacks) == 1
    assert f"Document n° {document.pk} demandé" in out.getvalue()
    assert document.status == Status.PENDING
    task_queues.drain()
    document.refresh_from_db()
    assert document.status == Status.DONE
    assert document.context["reference"] in pdf_text(stored_bytes(document))


def test_an_attempt_killed_mid_render_is_still_counted_and_the_row_gives_up_after_max_attempts(
    monkeypatch: pytest.MonkeyPatch,
):
    """A hard time limit or a killed worker rolls the render back; the attempt must stay counted."""
    document = Document.objects.create(
        key="killed", kind="specimen", template_name="pdf/specimen.html", context={}, filename="k.pdf"
    )

    def killed(template_name, context):  # type: ignore[no-untyped-def]
        raise SystemExit("worker killed")  # not an Exception: nothing records it on the row

    monkeypatch.setattr(services, "render_pdf", killed)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with pytest.raises(SystemExit):
            document_render(document_id=document.pk)
        document.refresh_from_db()
        assert document.attempts == attempt
        assert document.status == Status.PENDING

    # One more delivery finds the row exhausted: it is marked failed and nothing is rendered.
    assert document_render(document_id=document.pk).status == Status.FAILED
    document.refresh_from_db()
    assert document.status == Status.FAILED
    assert document.attempts == MAX_ATTEMPTS
    assert not document.file
