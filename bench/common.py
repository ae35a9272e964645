"""What the benchmarks share: their result, the run's context, statistics, the processes they start
(gunicorn, celery workers), sessions made without a login form, and the HTTP load generator.

A benchmark is a module `bench/bench_<name>.py` with NUMBER (its number in issue 7), TITLE, ORDER
(benchmarks run by increasing ORDER) and `run(ctx: Context) -> dict`. It opens its result with
`result = ctx.result()`, records tables, ratios, checks and notes on it, and returns
`result.as_dict()`. A failed check raises CheckFailed: the figures recorded so far are kept in
bench/results/<name>.json with the error, and `make bench` exits with an error.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_MODULE = "config.settings.bench"
# The queues of config/settings/bench.py: no other worker on the same Redis takes their messages.
PDF_QUEUE = "bench-pdf"
STARTUP_TIMEOUT = 90


class BenchError(Exception):
    """The benchmark could not run (a process did not start, a page did not answer)."""


class CheckFailed(BenchError):
    """A correctness check of a benchmark failed."""


# --- Results ------------------------------------------------------------------------------------


@dataclass
class Result:
    """The figures of one benchmark, as written to bench/results/<name>.json and read by report.py.

    - tables: {"title", "columns", "rows"}, cells already formatted (strings or numbers);
    - ratios: {"name", "value", "limit", "op" ("<=" or ">="), "passed", "unit"}; limit None when the
      ratio is reported without a limit;
    - checks: {"name", "passed", "detail"}, correctness (a failed one raises CheckFailed);
    - figures: raw numbers, for whoever reads the JSON;
    - notes: sentences printed under the benchmark's tables.
    """

    name: str
    number: int
    title: str
    quick: bool = False
    tables: list[dict[str, Any]] = field(default_factory=list)
    ratios: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.tables.append({"title": title, "columns": list(columns), "rows": [list(row) for row in rows]})

    def ratio(self, name: str, value: float, limit: float | None, *, op: str = "<=", unit: str = "×") -> bool:
        if op not in {"<=", ">="}:
            raise ValueError(op)
        passed = True if limit is None else (value <= limit if op == "<=" else value >= limit)
        self.ratios.append(
            {"name": name, "value": round(value, 4), "limit": limit, "op": op, "passed": passed, "unit": unit}
        )
        return passed

    def check(self, name: str, passed: bool, detail: str = "") -> None:
        self.checks.append({"name": name, "passed": bool(passed), "detail": detail})
        if not passed:
            raise CheckFailed(f"{self.name}: {name}" + (f" ({detail})" if detail else ""))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "number": self.number,
            "title": self.title,
            "quick": self.quick,
            "tables": self.tables,
            "ratios": self.ratios,
            "checks": self.checks,
            "figures": self.figures,
            "notes": self.notes,
        }


# --- Statistics ---------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear between the closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --- The run's context --------------------------------------------------------------------------


@dataclass
class Context:
    """What run.py hands to each benchmark: the services, the folders, the data already seeded."""

    database_url: str
    broker_url: str
    media_root: Path
    work_dir: Path
    quick: bool = False
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    state: dict[str, Any] = field(default_factory=dict)
    current: Result | None = None
    name: str = ""
    module: Any = None

    def log(self, message: str) -> None:
        print(f"[bench {self.name or '-'}] {message}", flush=True)

    def result(self) -> Result:
        """The result of the benchmark now running, recorded even if the benchmark fails later."""
        self.current = Result(
            name=self.name,
            number=int(getattr(self.module, "NUMBER", 0)),
            title=str(getattr(self.module, "TITLE", self.name)),
            quick=self.quick,
        )
        return self.current

    def child_env(self, **extra: str) -> dict[str, str]:
        """The environment of a gunicorn or celery process: bench settings, bench database."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            "MEDIA_ROOT": str(self.media_root),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
        env.update(extra)
        return env

    # Data ------------------------------------------------------------------------------------------

    def demo(self) -> dict[str, Any]:
        """The demo data (devtools.demo.seed_all), seeded once per run."""
        if "demo" not in self.state:
            from django.db import transaction

            from devtools.demo import seed_all

            started = time.monotonic()
            self.log("seeding the demo data")
            with transaction.atomic():
                self.state["demo"] = seed_all()
            purge_queues()
            self.state.setdefault("seeding", {})["demo"] = round(time.monotonic() - started, 1)
        return self.state["demo"]

    def ensure_bulk(self, dossiers: int) -> int | None:
        """At least `dossiers` bulk dossiers (devtools.bulk.seed_bulk), or None while it does not exist.

        Called with growing sizes, it seeds only the difference, with a new seed each time; the
        benchmarks run in the order of their ORDER, the small sizes first.
        """
        try:
            from devtools import bulk  # type: ignore[attr-defined]
        except ImportError:
            return None
        seed_bulk: Callable[..., Any] | None = getattr(bulk, "seed_bulk", None)
        if seed_bulk is None:
            return None
        have = int(self.state.get("bulk_dossiers", 0))
        if have >= dossiers:
            return have
        runs = int(self.state.get("bulk_runs", 0))
        started = time.monotonic()
        self.log(f"seeding {dossiers - have} bulk dossiers (seed_bulk)")
        seed_bulk(dossiers=dossiers - have, seed=1 + runs)
        purge_queues()
        # Fresh statistics and visibility maps after a bulk load, as autovacuum would give them
        # later: the plans measured are those of a database in its steady state.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        elapsed = round(time.monotonic() - started, 1)
        self.state["bulk_dossiers"] = dossiers
        self.state["bulk_runs"] = runs + 1
        self.state.setdefault("seeding", {})[f"bulk to {dossiers}"] = elapsed
        return dossiers


# --- Redis queues -------------------------------------------------------------------------------


def bench_queues() -> list[str]:
    """Every queue the bench settings route to (production's, renamed "bench-<queue>")."""
    from django.conf import settings

    queues = {settings.CELERY_TASK_DEFAULT_QUEUE}
    queues.update(route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route)
    return sorted(queues)


def purge_queues(queues: Sequence[str] | None = None) -> int:
    """Empty the bench queues (messages sent while seeding, left from an aborted run)."""
    from config.celery import app

    queues = bench_queues() if queues is None else queues
    removed = 0
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in queues:
            try:
                removed += channel.queue_purge(queue) or 0
            except Exception:  # noqa: S112 - a queue never declared has nothing to purge
                continue
    return removed


# --- Processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # warm shutdown: the task or request at hand finishes
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the group started here, nothing else
        process.wait(timeout=10)


@dataclass
class Process:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"{self.name} exited ({self.process.returncode}):\n{self.log()[-4000:]}")


def start_process(ctx: Context, name: str, command: list[str], **env: str) -> Process:
    log_path = ctx.work_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=ctx.child_env(**env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped with it
        )
    return Process(name=name, process=process, log_path=log_path)


def wait_until(
    condition: Callable[[], bool], what: str, timeout: float, watch: Sequence[Process] = ()
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for process in watch:
            process.alive()
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}\n{p.log()[-3000:]}" for p in watch)
            raise BenchError(f"still waiting for {what} after {timeout:.0f} s\n{logs}")
        time.sleep(0.2)


@dataclass
class Gunicorn:
    process: Process
    port: int
    workers: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def gunicorn(ctx: Context, workers: int | None = None) -> Iterator[Gunicorn]:
    """gunicorn serving config.wsgi with the bench settings, (2 × cores + 1) sync workers by default."""
    workers = workers or 2 * ctx.cores + 1
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--backlog",
        "2048",
        "--timeout",
        "120",
        "--log-level",
        "warning",
    ]
    process = start_process(ctx, f"gunicorn-{port}", command)
    server = Gunicorn(process=process, port=port, workers=workers)
    try:

        def answers() -> bool:
            try:
                return http_request(server.url("/bench/bare/"), timeout=2).status == 200
            except OSError:
                return False

        wait_until(answers, "gunicorn to answer", STARTUP_TIMEOUT, watch=[process])
        yield server
    finally:
        _stop(process.process)


@dataclass
class Workers:
    processes: list[Process]
    queues: list[str]

    def succeeded(self, task_name: str, process: Process | None = None) -> int:
        """How many times the workers (or one of them) logged `task_name` as succeeded."""
        needle = f"{task_name}["
        return sum(
            1
            for one in ([process] if process else self.processes)
            for line in one.log().splitlines()
            if needle in line and "succeeded" in line
        )


# How a documents' worker replaces its pool's children, as the worker-pdf service of
# docker-compose.yml does (tests/test_deployment_files.py holds the two together).
PDF_WORKER_RECYCLING = ("--max-tasks-per-child=1000", "--max-memory-per-child=350000")


def celery_worker_command(name: str, queues: Sequence[str]) -> list[str]:
    """A `celery worker` on `queues`, prefork with --concurrency=1, named `name@<host>`, its children
    replaced as the documents' workers are in production."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        ",".join(queues),
        "-n",
        f"{name}@%h",
        "--pool=prefork",
        "--concurrency=1",
        *PDF_WORKER_RECYCLING,
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]


@contextmanager
def celery_workers(ctx: Context, count: int, queues: Sequence[str] | None = None) -> Iterator[Workers]:
    """`count` separate `celery worker` processes, each with --concurrency=1, on `queues` (all the
    bench queues by default)."""
    queues = bench_queues() if queues is None else queues
    run = uuid.uuid4().hex[:6]
    processes: list[Process] = []
    try:
        for index in range(count):
            name = f"bench{index + 1}-{run}"
            command = celery_worker_command(name, queues)
            processes.append(start_process(ctx, f"worker-{name}", command, DJANGO_LOG_LEVEL="INFO"))
        for process in processes:
            wait_until(
                lambda p=process: " ready." in p.log(),
                f"{process.name} to be ready",
                STARTUP_TIMEOUT,
                [process],
            )
        yield Workers(processes=processes, queues=list(queues))
    finally:
        for process in processes:
            if process.process.poll() is None:
                process.process.send_signal(signal.SIGTERM)
        for process in processes:
            _stop(process.process)


# --- Sessions -----------------------------------------------------------------------------------


def otp_verify(session: Any, user: Any) -> bool:
    """Mark the session as verified by a second factor, when django-otp is installed.

    Instructors and programme admins need a confirmed TOTP device once django_otp is in
    INSTALLED_APPS: one is created for the user (named "bench") and the session says it was used,
    as django_otp.login() does. Without django_otp, nothing to do.
    """
    from django.conf import settings

    if "django_otp" not in settings.INSTALLED_APPS:
        return False
    import django_otp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, name="bench", confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    session[django_otp.DEVICE_ID_SESSION_KEY] = device.persistent_id
    return True


def session_cookie(user: Any) -> tuple[str, str]:
    """A logged-in session for `user`, stored as the login view would: (cookie name, value)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from accounts.middleware import LAST_ACTIVITY_KEY, is_staff_session

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = user._meta.pk.value_to_string(user)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if is_staff_session(user):
        store[LAST_ACTIVITY_KEY] = time.time()
        otp_verify(store, user)
    store.save(must_create=True)
    return settings.SESSION_COOKIE_NAME, str(store.session_key)


# --- HTTP ---------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def _split_url(url: str) -> tuple[str, int, str]:
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port or 80), "/" + path


def http_request(
    url: str,
    *,
    method: str = "GET",
    cookies: dict[str, str] | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
    connection: http.client.HTTPConnection | None = None,
) -> Response:
    host, port, path = _split_url(url)
    own = connection is None
    conn = connection or http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        sent = dict(headers or {})
        if cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        conn.request(method, path, body=body, headers=sent)
        raw = conn.getresponse()
        data = raw.read()
        got: dict[str, str] = {}
        for name, value in raw.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                got[key.strip()] = rest.split(";", 1)[0]
        return Response(
            status=raw.status, headers={k.lower(): v for k, v in raw.getheaders()}, cookies=got, body=data
        )
    finally:
        if own:
            conn.close()


# --- Load generator -----------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- Counts every non-2xx answer (wrk counts only >= 400) and prints the summary as JSON.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, bad, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class LoadResult:
    generator: str
    connections: int
    duration_s: float
    requests: int
    errors: int  # socket errors, timeouts and non-2xx answers
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def load_generator() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def load(
    url: str, *, cookies: dict[str, str] | None, connections: int, duration: float, work_dir: Path
) -> LoadResult:
    """Fire GETs at `url` from `connections` connections for `duration` seconds."""
    if load_generator() == "wrk":
        return _wrk(url, cookies=cookies, connections=connections, duration=duration, work_dir=work_dir)
    return _python_load(url, cookies=cookies, connections=connections, duration=duration)


def _wrk(
    url: str, *, cookies: dict[str, str] | None, connections: int, duration: float, work_dir: Path
) -> LoadResult:
    script = work_dir / "wrk-report.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    threads = max(1, min(os.cpu_count() or 1, connections))
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(duration))}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
    ]
    if cookies:
        command += ["-H", "Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items())]
    command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120, check=False)
    line = next((x for x in output.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if output.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({output.returncode}):\n{output.stdout}\n{output.stderr}")
    data = json.loads(line.removeprefix("BENCHJSON "))
    socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return LoadResult(
        generator="wrk",
        connections=connections,
        duration_s=data["duration_us"] / 1e6,
        requests=data["requests"],
        errors=socket_errors + data["non2xx"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


def _python_load(
    url: str, *, cookies: dict[str, str] | None, connections: int, duration: float
) -> LoadResult:
    """The fallback without wrk: one thread per connection, kept alive while the server allows."""
    host, port, _path = _split_url(url)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    start = threading.Barrier(connections + 1)
    deadline = [0.0]

    def client(index: int) -> None:
        conn: http.client.HTTPConnection | None = None
        start.wait()
        while time.monotonic() < deadline[0]:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=30)
            began = time.perf_counter()
            try:
                response = http_request(url, cookies=cookies, connection=conn)
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                conn.close()
                conn = None
                continue
            latencies[index].append(time.perf_counter() - began)
            if not 200 <= response.status <= 299:
                errors[index] += 1
            if response.headers.get("connection", "").lower() == "close":
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    deadline[0] = began + duration
    start.wait()
    for thread in threads:
        thread.join(timeout=duration + 60)
    elapsed = time.monotonic() - began
    flat = [x for per in latencies for x in per]
    return LoadResult(
        generator="python",
        connections=connections,
        duration_s=elapsed,
        requests=len(flat),
        errors=sum(errors),
        p50_ms=percentile(flat, 50) * 1000,
        p90_ms=percentile(flat, 90) * 1000,
        p99_ms=percentile(flat, 99) * 1000,
        max_ms=max(flat, default=0.0) * 1000,
    )


# --- The machine --------------------------------------------------------------------------------


def _first(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return ""


def machine_info() -> dict[str, str]:
    """The machine and the versions, for the report's header."""
    import celery
    import django
    import weasyprint

    info = {
        "cpu": _first("/proc/cpuinfo", "model name") or platform.processor() or platform.machine(),
        "cores": str(os.cpu_count() or 1),
        "ram": "",
        "os": (_first("/etc/os-release", "PRETTY_NAME=") or platform.system())
        + f" (kernel {platform.release()})",
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery": celery.__version__,
        "weasyprint": weasyprint.__version__,
        "postgresql": "",
        "redis": "",
        "load_generator": load_generator(),
    }
    mem = _first("/proc/meminfo", "MemTotal")
    if mem:
        info["ram"] = f"{int(mem.split()[0]) / 1024 / 1024:.1f} GiB"
    try:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            info["postgresql"] = str(cursor.fetchone()[0])
    except Exception:  # noqa: S110 - the report says "unknown"
        pass
    try:
        import redis

        client = redis.Redis.from_url(os.environ.get("CELERY_BROKER_URL", ""))
        info["redis"] = str(client.info("server").get("redis_version", ""))
        client.close()
    except Exception:  # noqa: S110
        pass
    if info["load_generator"] == "wrk":
        version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        first = (version.stdout or version.stderr).splitlines()
        info["load_generator"] = first[0].split(" Copyright")[0].strip() if first else "wrk"
    else:
        info["load_generator"] = "Python threads + http.client (wrk not installed)"
    return info
