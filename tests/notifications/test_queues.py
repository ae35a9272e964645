"""The queues of the tasks, and an e-mail that waits for the pdf queue instead of rendering."""

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.core import mail
from django.db import transaction

from config.celery import app
from notifications import services, tasks
from notifications.models import Document, OutgoingEmail, Status
from notifications.services import AttachmentsPending, document_render, email_send
from notifications.tasks import email_send_task
from tests.task_queues import TaskQueues

pytestmark = pytest.mark.django_db

# The queue of every task of the project; docs/operations.md has the same table.
EXPECTED_QUEUES = {
    "notifications.tasks.document_render_task": "pdf",
    "notifications.tasks.email_send_task": "email",
    "notifications.tasks.notifications_sweep_task": "default",
    "notifications.tasks.digests_send_task": "default",
    "grants.tasks.overdue_notifications_task": "default",
    "grants.tasks_exports.budget_report_build_task": "reports",
    "grants.tasks_envelope.envelope_daily_task": "default",
    "grants.tasks_envelope.envelope_check_task": "default",
    "grants.tasks_exports.export_jobs_sweep_task": "default",
    "grants.tasks.tranches_reminders_task": "default",
    "applications.tasks.corrections_deadlines_task": "default",
    "applications.tasks.drafts_reminders_task": "default",
    "applications.tasks.opinions_reminders_task": "default",
    "applications.tasks.dossier_export_build_task": "reports",
    "applications.tasks.dossier_exports_sweep_task": "default",
    "applications.tasks.broadcast_emails_task": "default",
    "core.tasks.data_changes_prune_task": "default",
    "allocation.tasks.scenario_compute_task": "reports",
    "allocation.tasks.scenarios_sweep_task": "default",
    "fabriques.tasks.organisations_siret_recheck_task": "default",
    "grants.tasks.open_data_publish_task": "default",
    "api.tasks.api_calls_prune_task": "default",
    "retention.tasks.retention_apply_task": "reports",
}


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real_render_pdf = services.render_pdf

    def counting_render_pdf(template_name, context):  # type: ignore[no-untyped-def]
        calls.append(template_name)
        return real_render_pdf(template_name, context)

    monkeypatch.setattr(services, "render_pdf", counting_render_pdf)
    return calls


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The retries the e-mail task asks for, instead of publishing them."""
    asked: list[dict[str, Any]] = []

    def retry(**options: Any) -> Retry:
        asked.append(options)
        return Retry("waiting for the attachments")

    monkeypatch.setattr(email_send_task, "retry", retry)
    return asked


def pending_letter_and_email(key: str = "letter") -> tuple[Document, OutgoingEmail]:
    """Rows as the services write them, without their tasks (as if still queued)."""
    document = Document.objects.create(
        key=f"specimen:{key}",
        kind="specimen",
        template_name="pdf/specimen.html",
        context={"reference": f"REF-{key}", "generated_at": "hier"},
        filename=f"{key}.pdf",
    )
    email = OutgoingEmail.objects.create(key=f"mail:{key}", to=["porteur@exemple.fr"], subject="S", body="B")
    email.attachments.set([document])
    return document, email


# --- Routes -------------------------------------------------------------------------------------


def project_tasks() -> set[str]:
    app.loader.import_default_modules()
    return {
        name
        for name in app.tasks
        if name.split(".")[0]
        in {
            "accounts",
            "applications",
            "grants",
            "allocation",
            "notifications",
            "fabriques",
            "core",
            "api",
            "retention",
        }
    }


def queue_of(task_name: str) -> str:
    route = app.amqp.router.route({}, task_name, args=(), kwargs={})
    return str(route["queue"].name)


def test_every_task_of_the_project_goes_to_its_queue() -> None:
    assert project_tasks() == set(EXPECTED_QUEUES), "a new task needs its line in EXPECTED_QUEUES"
    assert {name: queue_of(name) for name in EXPECTED_QUEUES} == EXPECTED_QUEUES


def test_the_queues_are_pdf_email_reports_and_default() -> None:
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed | {settings.CELERY_TASK_DEFAULT_QUEUE} == {"pdf", "email", "reports", "default"}


def test_the_operations_guide_lists_each_task_under_its_queue() -> None:
    text = (settings.BASE_DIR / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("## Queues", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {}
    for row in rows:
        queue = row.split("|")[1].strip().strip("`")
        for name in EXPECTED_QUEUES:
            if f"`{name}`" in row.split("|")[2]:
                documented[name] = queue
    assert documented == EXPECTED_QUEUES


# --- An e-mail waits for its attachments --------------------------------------------------------


def test_an_email_with_a_pending_attachment_waits_without_counting_an_attempt(renders: list[str]) -> None:
    document, email = pending_letter_and_email()

    with pytest.raises(AttachmentsPending) as raised:
        email_send(email_id=email.pk)

    assert raised.value.document_ids == [document.pk]
    assert renders == []
    assert mail.outbox == []
    email.refresh_from_db()
    document.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (Status.PENDING, 0, "")
    assert (document.status, document.attempts) == (Status.PENDING, 0)


def test_on_a_worker_the_email_task_looks_again_later_and_records_no_failure(
    renders: list[str], retries: list[dict[str, Any]]
) -> None:
    document, email = pending_letter_and_email()

    # Called as a worker calls it: not eager, so no rendering here.
    with pytest.raises(Retry):
        email_send_task(email.pk)

    assert retries == [{"countdown": 5, "max_retries": tasks.ATTACHMENT_WAITS}]
    assert renders == []
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (Status.PENDING, 0, "")

    # The pdf queue renders the document; the next look sends the e-mail, with it attached.
    document_render(document_id=document.pk)
    email_send_task(email.pk)
    assert len(retries) == 1
    assert len(mail.outbox) == 1
    assert [name for name, _, _ in mail.outbox[0].attachments] == ["letter.pdf"]
    document.refresh_from_db()
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.DONE, 1)
    assert (document.attempts, renders) == (1, ["pdf/specimen.html"])


def test_after_its_last_wait_the_email_is_left_to_the_sweep(
    renders: list[str],
    retries: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, email = pending_letter_and_email()
    monkeypatch.setattr(tasks, "ATTACHMENT_WAITS", 0)

    with caplog.at_level(logging.WARNING, logger="notifications.tasks"):
        email_send_task(email.pk)

    assert retries == []
    assert "left to the sweep" in caplog.text
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (Status.PENDING, 0, "")
    assert services.notifications_sweep(now=email.created_at + services.SWEEP_GRACE * 2)["emails"] == 1


def test_the_waits_add_up_to_about_ten_minutes_and_stay_under_the_visibility_timeout() -> None:
    delays = [tasks.attachment_wait(waited) for waited in range(tasks.ATTACHMENT_WAITS)]
    assert delays[:6] == [5, 10, 20, 40, 60, 60]
    assert 8 * 60 <= sum(delays) <= 12 * 60
    assert max(delays) < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_an_email_whose_attachment_failed_fails_its_attempt(renders: list[str]) -> None:
    document, email = pending_letter_and_email()
    Document.objects.filter(pk=document.pk).update(status=Status.FAILED, attempts=services.MAX_ATTEMPTS)

    with pytest.raises(RuntimeError, match="is not rendered"):
        email_send(email_id=email.pk)

    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.PENDING, 1)
    assert renders == [] and mail.outbox == []


def test_the_queues_drained_as_a_worker_does_send_the_email_once_its_letter_is_rendered(
    renders: list[str], task_queues: TaskQueues
) -> None:
    document, email = pending_letter_and_email()
    email_send_task.delay(email.pk)
    tasks.document_render_task.delay(document.pk)

    runs = task_queues.drain()

    # The e-mail is taken first and looks again 5 seconds later, after the pdf queue rendered.
    assert [(run.message.queue, run.outcome) for run in runs] == [
        ("email", "retry"),
        ("pdf", "done"),
        ("email", "done"),
    ]
    document.refresh_from_db()
    email.refresh_from_db()
    assert renders == ["pdf/specimen.html"]
    assert (document.status, document.attempts) == (Status.DONE, 1)
    assert (email.status, email.attempts) == (Status.DONE, 1)
    assert [name for name, _, _ in mail.outbox[0].attachments] == ["letter.pdf"]
    assert len(mail.outbox) == 1


@pytest.fixture
def in_process() -> Iterator[None]:
    """Tasks run when sent, as the local settings make them without a broker (`make demo`)."""
    previous = app.conf.task_always_eager
    app.conf.update(task_always_eager=True)
    try:
        yield
    finally:
        app.conf.update(task_always_eager=previous)


def test_in_process_a_letter_and_its_email_asked_together_are_rendered_and_sent_after_commit(
    renders: list[str], in_process: None, django_capture_on_commit_callbacks: Any, task_queues: TaskQueues
) -> None:
    """`make demo`: the same code path; the letter's task, sent first at commit, runs first."""
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        document = services.document_request(
            key="specimen:demo",
            kind="specimen",
            template_name="pdf/specimen.html",
            context={"reference": "REF-DEMO", "generated_at": "hier"},
            filename="lettre.pdf",
        )
        services.email_queue(
            key="mail:demo", to=["porteur@exemple.fr"], subject="S", body="B", attachments=[document]
        )
        assert renders == [] and mail.outbox == []

    assert task_queues.sent == []  # nothing went through a broker
    document.refresh_from_db()
    assert (document.status, renders) == (Status.DONE, ["pdf/specimen.html"])
    assert len(mail.outbox) == 1
    assert [name for name, _, _ in mail.outbox[0].attachments] == ["lettre.pdf"]


def test_a_render_is_logged_once_and_a_redelivery_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    document, _ = pending_letter_and_email()

    with caplog.at_level(logging.INFO, logger="notifications.services"):
        document_render(document_id=document.pk)
        document_render(document_id=document.pk)

    lines = [record.getMessage() for record in caplog.records if "rendered" in record.getMessage()]
    document.refresh_from_db()
    assert lines == [f"Document {document.pk} rendered: {document.file.name}, {document.size} bytes"]
