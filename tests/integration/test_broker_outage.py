"""A broker outage under a busy e-mail worker: Redis stopped, then started again.

The test runs a Redis server of its own (on a free port, in a temporary folder, with its append-only
file so that a restart keeps the queues, as a production broker does), so that stopping it touches
no other test or worker. An e-mail worker (prefork, concurrency 1, e-mails written to files) holds
e-mails that wait for their PDF: their tasks look again every few seconds (`self.retry` with a
countdown), so the worker is publishing and holding delayed messages when the broker goes away.

The worker must survive the outage: it reconnects once Redis is back, and every e-mail is sent,
once, when its PDF is rendered.

Skipped (reason shown) without DATABASE_URL=postgres://..., CELERY_BROKER_URL (the marker's rule,
see tests/conftest.py) or the `redis-server` program.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest
from django.db import transaction
from django.utils import timezone

from config.celery import app
from notifications import services
from notifications.models import Document, OutgoingEmail, Status
from notifications.services import document_request, email_queue
from tests.integration.test_decisions_chain import (
    WORKER_SETTINGS,
    Chain,
    committed_db,  # noqa: F401  (a fixture)
    forget_broker_pools,
)
from tests.integration.test_worker_chain import Worker, worker_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker, pytest.mark.slow]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server")
# As long as the outage observed in production; the worker used to exit within it.
OUTAGE_SECONDS = float(os.environ.get("IT_BROKER_OUTAGE_SECONDS", "30"))
EMAILS = 3
# The test settings run tasks in process; here a retry must go through the broker, as in production.
OUTAGE_WORKER_SETTINGS = WORKER_SETTINGS + "\nCELERY_TASK_ALWAYS_EAGER = False\n"


@dataclass
class RedisServer:
    """A redis-server process of this test's own."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with (self.folder / "redis.log").open("ab") as log:
            self.process = self._spawn(log)
        deadline = time.monotonic() + 20
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start: {(self.folder / 'redis.log').read_text()}")
            time.sleep(0.1)

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                str(REDIS_SERVER),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                # The queues survive the restart, as on a broker with persistence.
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()  # the process this fixture started, nothing else
            self.process.wait(timeout=10)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("needs the redis-server program")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(port=free_port(), folder=folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def outage_chain(
    own_redis: RedisServer,
    _media_root: Path,
    committed_db: None,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Chain, Chain]]:
    """Two queues on the test's own Redis: the e-mails' (`email`) and the PDFs' (`pdf`).

    This process publishes to that Redis too, routing each notification task to its queue. The
    workers are stopped at teardown, before the Redis server and the test database.
    """
    run = uuid.uuid4().hex[:8]
    folder = tmp_path / "chain"
    mail_dir = folder / "mail"
    mail_dir.mkdir(parents=True)
    module = f"outage_worker_settings_{run}"
    (folder / f"{module}.py").write_text(
        OUTAGE_WORKER_SETTINGS.format(mail_dir=str(mail_dir)), encoding="utf-8"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": module,
        "PYTHONPATH": os.pathsep.join([str(folder), str(PROJECT_ROOT)]),
        "DATABASE_URL": worker_database_url(),
        "MEDIA_ROOT": str(_media_root),
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": own_redis.url,
        "DJANGO_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    emails = Chain(queue=f"it-outage-email-{run}", mail_dir=mail_dir, env=env, folder=folder)
    # A folder of its own for the logs of the pdf worker; the settings module is found through env.
    pdf_folder = tmp_path / "pdf-chain"
    pdf_folder.mkdir()
    pdfs = Chain(queue=f"it-outage-pdf-{run}", mail_dir=mail_dir, env=env, folder=pdf_folder)

    previous = {
        "task_always_eager": app.conf.task_always_eager,
        "task_routes": app.conf.task_routes,
        "broker_url": app.conf.broker_url,
    }
    monkeypatch.setenv("CELERY_BROKER_URL", own_redis.url)
    app.conf.update(
        task_always_eager=False,
        broker_url=own_redis.url,
        task_routes={
            "notifications.tasks.document_render_task": {"queue": pdfs.queue},
            "notifications.tasks.email_send_task": {"queue": emails.queue},
        },
    )
    forget_broker_pools()
    try:
        yield emails, pdfs
    finally:
        for worker in [*emails.workers, *pdfs.workers]:
            _stop_worker(worker)
            print(f"--- output of a worker (exit code {worker.process.returncode}) ---")
            print(worker.log())
        app.conf.update(**previous)
        forget_broker_pools()


def _stop_worker(worker: Worker) -> None:
    if worker.process.poll() is not None:
        return
    worker.process.send_signal(signal.SIGTERM)
    try:
        worker.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.process.pid, signal.SIGKILL)  # the group its fixture created
        worker.process.wait(timeout=10)


def queue_emails_waiting_for_their_pdf(count: int) -> list[OutgoingEmail]:
    rows = []
    for number in range(count):
        reference = f"OUTAGE-{uuid.uuid4().hex[:8].upper()}"
        with transaction.atomic():
            document = document_request(
                key=f"specimen:{reference}",
                kind="specimen",
                template_name="pdf/specimen.html",
                context={"reference": reference, "generated_at": "04/12/2026 10:15"},
                filename=f"specimen-{number}.pdf",
            )
            rows.append(
                email_queue(
                    key=f"specimen-email:{reference}",
                    to=["porteur@example.org"],
                    subject=f"Document {reference}",
                    body="Le document est joint.",
                    attachments=[document],
                )
            )
    return rows


def test_the_email_worker_survives_a_broker_outage_and_then_sends_each_email_once(
    outage_chain: tuple[Chain, Chain], own_redis: RedisServer
):
    emails, pdfs = outage_chain
    worker = emails.start()
    rows = queue_emails_waiting_for_their_pdf(EMAILS)

    # The worker is busy: each e-mail has looked for its PDF and asked to be retried later.
    worker.wait_for(
        lambda: sum(1 for line in worker.log().splitlines() if " retry: " in line) >= EMAILS,
        "the e-mails to wait for their PDF",
    )
    assert (
        OutgoingEmail.objects.filter(pk__in=[row.pk for row in rows], status=Status.PENDING).count() == EMAILS
    )

    own_redis.stop()
    stopped_at = time.monotonic()
    while time.monotonic() - stopped_at < OUTAGE_SECONDS:
        assert worker.process.poll() is None, f"The worker exited during the outage:\n{worker.log()}"
        time.sleep(0.5)
    own_redis.start()
    forget_broker_pools()

    # Back: the PDFs are rendered by their own worker.
    pdf_worker = pdfs.start()
    ids = [row.pk for row in rows]
    pdf_worker.wait_for(
        lambda: Document.objects.filter(emails__pk__in=ids, status=Status.DONE).count() == EMAILS,
        "the PDFs to be rendered",
    )
    # The delayed messages the e-mail worker held when Redis went away stay unacknowledged in
    # Redis until the visibility timeout: the sweep (run by beat every 5 minutes) re-queues the
    # e-mails still pending, as after any outage. Tasks are idempotent, so a later redelivery of
    # those messages sends nothing.
    assert worker.process.poll() is None, worker.log()
    assert services.notifications_sweep(now=timezone.now() + timedelta(minutes=10))["emails"] == EMAILS

    def all_sent() -> bool:
        return OutgoingEmail.objects.filter(pk__in=ids, status=Status.DONE).count() == EMAILS

    worker.wait_for(all_sent, "the e-mails to be sent after the outage")
    assert worker.process.poll() is None, worker.log()
    assert "Unrecoverable error" not in worker.log()
    assert Document.objects.filter(emails__pk__in=ids, status=Status.DONE).count() == EMAILS
    for row in OutgoingEmail.objects.filter(pk__in=ids):
        assert row.attempts == 1, (row.pk, row.attempts, row.last_error)
        assert row.sent_at is not None and row.sent_at <= timezone.now()
    subjects = sorted(str(message["Subject"]) for message in emails.messages())
    assert subjects == sorted(row.subject for row in rows)
    # Nothing is left for a later sweep to send again.
    assert services.notifications_sweep(now=timezone.now() + timedelta(minutes=10)) == {
        "documents": 0,
        "emails": 0,
    }
