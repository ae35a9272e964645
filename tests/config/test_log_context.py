"""Structured logs: the request id, the acting user's id and the dossier's reference on every line,
in JSON lines that parse, and the request id carried into the tasks the request queues."""

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from celery.worker.request import Request
from django.conf import settings
from django.urls import reverse
from kombu import Exchange, Queue
from pythonjsonlogger.json import JsonFormatter

from config.celery import app
from core import log_context
from core.tasks import data_changes_prune_task
from tests.factories import applicant, submitted_application

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """A handler made as the production one (the settings' JSON formatter and context filter)."""
    config = settings.LOGGING["formatters"]["json"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(fmt=config["fmt"], rename_fields=config["rename_fields"]))
    handler.addFilter(log_context.LogContextFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _records(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_the_response_carries_a_new_request_id(client):
    response = client.get(reverse("healthz-live"))
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert client.get(reverse("healthz-live"))["X-Request-ID"] != request_id


def test_a_sane_incoming_request_id_is_kept_and_a_forged_one_replaced(client):
    kept = client.get(reverse("healthz-live"), headers={"X-Request-ID": "proxy-1234abcd"})
    assert kept["X-Request-ID"] == "proxy-1234abcd"
    for forged in ("a b c d e f g h", "x" * 65, "abc", 'id"}\n{"level":"ERROR"'):
        replaced = client.get(reverse("healthz-live"), headers={"X-Request-ID": forged})
        assert replaced["X-Request-ID"] != forged
        assert len(replaced["X-Request-ID"]) == 32


def test_a_log_line_names_the_request_the_user_by_id_and_the_dossier(client, json_lines):
    """Applicant B opens applicant A's dossier: Django logs the 404 with the three fields, as JSON."""
    dossier = submitted_application()
    other = applicant(email="someone.else@example.org", first_name="Bernadette", last_name="Lafont")
    client.force_login(other)
    response = client.get(
        reverse("applications:dossier-detail", args=[dossier.reference]),
        headers={"X-Request-ID": "req-0123456789"},
    )
    assert response.status_code == 404
    [line] = [r for r in _records(json_lines) if r["logger"] == "django.request"]
    assert line["level"] == "WARNING"
    assert line["request_id"] == "req-0123456789"
    assert line["user_id"] == str(other.pk)
    assert line["reference"] == dossier.reference
    assert {"time", "message", "task", "task_id"} <= set(line)
    # Never the e-mail nor the name.
    assert "someone.else" not in json_lines.getvalue()
    assert "Lafont" not in json_lines.getvalue()


def test_the_text_format_carries_the_same_fields(settings):
    assert settings.LOG_FORMAT == "text"
    text = settings.LOGGING["formatters"]["text"]["format"]
    for field in ("%(request_id)s", "%(user_id)s", "%(reference)s", "%(task_id)s"):
        assert field in text
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["context"]


def test_bind_reference_names_the_dossier_of_later_lines(json_lines):
    log_context.clear()
    log_context.bind_reference("FDT-2026-00042")
    logging.getLogger("grants.services").info("tranche paid")
    log_context.clear()
    [line] = [r for r in _records(json_lines) if r["message"] == "tranche paid"]
    assert line["reference"] == "FDT-2026-00042"


@pytest.mark.urls("tests.config.observability_urls")
def test_a_request_id_reaches_the_log_of_the_task_it_queued(client, json_lines):
    """The real path of a message: sent on the broker (memory, or Redis when CELERY_BROKER_URL is
    set) from inside a request, taken back from its queue and run by Celery's worker request, as a
    worker's child does. The task's own lines in the worker carry the request's id."""
    from tests.config.observability_urls import SENT

    queue_name = f"obs-{uuid.uuid4().hex[:8]}"
    queue = Queue(queue_name, Exchange(queue_name), routing_key=queue_name)
    with app.connection_for_write() as connection:
        queue(connection.default_channel).declare()
    try:
        SENT.clear()
        response = client.get(f"/tests/queue/{queue_name}/", headers={"X-Request-ID": "req-task-0042abcd"})
        assert response["X-Request-ID"] == "req-task-0042abcd"
        assert len(SENT) == 1
        log_context.clear()  # the worker is another process: it inherits nothing

        with app.connection_for_read() as connection:
            simple = connection.SimpleQueue(queue)
            message = simple.get(timeout=5)
            assert message.headers["request_id"] == "req-task-0042abcd"
            assert isinstance(message.headers["published_at"], float)
            Request(message, app=app, task=app.tasks[data_changes_prune_task.name]).execute()
            message.ack()
            simple.close()
    finally:
        with app.connection_for_write() as connection:
            queue(connection.default_channel).delete()

    task_lines = [r for r in _records(json_lines) if r["task_id"] == SENT[0]]
    assert task_lines, json_lines.getvalue()
    assert all(r["request_id"] == "req-task-0042abcd" for r in task_lines)
    assert all(r["task"] == data_changes_prune_task.name for r in task_lines)
    # After the task, the worker's context is empty again.
    assert log_context.current_request_id() == ""
