"""The sweep's back-off: a row waiting behind a long backlog is re-queued O(log) times, not at
every sweep; a lost message is re-queued at the first sweep past the grace; the ceiling bounds the
wait. The e-mails' own rules (attachments, « sending ») are pinned in test_queues/test_email_states.
"""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from notifications import pdf, services
from notifications.models import Document, OutgoingEmail, Status
from tests.task_queues import TaskQueues

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The template names that went through the PDF renderer, in order."""
    calls: list[str] = []
    real_render_pdf = pdf.render_pdf

    def counting_render_pdf(template_name, context):  # type: ignore[no-untyped-def]
        calls.append(template_name)
        return real_render_pdf(template_name, context)

    monkeypatch.setattr("notifications.services.render_pdf", counting_render_pdf)
    return calls


def pending_document(key: str, created_at: datetime) -> Document:
    document = Document.objects.create(
        key=key,
        kind="specimen",
        template_name="pdf/specimen.html",
        context={"reference": key, "generated_at": "hier"},
        filename=f"{key}.pdf",
    )
    Document.objects.filter(pk=document.pk).update(created_at=created_at)
    return document


def test_the_wait_doubles_after_each_requeue_up_to_the_ceiling() -> None:
    waits = [services.sweep_wait(requeues) for requeues in range(7)]

    assert waits == [MINUTE * 5, MINUTE * 10, MINUTE * 20, MINUTE * 40, MINUTE * 60, MINUTE * 60, MINUTE * 60]
    assert services.sweep_wait(1000) == services.SWEEP_CEILING


def test_a_backlog_older_than_the_grace_is_not_requeued_at_every_sweep(task_queues: TaskQueues) -> None:
    # A committee's letters: the pdf workers have not reached them yet, their messages are queued.
    start = timezone.now()
    backlog = [pending_document(f"backlog-{n}", start) for n in range(20)]

    # Beat runs the sweep every 5 minutes, for two hours; nothing is rendered meanwhile.
    requeued_at = {}
    for minute in range(6, 126, 5):
        counts = services.notifications_sweep(now=start + MINUTE * minute)
        assert counts["emails"] == 0
        if counts["documents"]:
            requeued_at[minute] = counts["documents"]

    # Waits of 5, 10, 20 then 40 minutes from each re-queue: four times in two hours (the sweep
    # used to re-queue the whole backlog 24 times, 480 messages).
    assert requeued_at == {6: 20, 21: 20, 46: 20, 91: 20}
    assert len(task_queues.in_queue("pdf")) == 80
    for document in backlog:
        document.refresh_from_db()
        assert document.requeues == 4
        assert document.enqueued_at == start + MINUTE * 91


def test_a_lost_message_is_requeued_at_the_first_sweep_past_the_grace(  # type: ignore[no-untyped-def]
    task_queues: TaskQueues, renders, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        document = services.document_request(
            key="lost",
            kind="specimen",
            template_name="pdf/specimen.html",
            context={"reference": "lost", "generated_at": "hier"},
            filename="lost.pdf",
        )
    assert len(task_queues.in_queue("pdf")) == 1
    task_queues.clear()  # the broker lost it (a restart without persistence)

    assert services.notifications_sweep(now=document.created_at + services.SWEEP_GRACE - MINUTE) == {
        "documents": 0,
        "emails": 0,
    }
    assert task_queues.sent == []
    assert services.notifications_sweep(now=document.created_at + services.SWEEP_GRACE + MINUTE) == {
        "documents": 1,
        "emails": 0,
    }
    task_queues.drain()

    document.refresh_from_db()
    assert document.status == Status.DONE
    assert renders == ["pdf/specimen.html"]
    assert document.requeues == 1


def test_past_the_ceiling_a_row_is_requeued_however_many_times_it_was(task_queues: TaskQueues) -> None:
    now = timezone.now()
    long_ago = now - timedelta(days=2)
    due = pending_document("due", long_ago)
    waiting = pending_document("waiting", long_ago)
    Document.objects.filter(pk=due.pk).update(requeues=12, enqueued_at=now - services.SWEEP_CEILING - MINUTE)
    Document.objects.filter(pk=waiting.pk).update(
        requeues=12, enqueued_at=now - services.SWEEP_CEILING + MINUTE
    )

    assert services.notifications_sweep(now=now) == {"documents": 1, "emails": 0}

    assert [message.args for message in task_queues.in_queue("pdf")] == [(due.pk,)]
    due.refresh_from_db()
    assert due.requeues == 13 and due.enqueued_at == now
    waiting.refresh_from_db()
    assert waiting.requeues == 12


def test_a_failed_attempt_starts_the_wait_again_from_the_grace(task_queues: TaskQueues) -> None:
    # Its message was consumed by the failing attempt: nothing carries it, so no long back-off.
    start = timezone.now() - timedelta(hours=3)
    email = OutgoingEmail.objects.create(key="mail:failing", to=["a@x.fr"], subject="S", body="B")
    OutgoingEmail.objects.filter(pk=email.pk).update(
        created_at=start, requeues=4, enqueued_at=timezone.now() - MINUTE * 30, attempts=1
    )

    services.notification_record_failure(model=OutgoingEmail, pk=email.pk, error="RuntimeError('relay')")

    email.refresh_from_db()
    assert email.requeues == 0 and email.last_error == "RuntimeError('relay')"
    assert email.enqueued_at is not None
    assert services.notifications_sweep(now=email.enqueued_at + services.SWEEP_GRACE - MINUTE)["emails"] == 0
    assert services.notifications_sweep(now=email.enqueued_at + services.SWEEP_GRACE + MINUTE)["emails"] == 1
    assert task_queues.sent == ["notifications.tasks.email_send_task"]


def test_a_human_retry_starts_a_fresh_back_off(task_queues: TaskQueues) -> None:
    document = pending_document("retried", timezone.now() - timedelta(days=1))
    Document.objects.filter(pk=document.pk).update(
        status=Status.FAILED, attempts=services.MAX_ATTEMPTS, requeues=7
    )

    services.document_retry(document=document)

    document.refresh_from_db()
    assert document.status == Status.PENDING and document.requeues == 0
    assert document.enqueued_at is not None
    assert services.notifications_sweep(now=document.enqueued_at + MINUTE)["documents"] == 0


def test_the_chaos_settings_shorten_the_ceiling(settings) -> None:  # type: ignore[no-untyped-def]
    settings.NOTIFICATIONS_SWEEP_GRACE = timedelta(seconds=15)
    settings.NOTIFICATIONS_SWEEP_CEILING = timedelta(seconds=60)

    assert [services.sweep_wait(n).total_seconds() for n in range(4)] == [15, 30, 60, 60]
