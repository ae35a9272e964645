"""Decisions with real services: the letter and its e-mail through Redis and a worker, the envelope
under concurrent awards on PostgreSQL.

- Nothing twice: a decision's render and send tasks delivered again (as Redis does when a worker
  dies before acknowledging), or a worker killed in the middle of a render, make no second PDF and
  send no second message. The worker's e-mail backend writes files, so the messages that really
  left are counted.
- Broker down: the decision commits anyway, its letter stays pending, and the sweep catches up
  once the broker is back.
- The envelope holds: eight awards at once on an envelope for three, from threads and from
  processes; exactly three pass.

Skipped (reason shown) without DATABASE_URL=postgres://... (and CELERY_BROKER_URL for the tests
with a worker); failing instead with CI=true (see tests/conftest.py).
"""

import email
import email.policy
import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from applications.models import Application, Call
from applications.services.review import assignment_create, eligibility_record
from config.celery import app
from core.formatting import format_money
from grants.models import Grant
from grants.services import application_award, application_refuse
from grants.services.snapshots import drift_alert_key
from grants.tasks.envelope import envelope_check_task
from notifications import services
from notifications.models import Document, OutgoingEmail, Status
from notifications.tasks import document_render_task, email_send_task
from tests.factories import (
    CallFactory,
    grid,
    in_review_application,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)
from tests.integration.test_worker_chain import (
    STARTUP_TIMEOUT,
    Worker,
    _delete_queue,
    _stop,
    pdf_text,
    worker_database_url,
)
from tests.task_queues import TaskQueues

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RENDER = document_render_task.name
SEND = email_send_task.name
CLOSED_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: every publish is refused
SEPARATOR = b"-" * 79 + b"\n"  # written by Django's file-based e-mail backend after each message
AWARD = Decimal("150000")

WORKER_SETTINGS = '''"""Written by tests/integration/test_decisions_chain.py: the test settings, e-mails to files.

config.settings.test sets the locmem backend after base.py has read EMAIL_URL, so EMAIL_URL cannot
change it.
"""

from config.settings.test import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = {mail_dir!r}
'''

# Run instead of `python -m celery` by the kill test: the worker's PDF renderer waits while the
# hold file exists, so that the pool process can be killed in the middle of a render. Patched in
# the main process before the pool forks, so the pool processes inherit it.
HOLDING_WORKER = """
import os
import sys
import time

import django

django.setup()

from notifications import services

real_render_pdf = services.render_pdf
hold = os.environ["IT_HOLD_FILE"]


def held_render_pdf(template_name, context):
    print(f"render started in {os.getpid()}, holding", flush=True)
    deadline = time.monotonic() + 60
    while os.path.exists(hold) and time.monotonic() < deadline:
        time.sleep(0.05)
    return real_render_pdf(template_name, context)


services.render_pdf = held_render_pdf

from celery.__main__ import main

sys.argv = ["celery", *sys.argv[1:]]
sys.exit(main())
"""


# --- A worker whose e-mails are files -----------------------------------------------------------


@dataclass
class Chain:
    """A queue of this test's own, the workers started on it, the folder their e-mails go to."""

    queue: str
    mail_dir: Path
    env: dict[str, str]
    folder: Path
    workers: list[Worker] = field(default_factory=list)

    @property
    def hold_file(self) -> Path:
        return self.folder / "hold"

    def start(self, *, holding: bool = False) -> Worker:
        """Start a prefork worker (concurrency 1) on the queue; wait until it is ready."""
        command = [sys.executable, *(["-c", HOLDING_WORKER] if holding else ["-m", "celery"])]
        command += [
            "-A",
            "config",
            "worker",
            "-Q",
            self.queue,
            "-n",
            f"{self.queue}-{len(self.workers)}@%h",
            "--pool=prefork",
            "--concurrency=1",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ]
        log_path = self.folder / f"worker-{len(self.workers)}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env={**self.env, "IT_HOLD_FILE": str(self.hold_file)},
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the pool child is stopped with it
            )
        worker = Worker(queue=self.queue, process=process, log_path=log_path)
        self.workers.append(worker)
        worker.wait_for(lambda: " ready." in worker.log(), "the worker to be ready", timeout=STARTUP_TIMEOUT)
        return worker

    def messages(self) -> list[EmailMessage]:
        """Every e-mail the workers' backend wrote (one file per connection, messages separated)."""
        found = []
        for path in sorted(self.mail_dir.iterdir()):
            for chunk in path.read_bytes().split(SEPARATOR):
                if chunk.strip():
                    found.append(email.message_from_bytes(chunk, policy=email.policy.default))
        return found


@pytest.fixture
def committed_db(transactional_db, django_db_serialized_rollback) -> None:  # type: ignore[no-untyped-def]
    """Rows committed for real, so that other connections see them; the data of the migrations
    (groups, régions, legal categories...) restored first, as an earlier flush may have removed it.
    """


@pytest.fixture
def chain(_media_root: Path, committed_db: None, tmp_path: Path) -> Iterator[Chain]:
    """A queue and the settings of its workers (e-mails to files); workers stopped at teardown.

    Depends on committed_db so that the workers are stopped before the test database is
    flushed, and read the rows this test commits.
    """
    run = uuid.uuid4().hex[:8]
    queue = f"it-decisions-{run}"
    folder = tmp_path / "chain"
    mail_dir = folder / "mail"
    mail_dir.mkdir(parents=True)
    module = f"decisions_worker_settings_{run}"
    (folder / f"{module}.py").write_text(WORKER_SETTINGS.format(mail_dir=str(mail_dir)), encoding="utf-8")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": module,
        "PYTHONPATH": os.pathsep.join([str(folder), str(PROJECT_ROOT)]),
        "DATABASE_URL": worker_database_url(),
        "MEDIA_ROOT": str(_media_root),
        # A connection closed after each task: none left open when the test database is flushed.
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "DJANGO_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    started = Chain(queue=queue, mail_dir=mail_dir, env=env, folder=folder)
    try:
        yield started
    finally:
        started.hold_file.unlink(missing_ok=True)
        for worker in started.workers:
            _stop(worker.process)
            # Shown by pytest only when the test fails.
            print(f"--- output of a worker on {queue} (exit code {worker.process.returncode}) ---")
            print(worker.log())
        _delete_queue(queue)


@pytest.fixture
def route(
    chain: Chain, monkeypatch: pytest.MonkeyPatch, task_queues: TaskQueues
) -> Iterator[Callable[[], list[str]]]:
    """Call the value once the test's data is built (its receipts rendered, the queues drained):
    from then on the notification tasks of this process go to the chain's queue. Any PDF
    this process renders afterwards is listed in the list it returns, and fails.
    """
    in_process: list[str] = []
    previous = {"task_always_eager": app.conf.task_always_eager, "task_routes": app.conf.task_routes}

    def refuse_render_here(template_name, context):  # type: ignore[no-untyped-def]
        in_process.append(template_name)
        raise AssertionError("rendered by the test process, not by the worker")

    def activate() -> list[str]:
        assert task_queues.sent == [], "the test's data is built and its receipts rendered first"
        monkeypatch.setattr(services, "render_pdf", refuse_render_here)
        app.conf.update(
            task_always_eager=False, task_routes={"notifications.tasks.*": {"queue": chain.queue}}
        )
        return in_process

    try:
        yield activate
    finally:
        app.conf.update(**previous)


# --- Helpers ------------------------------------------------------------------------------------


def task_ids(worker: Worker, task_name: str) -> list[str]:
    """The ids of the tasks of this name the worker received, in order."""
    return re.findall(rf"{re.escape(task_name)}\[([0-9a-f-]+)\] received", worker.log())


def succeeded(worker: Worker, task_name: str, task_id: str = "") -> int:
    """How many times the worker logged a task of this name (and id, if given) as succeeded."""
    needle = f"{task_name}[{task_id}"
    return sum(1 for line in worker.log().splitlines() if needle in line and " succeeded in " in line)


def forget_broker_pools() -> None:
    """Drop the cached producer and connection pools: the next publish connects to the current URL."""
    app.amqp._producer_pool = None
    app._pool = None


def media_files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


def dossier_in_review() -> tuple[Application, User]:
    call = CallFactory(signatory_name="Claire Dupont", signatory_title="La directrice générale déléguée")
    return in_review_application(call=call)


def decide(decision: str, application: Application, reviewer: User) -> tuple[Document, OutgoingEmail]:
    """Award or refuse in a transaction of its own; the letter's row and its e-mail's row."""
    if decision == "award":
        application_award(application=application, amount=AWARD, actor=reviewer)
        kind = "award-letter"
    else:
        application_refuse(
            application=application, reasons="Projet hors du champ de l'appel.", actor=reviewer
        )
        kind = "refusal-letter"
    change = application.status_changes.filter(document__kind=kind).get()
    letter = Document.objects.get(pk=change.document_id)
    message = OutgoingEmail.objects.get(key=letter.key.replace(f":{kind}:", f":{kind}-email:"))
    assert list(message.attachments.all()) == [letter]
    return letter, message


def documents_per_decision(decision: str) -> int:
    """An award also draws up the grant agreement: a second PDF, rendered by the same queue."""
    return 2 if decision == "award" else 1


def settled(letter: Document, message: OutgoingEmail) -> bool:
    """Both done, or an error recorded on one of them: no need to wait any longer."""
    rows = [
        Document.objects.values_list("status", "last_error").get(pk=letter.pk),
        OutgoingEmail.objects.values_list("status", "last_error").get(pk=message.pk),
    ]
    return all(status == Status.DONE for status, _ in rows) or any(error for _, error in rows)


def snapshot(letter: Document, message: OutgoingEmail) -> tuple[object, ...]:
    letter.refresh_from_db()
    message.refresh_from_db()
    return (
        letter.status,
        letter.file.name,
        letter.sha256,
        letter.size,
        letter.rendered_at,
        letter.attempts,
        message.status,
        message.sent_at,
        message.attempts,
    )


def stored(letter: Document) -> bytes:
    with letter.file.open("rb") as handle:
        return handle.read()


def assert_done_once(letter: Document, message: OutgoingEmail, *, render_attempts: int = 1) -> None:
    letter.refresh_from_db()
    message.refresh_from_db()
    assert letter.status == Status.DONE, letter.last_error
    assert message.status == Status.DONE, message.last_error
    assert (letter.attempts, message.attempts) == (render_attempts, 1)
    assert letter.sha256 == hashlib.sha256(stored(letter)).hexdigest()


def assert_one_message_carrying(chain: Chain, application: Application, letter: Document) -> None:
    """Exactly one message left the workers, about this dossier, with the letter's PDF attached."""
    messages = chain.messages()
    assert [application.reference in str(message["Subject"]) for message in messages] == [True]
    attachments = list(messages[0].iter_attachments())
    assert [part.get_filename() for part in attachments] == [letter.filename]
    pdf = attachments[0].get_content()
    assert pdf == stored(letter)
    assert application.reference in pdf_text(pdf)


# --- a. Nothing twice ---------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["award", "refusal"])
@pytest.mark.redis
@pytest.mark.worker
def test_redelivered_render_and_send_tasks_make_no_second_letter_and_send_no_second_email(
    decision: str, chain: Chain, route: Callable[[], list[str]], _media_root: Path, task_queues: TaskQueues
):
    application, reviewer = dossier_in_review()
    task_queues.drain()  # the receipt, rendered and sent in this process
    before = media_files(_media_root)
    in_process = route()
    worker = chain.start()

    letter, message = decide(decision, application, reviewer)
    worker.wait_for(lambda: settled(letter, message), "the letter to be rendered and sent")
    renders = documents_per_decision(decision)
    worker.wait_for(
        lambda: succeeded(worker, RENDER) == renders and succeeded(worker, SEND) == 1, "all tasks logged"
    )
    assert_done_once(letter, message)
    first = snapshot(letter, message)
    assert len(chain.messages()) == 1

    # The same messages again, same task ids and arguments, as Redis redelivers them.
    # The letter is asked for first; an award's agreement comes after it.
    render_id = task_ids(worker, RENDER)[0]
    [send_id] = task_ids(worker, SEND)
    document_render_task.apply_async(args=[letter.pk], task_id=render_id)
    email_send_task.apply_async(args=[message.pk], task_id=send_id)
    worker.wait_for(
        lambda: succeeded(worker, RENDER, render_id) == 2 and succeeded(worker, SEND, send_id) == 2,
        f"the redelivered tasks {render_id} and {send_id} to succeed",
    )

    assert snapshot(letter, message) == first
    new_files = media_files(_media_root) - before
    assert Path(letter.file.path) in new_files and len(new_files) == documents_per_decision(decision)
    assert_one_message_carrying(chain, application, letter)
    assert in_process == []
    assert worker.process.poll() is None, worker.log()


def pool_processes(parent: int) -> list[int]:
    """The processes whose parent is `parent` (a prefork worker's pool), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing bracket.
        if int(stat.rpartition(")")[2].split()[1]) == parent:
            children.append(int(entry.name))
    return children


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the pool process")
def test_a_pool_process_killed_in_the_middle_of_a_render_leaves_one_letter_and_one_email(
    chain: Chain, route: Callable[[], list[str]], _media_root: Path, task_queues: TaskQueues
):
    application, reviewer = dossier_in_review()
    task_queues.drain()  # the receipt, rendered and sent in this process
    before = media_files(_media_root)
    in_process = route()
    chain.hold_file.touch()
    worker = chain.start(holding=True)

    # A refusal: one letter, one render to kill (an award would also render its agreement).
    letter, message = decide("refusal", application, reviewer)
    worker.wait_for(lambda: "holding" in worker.log(), "the render to start")
    [pool] = pool_processes(worker.process.pid)
    assert f"render started in {pool}, holding" in worker.log()
    # The attempt is counted in a transaction of its own before the work, which is rolled back.
    assert Document.objects.get(pk=letter.pk).attempts == 1
    os.kill(pool, signal.SIGKILL)  # the pool process of the worker this test started
    worker.wait_for(lambda: "WorkerLostError" in worker.log(), "the worker to see its pool process die")
    chain.hold_file.unlink()

    worker.wait_for(lambda: settled(letter, message), "the redelivered render and the e-mail")
    worker.wait_for(lambda: succeeded(worker, SEND) == 1, "the e-mail task logged")
    assert_done_once(letter, message, render_attempts=2)
    assert media_files(_media_root) - before == {Path(letter.file.path)}
    assert_one_message_carrying(chain, application, letter)
    assert in_process == []
    assert worker.process.poll() is None, worker.log()


# --- b. Broker down -----------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.worker
def test_with_the_broker_down_the_decision_commits_and_the_sweep_sends_its_letter_later(
    chain: Chain,
    route: Callable[[], list[str]],
    _media_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    task_queues: TaskQueues,
):
    application, reviewer = dossier_in_review()
    task_queues.drain()  # the receipt, rendered and sent in this process
    before = media_files(_media_root)
    assert not Document.objects.filter(status=Status.PENDING).exists()
    assert not OutgoingEmail.objects.filter(status=Status.PENDING).exists()
    in_process = route()

    real_broker = os.environ["CELERY_BROKER_URL"]
    # Celery reads the variable before its configuration: both must point at the closed port.
    monkeypatch.setenv("CELERY_BROKER_URL", CLOSED_BROKER)
    app.conf.broker_url = CLOSED_BROKER
    forget_broker_pools()
    try:
        closed = app.connection_for_write()
        assert (closed.hostname, closed.port) == ("127.0.0.1", 1)
        closed.release()
        with caplog.at_level(logging.ERROR, logger="django.db.backends.base"):
            letter, message = decide("award", application, reviewer)
    finally:
        monkeypatch.setenv("CELERY_BROKER_URL", real_broker)
        app.conf.broker_url = real_broker
        forget_broker_pools()

    # Committed, whatever happened to the tasks.
    application.refresh_from_db()
    call = Call.objects.get(pk=application.call_id)
    assert application.status == Application.Status.AWARDED
    assert (call.committed_amount, call.laureate_count) == (AWARD, 1)
    assert Grant.objects.filter(application=application, status=Grant.Status.ACTIVE).count() == 1
    # Every publish failed (the letter, its e-mail, the agreement), was logged, and left its row pending.
    failures = [record for record in caplog.records if "in on_commit()" in record.getMessage()]
    assert len(failures) == 3, [record.getMessage() for record in caplog.records]
    assert snapshot(letter, message) == (Status.PENDING, "", "", None, None, 0, Status.PENDING, None, 0)

    worker = chain.start()
    assert services.notifications_sweep(now=timezone.now() + timedelta(minutes=10)) == {
        "documents": 2,
        "emails": 1,
    }
    worker.wait_for(lambda: settled(letter, message), "the swept letter to be rendered and sent")
    worker.wait_for(
        lambda: succeeded(worker, SEND) == 1 and succeeded(worker, RENDER) == 2, "the swept tasks logged"
    )

    assert_done_once(letter, message)
    new_files = media_files(_media_root) - before
    assert Path(letter.file.path) in new_files and len(new_files) == 2
    assert_one_message_carrying(chain, application, letter)
    # Nothing is left for a later sweep to send again.
    assert services.notifications_sweep(now=timezone.now() + timedelta(minutes=10)) == {
        "documents": 0,
        "emails": 0,
    }
    assert in_process == []


# --- c. The envelope holds ----------------------------------------------------------------------


@pytest.fixture
def no_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The envelope tests are about money: no PDF rendered, no e-mail sent (rows stay pending)."""
    monkeypatch.setattr(services, "_enqueue_render", lambda document_id: None)
    monkeypatch.setattr(services, "_enqueue_send", lambda email_id: None)


def call_for_three(count: int = 8) -> tuple[Call, User, list[Application]]:
    """An envelope of 450 000 € and `count` dossiers in review asking 150 000 € each, committed."""
    call = CallFactory(envelope=Decimal("450000"), fnt_bonus=Decimal("0"))
    grid(call)
    reviewer = occitanie_instructor()
    dossiers = []
    for _ in range(count):
        application = submitted_application(call=call)
        assignment_create(application=application, instructor=reviewer, actor=reviewer)
        eligibility_record(
            application=application,
            answers={check.pk: (True, "") for check in call.eligibility_checks.all()},
            actor=reviewer,
        )
        application.refresh_from_db()
        assert application.status == Application.Status.IN_REVIEW
        assert sum(application.budget_years.values_list("requested", flat=True)) == AWARD
        dossiers.append(application)
    return call, reviewer, dossiers


def envelope_message() -> str:
    """The refusal each late award gets: nothing left, since the three before it took it all."""
    return (
        f"L'enveloppe de l'appel n'a plus que {format_money(0)} disponibles : {format_money(AWARD)} ne "
        "peuvent pas être engagés."
    )


def assert_three_laureates_and_a_full_envelope(call: Call, outcomes: dict[int, tuple[str, object]]) -> None:
    crashed = {pk: outcome for pk, outcome in outcomes.items() if outcome[0] not in {"awarded", "refused"}}
    assert crashed == {}
    assert len(outcomes) == 8
    awarded = sorted(pk for pk, (outcome, _) in outcomes.items() if outcome == "awarded")
    refused = {pk: detail for pk, (outcome, detail) in outcomes.items() if outcome == "refused"}
    assert len(awarded) == 3
    assert len(refused) == 5
    # Each failure is the envelope's, nothing else (no other ValidationError, no constraint error).
    assert list(refused.values()) == [{"amount": [envelope_message()]}] * 5

    call.refresh_from_db()
    assert call.committed_amount == Decimal("450000")
    assert call.laureate_count == 3
    active = Grant.objects.filter(call=call, status=Grant.Status.ACTIVE)
    assert sorted(active.values_list("application_id", flat=True)) == awarded
    assert sum(grant.committed for grant in active) == call.committed_amount
    statuses = dict(Application.objects.filter(call=call).values_list("pk", "status"))
    assert sorted(pk for pk, status in statuses.items() if status == Application.Status.AWARDED) == awarded
    assert sorted(pk for pk, status in statuses.items() if status == Application.Status.IN_REVIEW) == sorted(
        refused
    )
    # One letter per laureate, none for the refused awards: their transactions were rolled back.
    assert Document.objects.filter(kind="award-letter").count() == 3
    # The counters agree with the grants and tranches, as `manage.py envelope_check` recounts them.
    check = envelope_check("--call", call.slug)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"Appel « {call.slug} » sans écart : engagé {format_money(Decimal('450000'))}" in check.stdout


def envelope_check(*args: str) -> subprocess.CompletedProcess[str]:
    """`manage.py envelope_check` in its own process, against this run's test database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": worker_database_url(),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "envelope_check", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_eight_awards_from_eight_threads_at_once_commit_exactly_three_on_an_envelope_for_three(
    committed_db: None, no_tasks: None
):
    call, reviewer, dossiers = call_for_three()
    barrier = threading.Barrier(len(dossiers))
    outcomes: dict[int, tuple[str, object]] = {}

    def award(application_id: int) -> None:
        # Each thread has its own connection (django.db.connection is per thread), closed at the end.
        try:
            application = Application.objects.get(pk=application_id)
            actor = User.objects.get(pk=reviewer.pk)
            barrier.wait(timeout=60)
            try:
                application_award(application=application, amount=AWARD, actor=actor)
            except ValidationError as error:
                outcomes[application_id] = ("refused", error.message_dict)
            else:
                outcomes[application_id] = ("awarded", None)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            outcomes[application_id] = ("crashed", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=award, args=(application.pk,)) for application in dossiers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    assert_three_laureates_and_a_full_envelope(call, outcomes)


# Run by each process of the test below: set up Django on the test database, say "ready", wait
# for the go file, award, print the outcome as JSON.
AWARD_IN_A_PROCESS = """
import json
import os
import sys
import time
from decimal import Decimal

import django

django.setup()

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F

from accounts.models import User
from applications.models import Application
from grants.services import application_award
from notifications import services

services._enqueue_render = lambda document_id: None
services._enqueue_send = lambda email_id: None
application_id, actor_id, amount, go = sys.argv[1:]
application = Application.objects.get(pk=int(application_id))
actor = User.objects.get(pk=int(actor_id))
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
try:
    application_award(application=application, amount=Decimal(amount), actor=actor)
except ValidationError as error:
    print(json.dumps(["refused", error.message_dict]), flush=True)
else:
    print(json.dumps(["awarded", None]), flush=True)
connection.close()
"""


def test_eight_awards_from_eight_processes_at_once_commit_exactly_three_on_an_envelope_for_three(
    committed_db: None, no_tasks: None, tmp_path: Path, _media_root: Path
):
    call, reviewer, dossiers = call_for_three()
    go = tmp_path / "go"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": worker_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "MEDIA_ROOT": str(_media_root),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    processes = {
        application.pk: subprocess.Popen(
            [
                sys.executable,
                "-c",
                AWARD_IN_A_PROCESS,
                str(application.pk),
                str(reviewer.pk),
                str(AWARD),
                str(go),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for application in dossiers
    }
    outcomes: dict[int, tuple[str, object]] = {}
    try:
        for pk, process in processes.items():
            assert process.stdout is not None
            line = process.stdout.readline().decode()  # blocks until set up, or until it died
            if line.strip() != "ready":
                outcomes[pk] = ("crashed", line + process.communicate(timeout=60)[1].decode())
        go.touch()  # all of them set up and connected: let them go together
        for pk, process in processes.items():
            if pk in outcomes:
                continue
            stdout, stderr = process.communicate(timeout=120)
            lines = stdout.decode().strip().splitlines()
            if process.returncode != 0 or not lines:
                outcomes[pk] = ("crashed", f"exit {process.returncode}: {stderr.decode()}")
            else:
                outcome, detail = json.loads(lines[-1])
                outcomes[pk] = (outcome, detail)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()  # one of the processes this test started
                process.wait(timeout=10)

    assert_three_laureates_and_a_full_envelope(call, outcomes)


def test_the_envelope_check_exits_1_on_a_drift_and_the_daily_task_alerts_the_admins(
    committed_db: None, no_tasks: None
):
    call, reviewer, [application] = call_for_three(count=1)
    application_award(application=application, amount=AWARD, actor=reviewer)
    assert envelope_check("--call", call.slug).returncode == 0
    # A write around the envelope module, as a faulty script would make it.
    Call.objects.filter(pk=call.pk).update(laureate_count=F("laureate_count") + 1)
    check = envelope_check()
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"Écart sur l'appel « {call.slug} »" in check.stdout
    assert "Lauréats : le compteur indique 2, le nombre de subventions en cours est 1." in check.stdout
    admin = programme_admin(email="pilotage@anct.gouv.fr")
    assert envelope_check_task() == {"checked": Call.objects.count(), "alerts": 1}
    alert = OutgoingEmail.objects.get(key=drift_alert_key(call, timezone.localdate()))
    assert admin.email in alert.to
    assert "Lauréats : le compteur indique 2, le nombre de subventions en cours est 1." in alert.body
