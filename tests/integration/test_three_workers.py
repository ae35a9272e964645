"""A thousand letters rendered by three worker processes sharing one PDF queue: each exactly once.

Three `celery worker` processes (prefork, concurrency 1, as many as the worker-pdf replicas of a
scaled deployment) consume the same queue on one Redis and write under one MEDIA_ROOT, reading
one PostgreSQL database. A thousand documents are asked as the portal asks them (a row in a
committed transaction, the task queued after commit); then every task is sent a second time, as
Redis does when a worker vanishes before acknowledging. Each document must be rendered once:
one attempt, one stored file, one "rendered" line across the three logs; and each worker must
have taken its share. The queue has a name of this run's own ("pdf-it-..."), routed like `pdf`,
so that no other worker on the same Redis takes its messages.

The letters use pdf/specimen.html, the lightest real template (one page, about 30 ms to render):
the point is the distribution and the exactly-once, not WeasyPrint's speed. On two cores busy
with other work (load average 7), it took 100 s: 5 s to queue, 58 s to render, 16 s for the
redeliveries, the rest to start and stop the workers.

Skipped (reason shown) without DATABASE_URL=postgres://... and CELERY_BROKER_URL; failing instead
with CI=true (see tests/conftest.py).
"""

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, transaction

from config.celery import app
from notifications import services
from notifications.models import Document, Status
from notifications.services import document_request
from notifications.tasks import document_render_task
from tests.integration.test_worker_chain import (
    PROJECT_ROOT,
    STARTUP_TIMEOUT,
    Worker,
    _delete_queue,
    worker_database_url,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker, pytest.mark.slow]

LETTERS = 1000
WORKERS = 3
# Generous: about a minute is needed on two busy cores.
RENDER_TIMEOUT = 300
RENDERED = re.compile(r"Document (\d+) rendered: ")


def rendered_ids(worker: Worker) -> list[int]:
    """The documents this worker rendered, from its log (notifications.services logs each once)."""
    return [int(match.group(1)) for match in RENDERED.finditer(worker.log())]


@pytest.fixture
def pdf_workers(
    _media_root: Path, transactional_db, django_db_serialized_rollback, tmp_path: Path
) -> Iterator[list[Worker]]:  # type: ignore[no-untyped-def]
    """Three workers on one queue, started together; stopped (output printed) at teardown."""
    prefix = f"it-{uuid.uuid4().hex[:8]}-"
    queue = f"{prefix}pdf"
    env = {
        **os.environ,
        "QUEUE_PREFIX": prefix,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": worker_database_url(),
        "MEDIA_ROOT": str(_media_root),
        # One connection per pool process, kept between tasks (two thousand of them): the workers
        # are stopped, and their connections closed, before the test database is flushed.
        "DATABASE_CONN_MAX_AGE": "60",
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "DJANGO_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    workers: list[Worker] = []
    try:
        for index in range(WORKERS):
            log_path = tmp_path / f"worker-{index}.log"
            with log_path.open("wb") as log_file:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "-Q",
                        queue,
                        "-n",
                        f"{queue}-{index}@%h",
                        "--pool=prefork",
                        "--concurrency=1",
                        "--without-heartbeat",
                        "--without-gossip",
                        "--without-mingle",
                        "--loglevel=INFO",
                    ],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: the pool child is stopped with it
                )
            workers.append(Worker(queue=queue, process=process, log_path=log_path))
        for worker in workers:  # started together, waited for one by one
            worker.wait_for(
                lambda started=worker: " ready." in started.log(),  # type: ignore[misc]
                "the worker to be ready",
                timeout=STARTUP_TIMEOUT,
            )
        yield workers
    finally:
        for worker in workers:  # warm shutdowns, all at once
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for index, worker in enumerate(workers):
            try:
                worker.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.process.pid, signal.SIGKILL)  # the group this fixture created
                worker.process.wait(timeout=10)
            # Shown by pytest only when the test fails.
            print(
                f"--- worker {index} on {queue} (exit code {worker.process.returncode}) ---\n{worker.log()}"
            )
        _delete_queue(queue)


@pytest.fixture
def renders_sent_to_workers(
    pdf_workers: list[Worker], monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    """Document tasks of this process go to the workers' queue; a render here would fail."""
    in_process: list[str] = []

    def refuse_render_here(template_name, context):  # type: ignore[no-untyped-def]
        in_process.append(template_name)
        raise AssertionError("rendered by the test process, not by a worker")

    monkeypatch.setattr(services, "render_pdf", refuse_render_here)
    previous = {"task_always_eager": app.conf.task_always_eager, "task_routes": app.conf.task_routes}
    queue = pdf_workers[0].queue
    app.conf.update(task_always_eager=False, task_routes={document_render_task.name: {"queue": queue}})
    try:
        yield in_process
    finally:
        app.conf.update(**previous)


def wait_until(workers: list[Worker], condition, what: str, timeout: float = RENDER_TIMEOUT) -> None:  # type: ignore[no-untyped-def]
    """Poll `condition`; fail with the logs if a worker died, a render failed, or time ran out."""
    deadline = time.monotonic() + timeout
    while not condition():
        for index, worker in enumerate(workers):
            if worker.process.poll() is not None:
                pytest.fail(f"worker {index} exited ({worker.process.returncode}) waiting for {what}")
        failed = Document.objects.exclude(last_error="").values_list("pk", "last_error")[:5]
        if failed:
            pytest.fail(f"renders failed while waiting for {what}: {list(failed)}")
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting for {what} after {timeout} s")
        time.sleep(0.5)


def database_sessions() -> int:
    """Sessions ever opened on the test database, as PostgreSQL counts them (pg_stat_database)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        (sessions,) = cursor.fetchone()
    return int(sessions)


def snapshot(ids: list[int]) -> dict[int, tuple]:  # type: ignore[type-arg]
    return {
        row[0]: row[1:]
        for row in Document.objects.filter(pk__in=ids).values_list(
            "pk", "status", "attempts", "file", "sha256", "size", "rendered_at", "last_error"
        )
    }


def test_three_workers_render_a_thousand_letters_each_exactly_once_even_when_redelivered(
    pdf_workers: list[Worker], renders_sent_to_workers: list[str], _media_root: Path
) -> None:
    started = time.monotonic()
    run = uuid.uuid4().hex[:8]
    sessions_before = database_sessions()

    # As the portal does: rows in a committed transaction, a task queued for each after commit.
    with transaction.atomic():
        ids = [
            document_request(
                key=f"letter:{run}:{number}",
                kind="specimen",
                template_name="pdf/specimen.html",
                context={"reference": f"IT-{run}-{number:04d}", "generated_at": "26/11/2026 10:15"},
                filename=f"lettre-{number:04d}.pdf",
            ).pk
            for number in range(LETTERS)
        ]
    queued = time.monotonic()

    wait_until(
        pdf_workers,
        lambda: Document.objects.filter(pk__in=ids, status=Status.DONE).count() == LETTERS,
        f"{LETTERS} letters to be rendered",
    )
    wait_until(
        pdf_workers,
        lambda: sum(worker.succeeded() for worker in pdf_workers) == LETTERS,
        f"{LETTERS} render tasks logged as succeeded",
        timeout=30,
    )
    rendered = time.monotonic()

    # Each letter once: one attempt, one file whose bytes match its fingerprint, one log line.
    first = snapshot(ids)
    assert {row[0] for row in first.values()} == {Status.DONE}
    assert Counter(row[1] for row in first.values()) == {1: LETTERS}, "a letter took more than one attempt"
    assert {row[6] for row in first.values()} == {""}
    files = sorted(path for path in _media_root.rglob("*") if path.is_file())
    assert len(files) == LETTERS
    assert {str(path.relative_to(_media_root)) for path in files} == {row[2] for row in first.values()}
    for row in first.values():
        content = (_media_root / row[2]).read_bytes()
        assert (hashlib.sha256(content).hexdigest(), len(content)) == (row[3], row[4])
    per_worker = [rendered_ids(worker) for worker in pdf_workers]
    assert sorted(pk for ids_ in per_worker for pk in ids_) == sorted(ids), "a letter rendered twice or never"
    assert all(per_worker), f"a worker rendered nothing: {[len(ids_) for ids_ in per_worker]}"

    # Every task again, as after a lost acknowledgement: nothing is rendered a second time.
    for pk in ids:
        document_render_task.apply_async(args=(pk,))
    wait_until(
        pdf_workers,
        lambda: sum(worker.succeeded() for worker in pdf_workers) == 2 * LETTERS,
        f"the {LETTERS} redelivered tasks to succeed",
    )
    redelivered = time.monotonic()

    assert snapshot(ids) == first
    # Each pool process keeps its connection between tasks (CONN_MAX_AGE here, config.celery): a
    # handful of sessions for 2 000 tasks, where Celery's fixup alone opened one per task.
    opened = database_sessions() - sessions_before
    assert opened < 100, f"{opened} database sessions opened for {2 * LETTERS} tasks"
    assert sorted(path for path in _media_root.rglob("*") if path.is_file()) == files
    assert sum(len(rendered_ids(worker)) for worker in pdf_workers) == LETTERS
    assert renders_sent_to_workers == []
    assert all(worker.process.poll() is None for worker in pdf_workers)
    print(
        f"{LETTERS} letters: queued in {queued - started:.1f} s, rendered in {rendered - queued:.1f} s "
        f"({', '.join(str(len(ids_)) for ids_ in per_worker)} per worker), "
        f"{LETTERS} redeliveries in {redelivered - rendered:.1f} s"
    )
