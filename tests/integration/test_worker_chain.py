"""The whole PDF chain with real services: PostgreSQL, Redis and a `celery worker` process.

A document asked in a committed transaction is queued on Redis, rendered by a separate worker
process reading the same test database and written under the same MEDIA_ROOT. Each test starts
its own worker on a queue of its own, so that no other worker or test can take its messages.

Skipped (reason shown) without DATABASE_URL=postgres://... and CELERY_BROKER_URL; failing instead
with CI=true (see tests/conftest.py).
"""

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pypdf
import pytest
from django.db import connection, transaction
from kombu import Exchange, Queue

from config.celery import app
from notifications import pdf as pdf_module
from notifications import services
from notifications.models import Document, Status
from notifications.services import document_request
from notifications.tasks import document_render_task

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker, pytest.mark.slow]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60
TASK_TIMEOUT = 60
TASK_NAME = document_render_task.name


@dataclass
class Worker:
    queue: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = TASK_TIMEOUT) -> None:
        """Poll `condition` until true; fail with the worker's output if it never is, or if it died."""
        deadline = time.monotonic() + timeout
        while True:
            if condition():
                return
            if self.process.poll() is not None:
                pytest.fail(
                    f"The worker exited ({self.process.returncode}) while waiting for {what}:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"Still waiting for {what} after {timeout} s. Worker output:\n{self.log()}")
            time.sleep(0.2)

    def succeeded(self, task_id: str = "") -> int:
        """How many times the worker logged a document render as succeeded (this one, if given)."""
        needle = f"{TASK_NAME}[{task_id}" if task_id else f"{TASK_NAME}["
        return sum(1 for line in self.log().splitlines() if needle in line and "succeeded" in line)


def worker_database_url() -> str:
    """The test database of this pytest run ("test_..."), as a URL for the worker's settings."""
    db = connection.settings_dict
    credentials = ""
    if db["USER"]:
        credentials = quote(db["USER"], safe="")
        if db["PASSWORD"]:
            credentials += ":" + quote(db["PASSWORD"], safe="")
        credentials += "@"
    host = quote(db["HOST"] or "", safe="")  # a socket folder is percent-encoded
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}{host}{port}/{quote(db['NAME'], safe='')}"


@contextmanager
def running_worker(media_root: Path, tmp_path: Path, kind: str = "pdf") -> Iterator[Worker]:
    """A `celery worker` process on the `kind` queue of a prefix of its own, stopped at the end.

    The worker's own settings route the tasks to its queues (QUEUE_PREFIX), so that a "pdf" worker
    is a documents' worker as in production (its renderer loaded before it forks its pool).
    """
    run = uuid.uuid4().hex[:8]
    prefix = f"it-{run}-"
    queue = f"{prefix}{kind}"
    env = {
        **os.environ,
        "QUEUE_PREFIX": prefix,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": worker_database_url(),
        "MEDIA_ROOT": str(media_root),
        # A connection closed after each task: none left open when the test database is flushed.
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "DJANGO_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / f"worker-{kind}.log"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
        "--pool=prefork",
        "--concurrency=1",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool child is stopped with it
        )
    started = Worker(queue=queue, process=process, log_path=log_path)
    try:
        started.wait_for(
            lambda: f"{queue}@" in started.log() and " ready." in started.log(),
            "the worker to be ready",
            timeout=STARTUP_TIMEOUT,
        )
        yield started
    finally:
        _stop(process)
        # Shown by pytest only when the test fails.
        print(f"--- output of the worker {queue} (exit code {process.returncode}) ---\n{started.log()}")
        _delete_queue(queue)


@pytest.fixture
def worker(
    _media_root: Path, transactional_db, django_db_serialized_rollback, tmp_path: Path
) -> Iterator[Worker]:  # type: ignore[no-untyped-def]
    """A documents' worker on a queue of its own, stopped (and its output printed) at teardown.

    It depends on transactional_db so that it is stopped before the test database is flushed,
    and reads the rows this test commits.
    """
    with running_worker(_media_root, tmp_path) as started:
        yield started


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # warm shutdown: finishes the task at hand
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group this fixture created, nothing else
        process.wait(timeout=10)


def _delete_queue(queue: str) -> None:
    """Leave nothing of this run in Redis: the queue and its binding tables."""
    with app.connection_for_write() as conn:
        # Declared on this channel first, so that kombu knows which bindings to remove.
        bound = Queue(queue, Exchange(queue, type="direct"), routing_key=queue)(conn.default_channel)
        bound.declare()
        bound.delete()


@pytest.fixture
def tasks_sent_to_worker(worker: Worker, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Tasks of this process go to the broker, in the worker's queue, instead of running here.

    Test settings run tasks in process (CELERY_TASK_ALWAYS_EAGER): this turns that off and routes
    the notification tasks to the worker's queue for the duration of the test. Any PDF rendered by
    this process instead is listed in the value of the fixture, and fails.
    """
    in_process: list[str] = []

    def refuse_render_here(template_name, context):  # type: ignore[no-untyped-def]
        in_process.append(template_name)
        raise AssertionError("rendered by the test process, not by the worker")

    monkeypatch.setattr(services, "render_pdf", refuse_render_here)
    previous = {"task_always_eager": app.conf.task_always_eager, "task_routes": app.conf.task_routes}
    app.conf.update(task_always_eager=False, task_routes={"notifications.tasks.*": {"queue": worker.queue}})
    try:
        yield in_process
    finally:
        app.conf.update(**previous)


def ask_specimen(reference: str) -> Document:
    """As the portal does: the row in a committed transaction, the task queued after commit."""
    with transaction.atomic():
        return document_request(
            key=f"specimen:{uuid.uuid4().hex}",
            kind="specimen",
            template_name="pdf/specimen.html",
            context={"reference": reference, "generated_at": "26/11/2026 10:15"},
            filename="specimen.pdf",
        )


def settled(document: Document) -> bool:
    """Done, failed, or pending with an error recorded: no need to wait any longer."""
    status, last_error = Document.objects.values_list("status", "last_error").get(pk=document.pk)
    return status != Status.PENDING or bool(last_error)


def stored_pdf(document: Document) -> bytes:
    with document.file.open("rb") as handle:
        return handle.read()


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_a_worker_renders_the_document_asked_in_a_committed_transaction(
    worker: Worker, tasks_sent_to_worker: list[str], _media_root: Path
):
    reference = f"IT-{uuid.uuid4().hex[:10].upper()}"

    document = ask_specimen(reference)
    worker.wait_for(lambda: settled(document), "the document to be rendered")

    document.refresh_from_db()
    assert document.status == Status.DONE, document.last_error
    assert tasks_sent_to_worker == []
    assert worker.succeeded() == 1
    assert document.attempts == 1
    assert document.last_error == ""
    path = Path(document.file.path)
    assert path.is_file() and path.is_relative_to(_media_root)
    pdf = stored_pdf(document)
    assert document.sha256 == hashlib.sha256(pdf).hexdigest()
    assert document.size == len(pdf)
    text = pdf_text(pdf)
    assert reference in text
    assert "Document de contrôle" in text
    assert worker.process.poll() is None, worker.log()
    # Rendered by a pool child forked from a main process that had loaded the renderer and frozen
    # its heap (config.celery.prepare_worker): the same PDF as a cold process writes.
    assert "Document renderer loaded before forking" in worker.log()
    assert "Heap frozen before forking" in worker.log()
    assert text == pdf_text(pdf_module.render_pdf(document.template_name, document.context))


def test_only_a_worker_of_the_documents_queue_loads_the_renderer(
    _media_root: Path, transactional_db, django_db_serialized_rollback, tmp_path: Path
):  # type: ignore[no-untyped-def]
    """An e-mail worker never renders: it freezes its heap, but loads no fonts or stylesheet."""
    with running_worker(_media_root, tmp_path, kind="email") as emails:
        log = emails.log()
    assert "Heap frozen before forking" in log
    assert "Document renderer loaded" not in log


def test_a_redelivered_task_does_not_render_the_document_again(
    worker: Worker, tasks_sent_to_worker: list[str], _media_root: Path
):
    document = ask_specimen(f"IT-{uuid.uuid4().hex[:10].upper()}")
    worker.wait_for(lambda: worker.succeeded() == 1, "the first render to succeed")
    document.refresh_from_db()
    assert document.status == Status.DONE, document.last_error
    first = (document.file.name, document.sha256, document.size, document.rendered_at, document.attempts)
    first_bytes = stored_pdf(document)

    # The same message again, as Redis does when a worker dies before acknowledging it.
    redelivery = document_render_task.apply_async(args=[document.pk], queue=worker.queue)
    worker.wait_for(lambda: worker.succeeded(redelivery.id) == 1, f"the redelivered task {redelivery.id}")

    document.refresh_from_db()
    assert (
        document.file.name,
        document.sha256,
        document.size,
        document.rendered_at,
        document.attempts,
    ) == first
    assert stored_pdf(document) == first_bytes
    assert [path for path in _media_root.rglob("*") if path.is_file()] == [Path(document.file.path)]
    assert worker.succeeded() == 2
    assert tasks_sent_to_worker == []
    assert worker.process.poll() is None, worker.log()
