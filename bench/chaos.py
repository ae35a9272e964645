"""`make chaos`: awards posted over HTTP while a chaos loop kills the processes; nothing may be lost.

    python -m bench.chaos                  # the full run: 400 dossiers, 360 fit in the envelope
    python -m bench.chaos --short          # CI's: 40 dossiers, 36 fit, one kill of each kind
    python -m bench.chaos --seed 1234      # replay a run (the seed is printed at the start)

On this machine: PostgreSQL (a database of its own, `<DATABASE_URL's name>_chaos`, created and
dropped here), a Redis server of the run's own on a free port (it is restarted during the run,
without persistence: what it held is lost, and the sweep must recover it), gunicorn, two pdf
workers, an e-mail worker (which also consumes the default queue, where the sweep runs) and beat,
with config/settings/chaos.py (e-mails by SMTP to a sink in this process, recovery delays in
seconds).

N dossiers in review wait for an award of 150 000 € on a call whose envelope holds exactly M of
them. Concurrent clients, each logged in as a programme admin whose session carries a verified
second factor, post the awards through the real pages: the single decision (recap, then
« Confirmer ») and the grouped decision (recap, then « Confirmer »). Meanwhile a chaos loop sends
SIGKILL to a pdf worker, the e-mail worker, beat and a gunicorn worker, at random, and restarts
Redis once, each restarted after a random delay. A client retries a job after any transport error
or 5xx answer, the whole recap-and-confirm sequence again: a dossier already awarded is refused
by the service the second time, so a retry never awards twice.

Afterwards the run waits for the queues to drain (the sweep included) and checks: exactly M
awards, M × 150 000 € committed, the others refused with the envelope's message, one letter and one
agreement per award (files present, SHA-256 recorded and matching), each e-mail received by the
sink, nothing pending or failed, `envelope_check` clean, every HTTP error explained by a kill.
The result goes to bench/results/chaos/<seed>.json and to its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import hashlib
import html
import http.client
import io
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench.common import (  # noqa: E402
    PROJECT_ROOT,
    STARTUP_TIMEOUT,
    BenchError,
    Context,
    Gunicorn,
    Process,
    celery_worker_command,
    free_port,
    gunicorn,
    http_request,
    session_cookie,
    start_process,
    wait_until,
)

CHAOS_SETTINGS = "config.settings.chaos"
RESULTS_DIR = BENCH_DIR / "results" / "chaos"
BENCHMARKS_MD = BENCH_DIR.parent / "docs" / "benchmarks.md"
SECTION_START = "<!-- chaos:start -->"
SECTION_END = "<!-- chaos:end -->"
AWARD = Decimal("150000")
ENVELOPE_MESSAGE = "L'enveloppe de l'appel n'a plus que"
ALREADY = re.compile(r"ce dossier est «\s*Lauréat\s*»")
KINDS = ("pdf", "email", "beat", "gunicorn")
# A transport error or a 5xx within this many seconds after a kill of what answers (a gunicorn
# worker, Redis) is explained by it.
EXPLAINED_WITHIN = 15.0


@dataclass
class Options:
    dossiers: int = 400
    fit: int = 360
    clients: int = 4
    # Kills of each kind (pdf, email, beat, gunicorn), a random gap apart; Redis is restarted once.
    rounds: int = 4
    gap: tuple[float, float] = (2.0, 8.0)
    seed: int = 0
    drain_timeout: float = 900.0


SHORT: dict[str, Any] = {
    "dossiers": 40,
    "fit": 36,
    "clients": 3,
    "rounds": 1,
    "gap": (0.5, 3.0),
    "drain_timeout": 150.0,
}


# --- The SMTP sink ------------------------------------------------------------------------------


class SmtpSink:
    """Just enough SMTP (RFC 5321) to take every message Django's SMTP backend sends, and keep it."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise BenchError("the SMTP sink did not start")

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._session, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 chaos-sink ESMTP\r\n")
        data: list[bytes] | None = None
        try:
            while line := await reader.readline():
                if data is not None:
                    if line.rstrip(b"\r\n") == b".":
                        self.messages.append(b"".join(data))
                        data = None
                        writer.write(b"250 2.0.0 queued\r\n")
                    else:
                        data.append(line[1:] if line.startswith(b"..") else line)
                    continue
                verb = line[:4].upper()
                if verb == b"EHLO":
                    writer.write(b"250-chaos-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                elif verb == b"DATA":
                    data = []
                    writer.write(b"354 end with <CRLF>.<CRLF>\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:  # HELO, MAIL, RCPT, RSET, NOOP: accepted
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # a worker killed mid-conversation: its message was not taken
        finally:
            writer.close()

    def message_ids(self) -> Counter[str]:
        return Counter(
            str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"] or "")
            for raw in list(self.messages)
        )


# --- The processes ------------------------------------------------------------------------------


class ChaosContext(Context):
    """The bench context, whose child processes use the chaos settings and the sink."""

    smtp_port: int = 0

    def child_env(self, **extra: str) -> dict[str, str]:
        return super().child_env(
            DJANGO_SETTINGS_MODULE=CHAOS_SETTINGS,
            EMAIL_URL=f"smtp://127.0.0.1:{self.smtp_port}",
            **extra,
        )


@dataclass
class Event:
    at: float
    kind: str
    what: str


@dataclass
class Cluster:
    """The run's Redis, gunicorn, workers and beat; what was killed and when."""

    ctx: ChaosContext
    redis_port: int
    server: Gunicorn | None = None
    processes: dict[str, Process] = field(default_factory=dict)
    redis: subprocess.Popen[bytes] | None = None
    events: list[Event] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def note(self, kind: str, what: str) -> None:
        self.events.append(Event(round(time.monotonic() - self.started, 2), kind, what))
        self.ctx.log(f"{kind}: {what}")

    # Redis ---------------------------------------------------------------------------------------

    def redis_start(self) -> None:
        command = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.ctx.work_dir)]
        with (self.ctx.work_dir / "redis.log").open("ab") as log:
            self.redis = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        import redis

        def answers() -> bool:
            client = redis.Redis(port=self.redis_port, socket_connect_timeout=1)
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False
            finally:
                client.close()

        wait_until(answers, "redis-server to answer", STARTUP_TIMEOUT)

    # Workers and beat ----------------------------------------------------------------------------

    def start(self, name: str) -> None:
        if name == "beat":
            command = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"]
            command += ["--schedule", str(self.ctx.work_dir / "beat-schedule")]
            ready = "beat: Starting"
        else:
            queues = ["bench-pdf"] if name.startswith("pdf") else ["bench-email", "bench-default"]
            command = celery_worker_command(f"chaos-{name}", queues)
            ready = " ready."
        log_name = f"{name}-{sum(1 for e in self.events if e.what.startswith(name + ' '))}"
        process = start_process(self.ctx, log_name, command, DJANGO_LOG_LEVEL="INFO")
        self.processes[name] = process
        wait_until(lambda: ready in process.log(), f"{name} to be ready", STARTUP_TIMEOUT, [process])

    def gunicorn_workers(self) -> list[int]:
        assert self.server is not None
        master = self.server.process.process.pid
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == master:
                children.append(int(stat.parent.name))
        return sorted(children)

    def kill(self, kind: str, target: str, delay: float) -> threading.Thread | None:
        """SIGKILL `target` (a process of `kind`); a thread brings it back `delay` seconds later.

        The random choices (target, delay) are made by the caller, in one thread, so that a seed
        replays them.
        """
        if kind == "gunicorn":
            pids = self.gunicorn_workers()
            if not pids:
                return None
            pid = pids[int(target) % len(pids)]
            os.kill(pid, signal.SIGKILL)  # a worker of the gunicorn master started here
            self.note("kill", f"gunicorn worker {pid} (its master starts another at once)")
            return None
        if kind == "redis":
            assert self.redis is not None
            self.redis.kill()
            self.redis.wait(timeout=10)
            self.note("kill", f"redis-server (back in {delay:.1f} s, empty)")
            back = self.redis_start
        else:
            process = self.processes[target]
            os.killpg(process.process.pid, signal.SIGKILL)  # the group started here: main and pool
            process.process.wait(timeout=10)
            self.note("kill", f"{target} (back in {delay:.1f} s)")

            def back() -> None:
                self.start(target)

        def restart() -> None:
            time.sleep(delay)
            back()
            self.note("restart", target)

        thread = threading.Thread(target=restart, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        for process in self.processes.values():
            if process.process.poll() is None:
                process.process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.process.pid, signal.SIGKILL)
                process.process.wait(timeout=10)
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=10)


# --- The clients --------------------------------------------------------------------------------


@dataclass
class Outcomes:
    """What the clients saw, per dossier and per HTTP error."""

    awarded: set[str] = field(default_factory=set)
    envelope: set[str] = field(default_factory=set)
    already: set[str] = field(default_factory=set)
    other: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[float, str, str]] = field(default_factory=list)  # (at, kind, job)
    retries: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ROW = re.compile(r"<tr>\s*<th scope=\"row\">([^<]+)</th>(.*?)</tr>", re.S)


class Client:
    def __init__(self, server: Gunicorn, cookie: tuple[str, str], outcomes: Outcomes, started: float) -> None:
        self.server = server
        self.cookies = {cookie[0]: cookie[1]}
        self.outcomes = outcomes
        self.started = started
        self.token = ""

    def request(self, path: str, data: dict[str, Any] | list[tuple[str, str]] | None = None) -> Any:
        headers = {}
        body = None
        if data is not None:
            body = urlencode(
                [*(data.items() if isinstance(data, dict) else data), ("csrfmiddlewaretoken", self.token)]
            ).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        with self.outcomes.lock:
            self.outcomes.requests += 1
        response = http_request(
            self.server.url(path),
            method="POST" if data is not None else "GET",
            cookies=self.cookies,
            body=body,
            headers=headers,
            timeout=60,
        )
        self.cookies.update(response.cookies)
        if response.status >= 500:
            raise http.client.HTTPException(f"HTTP {response.status}")
        return response

    def csrf(self, path: str) -> None:
        response = self.request(path)
        match = TOKEN.search(response.text())
        if response.status != 200 or match is None:
            raise http.client.HTTPException(f"HTTP {response.status} without a form on {path}")
        self.token = match.group(1)

    def single(self, reference: str, decide: str, page: str) -> dict[str, str]:
        self.csrf(page)
        form = {"decision": "award", "amount": "150000"}
        answer = self.request(decide, form)
        if answer.status == 200 and 'name="confirmer"' in answer.text():
            answer = self.request(decide, {**form, "confirmer": "1"})
        if answer.status == 302:
            # The dossier's page, with the message: the award's success, or a blocking refusal
            # (a dossier already awarded, when this is the retry of a job whose answer was lost).
            location = urlsplit(answer.headers["location"])
            answer = self.request(location.path + (f"?{location.query}" if location.query else ""))
        text = html.unescape(answer.text())
        if f"Le dossier {reference} est lauréat" in text:
            return {reference: "awarded"}
        return {reference: classify(text) if answer.status == 200 else f"other: HTTP {answer.status}"}

    def bulk(self, references: list[str], path: str) -> dict[str, str]:
        self.csrf(path)
        form = [("references", "\n".join(references)), ("decision", "award"), ("amount", "150000")]
        first = self.request(path, form)
        if first.status != 200 or 'name="confirmer"' not in first.text():
            raise http.client.HTTPException(f"HTTP {first.status} without the recap")
        second = self.request(path, [*form, ("confirmer", "1")])
        seen = {}
        for reference, cells in ROW.findall(second.text()):
            cells = html.unescape(cells)
            seen[reference.strip()] = "awarded" if "Fait" in cells else classify(cells)
        missing = [reference for reference in references if reference not in seen]
        if second.status != 200 or missing:
            raise http.client.HTTPException(f"HTTP {second.status}, no result for {missing}")
        return seen


def classify(text: str) -> str:
    if ENVELOPE_MESSAGE in text:
        return "envelope"
    if ALREADY.search(text):  # a retry after an award whose answer was lost
        return "already"
    match = re.search(r"fr-(?:error-text|alert--error)[^>]*>\s*(?:<[^>]+>\s*)*([^<]{1,200})", text)
    return "other: " + (match.group(1).strip() if match else text[:200])


def error_kind(error: BaseException) -> str:
    if isinstance(error, http.client.HTTPException) and str(error).startswith("HTTP "):
        return str(error).split(" without")[0].split(",")[0]
    return type(error).__name__


def client_loop(client: Client, jobs: queue.Queue[tuple[str, list[str]]], paths: dict[str, Any]) -> None:
    outcomes = client.outcomes
    while True:
        try:
            kind, references = jobs.get_nowait()
        except queue.Empty:
            return
        for attempt in range(30):
            try:
                if kind == "single":
                    reference = references[0]
                    seen = client.single(reference, paths["decide"][reference], paths["page"][reference])
                else:
                    seen = client.bulk(references, paths["bulk"])
            except (OSError, http.client.HTTPException) as error:
                with outcomes.lock:
                    outcomes.errors.append((time.monotonic() - client.started, error_kind(error), kind))
                    outcomes.retries += 1
                time.sleep(min(0.5 * 2**attempt, 5))
                continue
            with outcomes.lock:
                for reference, what in seen.items():
                    if what == "awarded":
                        outcomes.awarded.add(reference)
                    elif what == "envelope":
                        outcomes.envelope.add(reference)
                    elif what == "already":
                        outcomes.already.add(reference)
                    else:
                        outcomes.other[reference] = what
            break


# --- The run ------------------------------------------------------------------------------------


def seed_dossiers(options: Options) -> tuple[Any, Any, list[str]]:
    """The call (an envelope for exactly `fit` awards), its dossiers in review, a programme admin."""
    from django.db import transaction
    from django.test.utils import override_settings

    from tests.factories import CallFactory, in_review_application, programme_admin

    # Nobody logs in with a password (the clients' sessions are made directly): the fast hasher the
    # bench settings accept spares the real one's cost for each of the 2 × N users created.
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with override_settings(PASSWORD_HASHERS=fast), transaction.atomic():
        call = CallFactory(envelope=AWARD * options.fit, target_count=options.fit)
        admin = programme_admin()
        references = [in_review_application(call=call)[0].reference for _ in range(options.dossiers)]
    return call, admin, references


def chaos_sessions(admin: Any, ctx: Context, count: int) -> list[tuple[str, str]]:
    """`count` sessions of `admin` with a verified second factor, readable by the processes of the run.

    Made with the chaos settings' secret key and cookie name, which the session's signature and
    the user's session hash depend on, whatever settings this process runs with (the tests'). They
    are read in a subprocess: importing the bench settings here would alter this process's
    DATABASES (config/settings/bench.py changes base's dict in place).
    """
    from django.test.utils import override_settings

    script = "from django.conf import settings as s; print(s.SECRET_KEY); print(s.SESSION_COOKIE_NAME)"
    output = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=PROJECT_ROOT,
        env=ctx.child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    secret_key, cookie_name = output.stdout.strip().splitlines()[-2:]
    with override_settings(SECRET_KEY=secret_key, SESSION_COOKIE_NAME=cookie_name):
        return [session_cookie(admin) for _ in range(count)]


def jobs_for(references: list[str], rng: random.Random) -> list[tuple[str, list[str]]]:
    shuffled = list(references)
    rng.shuffle(shuffled)
    jobs: list[tuple[str, list[str]]] = []
    while shuffled:
        if rng.random() < 0.5:
            jobs.append(("single", [shuffled.pop()]))
        else:
            size = rng.randint(2, 8)
            jobs.append(("bulk", [shuffled.pop() for _ in range(min(size, len(shuffled)))]))
    return jobs


def chaos_loop(cluster: Cluster, rng: random.Random, options: Options) -> None:
    """`rounds` kills of each kind in a random order, a random gap apart, and Redis once.

    Several processes may be down at once; one being restarted is not killed again. The kills start
    with the clients: the first ones hit the posting, the later ones the rendering and the sending.
    """
    plan = [kind for kind in KINDS for _ in range(options.rounds)]
    rng.shuffle(plan)
    plan.insert(rng.randint(1, len(plan)), "redis")
    restarting: dict[str, threading.Thread] = {}
    while plan:
        time.sleep(rng.uniform(*options.gap))
        kind = plan[0]
        if kind in restarting and restarting[kind].is_alive():
            continue  # its last kill is not over yet: wait for the next gap
        plan.pop(0)
        target = kind
        if kind == "pdf":
            target = rng.choice(["pdf1", "pdf2"])
        elif kind == "gunicorn":
            target = str(rng.randrange(100))  # its index among the workers alive then
        thread = cluster.kill(kind, target, rng.uniform(1.0, 5.0))
        if thread is not None:
            restarting[kind] = thread
    for thread in restarting.values():
        thread.join()


SWEEP_LINE = re.compile(r"Sweep re-queued (\d+) documents and (\d+) e-mails")


def sweep_requeued(work_dir: Path) -> dict[str, int]:
    """What the sweeps re-queued, from the logs of the e-mail workers (the default queue's)."""
    documents = emails = 0
    for log_path in work_dir.glob("email-*.log"):
        for match in SWEEP_LINE.finditer(log_path.read_text(encoding="utf-8", errors="replace")):
            documents += int(match.group(1))
            emails += int(match.group(2))
    return {"documents": documents, "emails": emails}


def drained(call: Any, fit: int) -> tuple[bool, dict[str, int]]:
    from grants.models import Grant
    from notifications.models import Document, EmailStatus, OutgoingEmail, Status

    state = {
        "documents_pending": Document.objects.filter(status=Status.PENDING).count(),
        "documents_failed": Document.objects.filter(status=Status.FAILED).count(),
        "emails_waiting": OutgoingEmail.objects.exclude(
            status__in=[EmailStatus.DONE, EmailStatus.FAILED]
        ).count(),
        "emails_failed": OutgoingEmail.objects.filter(status=EmailStatus.FAILED).count(),
        "grants": Grant.objects.filter(application__call=call).count(),
    }
    done = state["documents_pending"] == 0 and state["emails_waiting"] == 0 and state["grants"] >= 0
    return done, state


def run(
    options: Options,
    *,
    database_url: str,
    media_root: Path,
    work_dir: Path,
    redis_port: int | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """The run, on the database Django is configured with in this process (`database_url` for the
    children). Returns its result; raises BenchError when a check fails (result attached)."""
    from django.conf import settings
    from django.core.management import call_command
    from django.urls import reverse

    from applications.models import Application
    from grants.models import Grant
    from notifications.models import Document, OutgoingEmail
    from notifications.services import email_message_id

    rng = random.Random(options.seed)  # noqa: S311 - replayable choices, not secrets
    o = options
    log(f"[chaos] seed {o.seed}: {o.dossiers} dossiers, {o.fit} fit, {o.clients} clients")
    sink = SmtpSink()
    sink.start()
    ctx = ChaosContext(
        database_url=database_url, broker_url="", media_root=media_root, work_dir=work_dir, name="chaos"
    )
    redis_port = redis_port or free_port()
    ctx.broker_url = f"redis://127.0.0.1:{redis_port}/0"
    ctx.smtp_port = sink.port
    cluster = Cluster(ctx=ctx, redis_port=redis_port)
    outcomes = Outcomes()
    result: dict[str, Any] = {"seed": options.seed, "options": options.__dict__.copy()}
    try:
        cluster.redis_start()
        began = time.monotonic()
        call, admin, references = seed_dossiers(options)
        result["seeding_s"] = round(time.monotonic() - began, 1)
        log(f"[chaos] {len(references)} dossiers seeded in {result['seeding_s']} s")
        for name in ("pdf1", "pdf2", "email", "beat"):
            cluster.start(name)
        with gunicorn(ctx, workers=3) as server:
            cluster.server = server
            paths = {
                "bulk": reverse("grants:review-bulk"),
                "decide": {r: reverse("grants:review-decide", kwargs={"reference": r}) for r in references},
                "page": {
                    r: reverse("applications:review-detail", kwargs={"reference": r}) for r in references
                },
            }
            jobs: queue.Queue[tuple[str, list[str]]] = queue.Queue()
            for job in jobs_for(references, rng):
                jobs.put(job)
            clients = [
                Client(server, cookie, outcomes, cluster.started)
                for cookie in chaos_sessions(admin, ctx, options.clients)
            ]
            chaos = threading.Thread(target=chaos_loop, args=(cluster, rng, options), daemon=True)
            posting = time.monotonic()
            threads = [
                threading.Thread(target=client_loop, args=(c, jobs, paths), daemon=True) for c in clients
            ]
            for thread in threads:
                thread.start()
            chaos.start()
            for thread in threads:
                thread.join()
            result["posting_s"] = round(time.monotonic() - posting, 1)
            log(f"[chaos] awards posted in {result['posting_s']} s; waiting for the chaos loop")
            chaos.join()
            for name, process in cluster.processes.items():  # anything that died on its own is a finding
                if process.process.poll() is not None:
                    cluster.note("unexpected exit", name)
                    cluster.start(name)
            calm = time.monotonic()
            log("[chaos] chaos over; waiting for the queues to drain (the sweep included)")
            state: dict[str, int] = {}
            while time.monotonic() - calm < options.drain_timeout:
                done, state = drained(call, options.fit)
                if done:
                    break
                time.sleep(1)
            result["recovery_s"] = round(time.monotonic() - calm, 1)
            result["sweep_requeued"] = sweep_requeued(work_dir)
            result["drain_state"] = state
            log(f"[chaos] drained in {result['recovery_s']} s: {state}")
        call.refresh_from_db()
        checks: list[dict[str, Any]] = []

        def check(name: str, passed: bool, detail: str = "") -> None:
            checks.append({"name": name, "passed": bool(passed), "detail": detail})

        awarded = set(
            Application.objects.filter(call=call, status=Application.Status.AWARDED).values_list(
                "reference", flat=True
            )
        )
        grants = list(Grant.objects.filter(application__call=call).select_related("application"))
        per_dossier = Counter(grant.application.reference for grant in grants)
        check(
            "exactly M awards",
            len(awarded) == options.fit,
            f"{len(awarded)} dossiers awarded, M = {options.fit}",
        )
        check(
            "one grant per award",
            len(grants) == len(awarded) and max(per_dossier.values(), default=1) == 1,
            f"{len(grants)} grants",
        )
        committed = sum((grant.amount + grant.bonus for grant in grants), Decimal("0"))
        check(
            "committed exactly M × 150 000 €",
            call.committed_amount == committed == AWARD * options.fit,
            f"call {call.committed_amount}, grants {committed}",
        )
        others = set(references) - awarded
        check(
            "the others refused with the envelope's message",
            len(others) == options.dossiers - options.fit and others <= outcomes.envelope,
            f"{len(others)} not awarded, {len(others - outcomes.envelope)} without the message",
        )
        check(
            "every award seen by a client (or its retry)",
            awarded <= outcomes.awarded | outcomes.already,
            f"{sorted(awarded - outcomes.awarded - outcomes.already)[:5]}",
        )
        bad_files: list[str] = []
        for document in Document.objects.filter(kind__in=["award-letter", "agreement"]):
            path = Path(settings.MEDIA_ROOT) / document.file.name if document.file else None
            if (
                path is None
                or not path.exists()
                or hashlib.sha256(path.read_bytes()).hexdigest() != document.sha256
            ):
                bad_files.append(f"{document.filename} ({document.status})")
        letter_docs = Document.objects.filter(kind="award-letter").count()
        agreement_docs = Document.objects.filter(kind="agreement").count()
        check(
            "one letter and one agreement per award",
            letter_docs == agreement_docs == len(awarded),
            f"{letter_docs} letters, {agreement_docs} agreements",
        )
        check("files present, SHA-256 recorded and matching", not bad_files, ", ".join(bad_files[:5]))
        received = sink.message_ids()
        emails = list(OutgoingEmail.objects.all())
        lost = [e.key for e in emails if received[email_message_id(e)] == 0]
        doubled = {e.key: received[email_message_id(e)] for e in emails if received[email_message_id(e)] > 1}
        award_emails = [e for e in emails if ":award-letter-email:" in e.key]
        check(
            "one e-mail each, received by the SMTP sink",
            not lost and len(award_emails) == len(awarded),
            f"{len(award_emails)} award e-mails, {len(lost)} lost, {len(doubled)} received twice",
        )
        result["emails_received_twice"] = doubled
        check(
            "nothing pending or failed",
            drained(call, options.fit)[0]
            and not state.get("documents_failed")
            and not state.get("emails_failed"),
            json.dumps(drained(call, options.fit)[1]),
        )
        out = io.StringIO()
        try:
            call_command("envelope_check", stdout=out)
            clean = True
        except SystemExit as exit_:
            clean = exit_.code in (0, None)
        check(
            "envelope_check clean", clean, out.getvalue().strip().splitlines()[-1] if out.getvalue() else ""
        )
        # Every HTTP error explained: after a kill of a gunicorn worker or during Redis's restart.
        kills = [(e.at, e.what) for e in cluster.events if e.kind in {"kill", "restart"}]
        explained: Counter[str] = Counter()
        unexplained: list[str] = []
        for at, kind, job in outcomes.errors:
            cause = next(
                (
                    what
                    for when, what in reversed(kills)
                    if 0 <= at - when <= EXPLAINED_WITHIN and ("gunicorn" in what or "redis" in what)
                ),
                None,
            )
            if cause:
                explained[f"{kind} ({job}) after {cause.split(' (')[0].split(' ')[0]} kill"] += 1
            else:
                unexplained.append(f"{kind} ({job}) at {at:.1f} s")
        check("every HTTP error explained by a kill", not unexplained, "; ".join(unexplained[:5]))
        check(
            "no other answer",
            not outcomes.other,
            json.dumps(dict(list(outcomes.other.items())[:3]), ensure_ascii=False),
        )
        result.update(
            {
                "checks": checks,
                "events": [e.__dict__ for e in cluster.events],
                "kills": dict(Counter(e.what.split(" ")[0] for e in cluster.events if e.kind == "kill")),
                "errors": dict(Counter(kind for _at, kind, _job in outcomes.errors)),
                "errors_explained": dict(explained),
                "requests": outcomes.requests,
                "retries": outcomes.retries,
                "awarded": len(awarded),
                "envelope_refusals": len(outcomes.envelope),
                "already_decided_on_retry": len(outcomes.already),
                "emails_received": sum(received.values()),
            }
        )
        return result
    finally:
        cluster.stop()
        sink.stop()


# --- The report ---------------------------------------------------------------------------------


def listing(counts: dict[str, int], separator: str) -> str:
    return ", ".join(f"{key}{separator}{value}" for key, value in sorted(counts.items()))


def markdown(result: dict[str, Any]) -> str:
    o = result["options"]
    lines = [
        SECTION_START,
        "## Chaos run (`make chaos`)",
        "",
        "Written by `bench/chaos.py` (docs/operations.md explains what it kills and why). "
        f"Run of {result['date']}, seed **{result['seed']}** (`python -m bench.chaos --seed {result['seed']}`"
        f"{' --short' if o['dossiers'] == SHORT['dossiers'] else ''} replays it): {o['dossiers']} dossiers "
        f"ready for an award of 150 000 €, an envelope for {o['fit']}, {o['clients']} clients posting the "
        "single and grouped decisions through their recaps.",
        "",
        "| Figure | Value |",
        "|---|---|",
        f"| Kills (SIGKILL) | {', '.join(f'{k} {v}' for k, v in sorted(result['kills'].items()))} |",
        f"| Requests / retried jobs | {result['requests']} / {result['retries']} |",
        f"| HTTP errors by kind | {listing(result['errors'], ' ') or 'none'} |",
        f"| Errors explained | {listing(result['errors_explained'], ': ') or '-'} |",
        f"| Awards posted in | {result['posting_s']} s |",
        f"| Chaos over → queues drained (the backlog's rendering included) | {result['recovery_s']} s |",
        f"| Re-queued by the sweeps | {result['sweep_requeued']['documents']} documents, "
        f"{result['sweep_requeued']['emails']} e-mails |",
        f"| E-mails received by the sink | {result['emails_received']} "
        f"({len(result['emails_received_twice'])} twice, same Message-ID) |",
        "",
        "| Check | Result | Detail |",
        "|---|---|---|",
    ]
    for c in result["checks"]:
        lines.append(
            f"| {c['name']} | {'passed' if c['passed'] else '**FAILED**'} | {c['detail'].replace('|', '/')} |"
        )
    lines += ["", SECTION_END]
    return "\n".join(lines)


def write_report(result: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{result['seed']}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    text = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else ""
    section = markdown(result)
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        text = head + section + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    BENCHMARKS_MD.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    from bench.run import bench_database_url, create_database, drop_database, fail

    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="40 dossiers, 36 fit, one kill of each kind")
    parser.add_argument("--seed", type=int, default=None, help="replay the run of this seed")
    parser.add_argument("--dossiers", type=int)
    parser.add_argument("--fit", type=int)
    args = parser.parse_args(argv)
    options = Options(**(SHORT if args.short else {}))
    options.seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    if args.dossiers:
        options.dossiers = args.dossiers
    if args.fit:
        options.fit = args.fit
    # Only PostgreSQL is needed: the run starts a Redis server of its own (it restarts it).
    database_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(database_url).scheme not in {"postgres", "postgresql", "pgsql"}:
        fail("the chaos run needs PostgreSQL: set DATABASE_URL=postgres://user:password@host:5432/name.")
    if not shutil.which("redis-server"):
        fail("the chaos run starts its own Redis: install redis-server.")
    base_url, _name = bench_database_url(database_url)
    chaos_url, chaos_name = (
        base_url.removesuffix("_bench") + "_chaos",
        _name.removesuffix("_bench") + "_chaos",
    )
    create_database(database_url, chaos_name)
    work_dir = Path(tempfile.mkdtemp(prefix="fabriques-chaos-"))
    media_root = work_dir / "media"
    media_root.mkdir()
    redis_port = free_port()
    # This process (the seeding queues its receipts) uses the run's own Redis too.
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": CHAOS_SETTINGS,
            "DATABASE_URL": chaos_url,
            "MEDIA_ROOT": str(media_root),
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", verbosity=0, interactive=False)
        result = run(
            options, database_url=chaos_url, media_root=media_root, work_dir=work_dir, redis_port=redis_port
        )
        result["date"] = datetime.now(UTC).isoformat(timespec="seconds")
        path = write_report(result)
        failed = [c for c in result["checks"] if not c["passed"]]
        for c in result["checks"]:
            print(f"[chaos] {'ok    ' if c['passed'] else 'FAILED'} {c['name']}: {c['detail']}")
        print(f"[chaos] seed {options.seed}; result in {path}; logs in {work_dir}")
        return 1 if failed else 0
    finally:
        connections.close_all()
        drop_database(database_url, chaos_name)


if __name__ == "__main__":
    raise SystemExit(main())
