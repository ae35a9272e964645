"""docker-compose.yml and the Dockerfile checked against the code and the settings they run.

No Docker is needed: the files are parsed, the modules they name are imported, the commands they
run are parsed by their own programs (gunicorn --check-config, celery --help) and the health check
scripts are run against stand-ins.
"""

import ast
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import warnings
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from celery.beat import Scheduler
from django.conf import settings
from django.urls import resolve

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"

# One worker service per queue of CELERY_TASK_ROUTES (docs/operations.md).
WORKERS = ("worker", "worker-pdf", "worker-email", "worker-reports")
LONG_RUNNING = ("db", "redis", "web", *WORKERS, "beat")
APP_SERVICES = ("migrate", "web", *WORKERS, "beat")
WEASYPRINT_PACKAGES = (
    "libpango-1.0-0",
    "libpangoft2-1.0-0",
    "libharfbuzz-subset0",
    "libharfbuzz0b",
    "fonts-dejavu-core",
    "fonts-liberation",
    "shared-mime-info",
)
SUBPROCESS_TIMEOUT = 180


# --- Helpers ------------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def _services() -> dict[str, dict[str, Any]]:
    services = _compose().get("services")
    assert isinstance(services, dict), "docker-compose.yml has no services"
    return services


def _argv(command: str | list[Any]) -> list[str]:
    """A compose command (list, or string split like a shell without running one) as argv."""
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def _command(service: str) -> list[str]:
    definition = _services()[service]
    assert "command" in definition, f"service {service} has no command"
    return _argv(definition["command"])


def _option(argv: list[str], *names: str) -> str | None:
    """The value of an option given as `-Q x`, `-Qx`, `--queues x` or `--queues=x`."""
    for index, token in enumerate(argv):
        for name in names:
            if token == name:
                assert index + 1 < len(argv), f"{name} without a value in {argv}"
                return argv[index + 1]
            if name.startswith("--") and token.startswith(name + "="):
                return token[len(name) + 1 :]
            if not name.startswith("--") and token.startswith(name) and len(token) > len(name):
                return token[len(name) :]
    return None


def _healthcheck_argv(service: str) -> list[str]:
    """The health check as the container runs it: `$$` is compose's escape for a literal `$`."""
    test = _services()[service]["healthcheck"]["test"]
    if isinstance(test, str):
        return ["CMD-SHELL", test.replace("$$", "$")]
    return [str(part).replace("$$", "$") for part in test]


def _healthcheck_python(service: str) -> str:
    argv = _healthcheck_argv(service)
    assert argv[:3] == ["CMD", "python", "-c"], f"{service}: expected a `python -c` health check, got {argv}"
    return argv[3]


def _mounts(service: str) -> dict[str, str]:
    """Target path -> source (volume name or host path) of a service's volumes."""
    mounts: dict[str, str] = {}
    for volume in _services()[service].get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume.get("source", "")
        else:
            source, _, rest = str(volume).partition(":")
            mounts[rest.split(":")[0]] = source
    return mounts


def _is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "$")) and "/" not in source


def _duration_seconds(value: str | int) -> float:
    """A compose duration: `200s`, `1m30s`, `1h`, or a bare number of seconds."""
    if isinstance(value, int):
        return float(value)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(value))
    assert parts and "".join(n + u for n, u in parts) == str(value), f"not a compose duration: {value!r}"
    factor = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    return sum(float(number) * factor[unit] for number, unit in parts)


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    assert not current, "the Dockerfile ends with a line continuation"
    return instructions


def _dockerfile_env() -> dict[str, str]:
    values: dict[str, str] = {}
    for keyword, arguments in _dockerfile():
        if keyword == "ENV":
            for token in shlex.split(arguments):
                name, separator, value = token.partition("=")
                assert separator, f"use the ENV NAME=value form: {arguments}"
                values[name] = value
    return values


def _dockerfile_runs() -> list[str]:
    return [arguments for keyword, arguments in _dockerfile() if keyword == "RUN"]


def _collectstatic_build_values() -> dict[str, str]:
    """The variables the image's collectstatic RUN sets inline (the production settings need them)."""
    runs = [run for run in _dockerfile_runs() if "collectstatic" in run]
    assert len(runs) == 1, "the image must collect the static files at build time"
    tokens = shlex.split(runs[0].split("&&")[0])
    assignments = {}
    while tokens and re.fullmatch(r"[A-Z][A-Z0-9_]*=.*", tokens[0]):
        name, _, value = tokens.pop(0).partition("=")
        assignments[name] = value
    assert tokens == ["python", "manage.py", "collectstatic", "--noinput"], tokens
    return assignments


def _image_settings() -> dict[str, Any]:
    """INSTALLED_APPS and the management commands of the settings the image runs, in a subprocess:
    the image's ENV (production settings) and the values of its collectstatic RUN, nothing else."""
    script = (
        "import json, django; django.setup(); "
        "from django.conf import settings; from django.core.management import get_commands; "
        "print(json.dumps({'settings': settings.SETTINGS_MODULE, 'apps': list(settings.INSTALLED_APPS), "
        "'commands': sorted(get_commands())}))"
    )
    result = _run([sys.executable, "-c", script], **_dockerfile_env(), **_collectstatic_build_values())
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _dockerfile_chowns(path: str) -> bool:
    """Whether a RUN of the Dockerfile gives `path` to another owner than root."""
    for run in _dockerfile_runs():
        for command in re.split(r"&&|;", run):
            tokens = shlex.split(command)
            if tokens[:1] == ["chown"] and path in [token.rstrip("/") for token in tokens[2:]]:
                return tokens[1].split(":")[0] not in {"root", "0"}
    return False


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2).strip().strip("\"'")
    return values


def _config_variables() -> set[str]:
    """Every environment variable named in config/ (to keep the caller's out of subprocesses)."""
    names: set[str] = set()
    for path in (ROOT / "config").rglob("*.py"):
        names.update(re.findall(r"""\(\s*["']([A-Z][A-Z0-9_]*)["']""", path.read_text(encoding="utf-8")))
    return names


def _subprocess_env(**values: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in _config_variables()}
    environment.update(values)
    return environment


def _run(argv: list[str], **values: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=ROOT,
        env=_subprocess_env(**values),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


# --- docker-compose.yml: services, health checks, ordering --------------------------------------


def _worker_services() -> list[str]:
    """The services that run a `celery worker`."""
    return [
        name
        for name, definition in _services().items()
        if _argv(definition.get("command", []))[:1] == ["celery"] and "worker" in _argv(definition["command"])
    ]


def _queues(service: str) -> set[str]:
    queues = _option(_command(service), "-Q", "--queues")
    assert queues, f"{service}: a worker must name its queues with -Q"
    return {queue.strip() for queue in queues.split(",")}


def _project_tasks() -> dict[str, Any]:
    """Every task of the project's apps, by name, as the workers register them."""
    from config.celery import app

    app.loader.import_default_modules()
    apps = {app_name for app_name in settings.INSTALLED_APPS if (ROOT / app_name / "__init__.py").is_file()}
    return {name: task for name, task in app.tasks.items() if name.split(".")[0] in apps}


def _queue_of(task_name: str) -> str:
    from config.celery import app

    return str(app.amqp.router.route({}, task_name, args=(), kwargs={})["queue"].name)


def test_compose_declares_the_services_and_the_migrate_step() -> None:
    services = _services()
    missing = {*LONG_RUNNING, "migrate"} - set(services)
    assert not missing, f"docker-compose.yml lacks the services {sorted(missing)}"


def test_every_long_running_service_has_a_healthcheck() -> None:
    # Only a one-shot service may go without: its exit status is its health, and the services
    # that need it wait for service_completed_successfully. That is `migrate`, and only it.
    services = _services()
    one_shot = {
        name
        for name, definition in services.items()
        if definition.get("restart") == "no"
        and any(
            isinstance(other.get("depends_on"), dict)
            and other["depends_on"].get(name, {}).get("condition") == "service_completed_successfully"
            for other in services.values()
        )
    }
    assert one_shot == {"migrate"}, f"unexpected one-shot services: {sorted(one_shot)}"
    for name, definition in services.items():
        if name in one_shot:
            continue
        healthcheck = definition.get("healthcheck")
        assert isinstance(healthcheck, dict), f"service {name} has no healthcheck"
        assert not healthcheck.get("disable"), f"service {name} disables its healthcheck"
        test = healthcheck.get("test")
        assert test and test != ["NONE"], f"service {name} has an empty healthcheck"
        if isinstance(test, list):
            assert test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, f"{name}: malformed healthcheck {test}"


def test_migrate_runs_once_before_the_application() -> None:
    services = _services()
    migrate = services["migrate"]
    assert _command("migrate") == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate.get("restart") == "no", "migrate must not be restarted once done"
    assert migrate.get("depends_on", {}).get("db", {}).get("condition") == "service_healthy"
    needs_all = {
        "db": "service_healthy",
        "redis": "service_healthy",
        "migrate": "service_completed_successfully",
    }
    expected = {
        "web": needs_all,
        **{worker: needs_all for worker in _worker_services()},
        "beat": {"redis": "service_healthy", "migrate": "service_completed_successfully"},
    }
    for service, dependencies in expected.items():
        depends_on = services[service].get("depends_on")
        assert isinstance(depends_on, dict), f"{service}: depends_on must use the long form with conditions"
        for dependency, condition in dependencies.items():
            actual = depends_on.get(dependency, {}).get("condition")
            assert actual == condition, f"{service} must wait for {dependency} ({condition}), not {actual}"


def test_redis_never_evicts_and_persists() -> None:
    argv = _command("redis")
    assert argv[0] == "redis-server"
    assert _option(argv, "--maxmemory-policy") == "noeviction", f"redis must run with noeviction: {argv}"
    assert _option(argv, "--appendonly") == "yes", f"redis must run with appendonly: {argv}"
    assert _services()["redis"]["image"].startswith("redis:7")


def test_db_is_postgres_15_with_a_volume() -> None:
    db = _services()["db"]
    assert db["image"].startswith("postgres:15")
    assert _mounts("db").get("/var/lib/postgresql/data"), "the database must live in a volume"
    assert "pg_isready" in " ".join(_healthcheck_argv("db"))


# --- docker-compose.yml: the commands point at code that exists ---------------------------------


def test_gunicorn_serves_an_application_that_exists() -> None:
    argv = _command("web")
    assert argv[0] == "gunicorn"
    targets = [token for token in argv[1:] if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", token)]
    assert len(targets) == 1, f"expected one module:attribute in {argv}"
    module_name, attribute = targets[0].split(":")
    assert module_name == settings.WSGI_APPLICATION.rsplit(".", 1)[0]
    # config.wsgi defaults to the production settings, but pytest-django has already set the
    # test settings; a checkout has no collected static files, which WhiteNoise warns about.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
        module = importlib.import_module(module_name)
    application = getattr(module, attribute, None)
    assert callable(application), f"{targets[0]} is not a WSGI callable"


def test_gunicorn_accepts_the_command_line() -> None:
    # --check-config parses every option and loads the application, then exits.
    argv = _command("web")
    result = _run(
        [sys.executable, "-m", "gunicorn", *argv[1:], "--check-config"],
        DJANGO_SETTINGS_MODULE="config.settings.test",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_web_port_matches_the_image_and_the_healthcheck() -> None:
    bind = _option(_command("web"), "--bind", "-b")
    assert bind is not None, "gunicorn must bind explicitly"
    port = bind.rsplit(":", 1)[1]
    exposed = [arguments for keyword, arguments in _dockerfile() if keyword == "EXPOSE"]
    assert exposed == [port], f"the Dockerfile must EXPOSE {port}, not {exposed}"
    assert f"127.0.0.1:{port}/healthz/ready" in _healthcheck_python("web")
    published = [str(p) for p in _services()["web"].get("ports", [])]
    assert all(p.endswith(f":{port}") for p in published), published


def test_celery_commands_load_the_project_app() -> None:
    import config.celery

    assert sorted(_worker_services()) == sorted(WORKERS)
    for service in (*WORKERS, "beat"):
        argv = _command(service)
        assert argv[0] == "celery", f"{service} must run celery: {argv}"
        app_name = _option(argv, "-A", "--app")
        assert app_name == "config", f"{service}: celery -A {app_name}"
        app = find_app(app_name)
        assert isinstance(app, Celery), f"celery -A {app_name} finds {app!r}, not a Celery app"
        assert app is config.celery.app
    assert all("worker" in _command(service) for service in WORKERS)
    assert "beat" in _command("beat")


def test_worker_queues_are_the_routed_queues() -> None:
    routes = settings.CELERY_TASK_ROUTES
    assert isinstance(routes, dict), "CELERY_TASK_ROUTES is expected to be a mapping"
    expected = {route["queue"] for route in routes.values()} | {settings.CELERY_TASK_DEFAULT_QUEUE}
    consumed: set[str] = set()
    for name in _worker_services():
        listed = _queues(name)
        assert listed <= expected, f"{name} consumes queues nothing is routed to: {listed - expected}"
        consumed |= listed
    assert consumed == expected, f"queues without a worker: {sorted(expected - consumed)}"


def test_each_queue_has_a_worker_service_of_its_own() -> None:
    # A burst on one queue (a thousand letters) must never hold another (the e-mails).
    owners: dict[str, list[str]] = {}
    for name in _worker_services():
        assert len(_queues(name)) == 1, f"{name} consumes several queues: {sorted(_queues(name))}"
        owners.setdefault(next(iter(_queues(name))), []).append(name)
    assert all(len(services) == 1 for services in owners.values()), owners
    assert {owners[queue][0] for queue in ("pdf", "email", "reports", "default")} == set(WORKERS)


def test_every_task_is_consumed_by_a_worker() -> None:
    tasks = _project_tasks()
    assert len(tasks) >= 6, sorted(tasks)
    consumed = set().union(*(_queues(name) for name in _worker_services()))
    orphans = {name: _queue_of(name) for name in tasks if _queue_of(name) not in consumed}
    assert not orphans, f"tasks routed to a queue no worker consumes: {orphans}"


@pytest.mark.parametrize("service", [*WORKERS, "beat"])
def test_celery_accepts_the_command_line(service: str) -> None:
    # click rejects an unknown option before it handles --help.
    argv = _command(service)
    result = _run(
        [sys.executable, "-m", "celery", *argv[1:], "--help"], DJANGO_SETTINGS_MODULE="config.settings.test"
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", WORKERS)
def test_worker_healthcheck_pings_this_worker(service: str) -> None:
    argv = _healthcheck_argv(service)
    assert argv[0] == "CMD-SHELL"
    command = shlex.split(argv[1])
    assert command[:5] == ["celery", "-A", "config", "inspect", "ping"], command
    node = _option(_command(service), "-n", "--hostname")
    assert node == f"{service}@%h", f"the node name of {service} is {node}"
    assert _option(command, "-d", "--destination") == node.replace("%h", "$HOSTNAME")
    result = _run(
        [sys.executable, "-m", "celery", *command[1:], "--help"],
        DJANGO_SETTINGS_MODULE="config.settings.test",
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", WORKERS)
def test_worker_gets_time_to_finish_its_tasks_when_stopped(service: str) -> None:
    grace = _services()[service].get("stop_grace_period")
    assert grace is not None, f"{service} needs a stop_grace_period (docker's default is 10s)"
    # The longest hard time limit among the tasks of its queues (a task may set its own).
    limits = [
        task.time_limit or settings.CELERY_TASK_TIME_LIMIT
        for name, task in _project_tasks().items()
        if _queue_of(name) in _queues(service)
    ]
    assert _duration_seconds(grace) > max([settings.CELERY_TASK_TIME_LIMIT, *limits])


def test_web_healthcheck_hits_the_health_view() -> None:
    script = _healthcheck_python("web")
    match = re.search(r"http://127\.0\.0\.1:\d+(/[^'\"]*)", script)
    assert match, f"no local URL in the web healthcheck: {script}"
    from config.observability import health

    # Readiness: the database answers and no migration is pending (liveness would not see either).
    assert resolve(match.group(1)).func is health.healthz_ready


class _FakeHealthz(BaseHTTPRequestHandler):
    status = 200
    allowed_host = "fabriques.example.gouv.fr"

    def do_GET(self) -> None:  # noqa: N802
        if self.path != "/healthz/ready" or self.headers.get("Host") != self.allowed_host:
            code = 400
        else:
            code = type(self).status
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


@pytest.mark.parametrize(
    ("status", "hosts", "healthy"),
    [
        (200, "fabriques.example.gouv.fr,www.fabriques.example.gouv.fr", True),
        (200, ".fabriques.example.gouv.fr", True),
        (503, "fabriques.example.gouv.fr", False),
        (200, "autre.example.org", False),
    ],
)
def test_web_healthcheck_script(status: int, hosts: str, healthy: bool) -> None:
    # The script as compose runs it, against a stand-in that answers like Django: 400 for a Host
    # outside ALLOWED_HOSTS, else the status of /healthz.
    handler = type("Handler", (_FakeHealthz,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        script = _healthcheck_python("web")
        script = re.sub(r"http://127\.0\.0\.1:\d+", f"http://127.0.0.1:{server.server_port}", script)
        result = _run([sys.executable, "-c", script], DJANGO_ALLOWED_HOSTS=hosts)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert (result.returncode == 0) is healthy, result.stderr


def test_beat_schedule_lives_in_a_volume() -> None:
    schedule = _option(_command("beat"), "--schedule", "-s")
    assert schedule, "beat must keep its schedule file in a volume (--schedule)"
    folder = str(Path(schedule).parent)
    assert _is_named_volume(_mounts("beat").get(folder, "")), f"{folder} is not a volume of beat"
    assert f"'{schedule}*'" in _healthcheck_python("beat"), "the beat healthcheck watches another file"
    assert _dockerfile_chowns(folder), (
        f"the image must create {folder} owned by its user, or beat cannot write"
    )


def test_beat_healthcheck_tolerates_the_schedule() -> None:
    # Beat writes its file when it sends a task, at most every Scheduler.sync_every seconds: the
    # most frequent periodic task must fit, with that delay, within the health check's window.
    match = re.search(r"<\s*(\d+)", _healthcheck_python("beat"))
    assert match, "the beat healthcheck compares the file's age to a number of seconds"
    window = int(match.group(1))
    intervals = []
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        schedule = entry["schedule"]
        if isinstance(schedule, timedelta):
            intervals.append(schedule.total_seconds())
        elif isinstance(schedule, int | float):
            intervals.append(float(schedule))
        # crontab entries (daily tasks) do not set how often beat writes its file.
    assert intervals, "no periodic task: the beat healthcheck would always fail"
    assert window > min(intervals) + Scheduler.sync_every, (
        f"a {window}s window is too short for a task every {min(intervals)}s"
    )


@pytest.mark.parametrize(("age", "healthy"), [(0, True), (60, True), (3600, False), (None, False)])
def test_beat_healthcheck_script(tmp_path: Path, age: int | None, healthy: bool) -> None:
    schedule = _option(_command("beat"), "--schedule", "-s")
    assert schedule
    if age is not None:
        written = tmp_path / "schedule"
        written.write_bytes(b"schedule")
        os.utime(written, (time.time() - age, time.time() - age))
    script = _healthcheck_python("beat").replace(schedule, str(tmp_path / "schedule"))
    result = _run([sys.executable, "-c", script])
    assert (result.returncode == 0) is healthy, result.stderr


# --- docker-compose.yml: one image, volumes, environment ----------------------------------------


def test_application_services_share_one_image() -> None:
    services = _services()
    builds = {
        name: (json.dumps(services[name].get("build"), sort_keys=True), services[name].get("image"))
        for name in APP_SERVICES
    }
    assert all(services[name].get("build") for name in APP_SERVICES), (
        f"every app service must build: {builds}"
    )
    assert len(set(builds.values())) == 1, f"web, worker, beat and migrate differ: {builds}"
    build = services["web"]["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (COMPOSE.parent / context / dockerfile).resolve() == DOCKERFILE


def test_application_services_read_the_env_file() -> None:
    for name in APP_SERVICES:
        env_file = _services()[name].get("env_file")
        files = [env_file] if isinstance(env_file, str | dict) else list(env_file or [])
        paths = [f["path"] if isinstance(f, dict) else f for f in files]
        assert ".env" in paths, f"{name} must read .env, reads {paths}"
    assert _env_example().get("DJANGO_SETTINGS_MODULE") == "config.settings.production"


def test_referenced_volumes_are_declared() -> None:
    declared = set(_compose().get("volumes") or {})
    used: set[str] = set()
    for name in _services():
        for target, source in _mounts(name).items():
            if _is_named_volume(source):
                assert source in declared, f"{name} mounts {source} on {target}, which is not declared"
                used.add(source)
    assert declared <= used, f"declared but unused volumes: {sorted(declared - used)}"


def test_media_volume_is_shared_by_web_and_the_workers() -> None:
    media_root = _env_example().get("MEDIA_ROOT")
    assert media_root, ".env.example must set MEDIA_ROOT to the mount point"
    web = _mounts("web").get(media_root)
    assert web and _is_named_volume(web), f"web does not mount a volume on {media_root}"
    for service in WORKERS:
        worker = _mounts(service).get(media_root)
        assert web == worker, f"web and {service} must share the media volume: {web} != {worker}"
    assert _dockerfile_chowns(media_root), f"the image must create {media_root} owned by its user"


# --- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_base_image() -> None:
    froms = [arguments for keyword, arguments in _dockerfile() if keyword == "FROM"]
    assert froms == ["python:3.11-slim-bookworm"], froms


def test_dockerfile_installs_weasyprint_libraries() -> None:
    installed: set[str] = set()
    for run in _dockerfile_runs():
        for command in re.split(r"&&|;", run):
            tokens = shlex.split(command)
            if tokens[:2] == ["apt-get", "install"]:
                installed.update(token for token in tokens[2:] if not token.startswith("-"))
    missing = set(WEASYPRINT_PACKAGES) - installed
    assert not missing, f"the Dockerfile does not apt-get install {sorted(missing)}"


def test_dockerfile_runs_as_a_user_it_creates() -> None:
    instructions = _dockerfile()
    users = [index for index, (keyword, _) in enumerate(instructions) if keyword == "USER"]
    assert users, "the Dockerfile never leaves root"
    user = instructions[users[-1]][1].split(":")[0]
    assert user not in {"root", "0"}, f"the image runs as {user}"
    assert any(
        keyword == "RUN"
        and "useradd" in arguments
        and (f"--uid {user}" in arguments or arguments.endswith(user))
        for keyword, arguments in instructions[: users[-1]]
    ), f"no useradd creates the user {user}"


def test_dockerfile_selects_production_settings() -> None:
    # config/celery.py defaults to the local settings: the image must say production itself.
    assert _dockerfile_env().get("DJANGO_SETTINGS_MODULE") == "config.settings.production"


def test_dockerfile_installs_the_requirements() -> None:
    assert any("pip install" in run and "-r requirements.txt" in run for run in _dockerfile_runs())


def test_dockerfile_copies_every_part_of_the_project() -> None:
    copied: set[str] = set()
    for keyword, arguments in _dockerfile():
        if keyword == "COPY":
            sources = shlex.split(arguments)[:-1]
            assert "." not in sources and "./" not in sources, (
                "COPY . would put .env, .venv and db.sqlite3 in the image"
            )
            copied.update(source.rstrip("/") for source in sources if not source.startswith("--"))
    needed = {"manage.py", "config", "templates", "static", "requirements.txt"}
    # The apps of the settings the image runs (production), not of the test settings.
    needed |= {app for app in _image_settings()["apps"] if (ROOT / app / "__init__.py").is_file()}
    if (ROOT / "locale").is_dir():
        needed.add("locale")
    missing = needed - copied
    assert not missing, f"the Dockerfile does not COPY {sorted(missing)}"
    # The demo data (published passwords and authenticator keys) never enters the image.
    assert "devtools" not in copied


# The commands of the devtools app: the demo accounts (password and authenticator keys published
# in README.md), their live codes, the bulk data.
DEVTOOLS_COMMANDS = {"seed_demo", "demo_code", "seed_bulk"}


def test_the_image_settings_know_no_demo_or_volume_command() -> None:
    image = _image_settings()
    assert image["settings"] == "config.settings.production"
    assert "devtools" not in image["apps"]
    assert not DEVTOOLS_COMMANDS & set(image["commands"]), sorted(DEVTOOLS_COMMANDS & set(image["commands"]))
    # Not vacuous: the production commands are listed, and the test settings do know the demo ones.
    assert {"migrate", "envelope_status", "export_open_data", "render_specimen"} <= set(image["commands"])
    from django.core.management import get_commands

    assert DEVTOOLS_COMMANDS <= set(get_commands())


@pytest.mark.parametrize("module", ["base", "production"])
def test_devtools_is_installed_by_neither_base_nor_production_settings(module: str) -> None:
    # base.py is shared by production: the app is added by local.py, test.py and bench.py only.
    source = (ROOT / "config" / "settings" / f"{module}.py").read_text(encoding="utf-8")
    assert "devtools" not in source


def test_devtools_is_installed_by_the_local_test_and_bench_settings() -> None:
    # In a subprocess: importing config.settings.bench here would alter this process's DATABASES.
    script = (
        "import importlib, json; print(json.dumps({m: 'devtools' in importlib.import_module("
        "f'config.settings.{m}').INSTALLED_APPS for m in ('local', 'test', 'bench')}))"
    )
    result = _run([sys.executable, "-c", script])
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"local": True, "test": True, "bench": True}


def test_dockerfile_default_command_is_the_web_process() -> None:
    cmds = [arguments for keyword, arguments in _dockerfile() if keyword == "CMD"]
    assert len(cmds) == 1
    argv = json.loads(cmds[0])
    assert argv[0] == "gunicorn" and settings.WSGI_APPLICATION.replace(".application", ":application") in argv


def test_dockerfile_collectstatic_build_environment_loads_production_settings(tmp_path: Path) -> None:
    assignments = _collectstatic_build_values()
    assert not any(name in assignments for name in ("DJANGO_DEBUG", "DJANGO_SETTINGS_MODULE"))
    # The same environment as that RUN: the image's ENV plus the inline values, nothing else.
    # --dry-run loads the settings and finds every file without writing them.
    result = _run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--dry-run"],
        **_dockerfile_env(),
        **assignments,
        STATIC_ROOT=str(tmp_path / "static"),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_parsers_see_the_files() -> None:
    # Guards the helpers above: an empty parse would make other tests pass vacuously.
    assert len(_dockerfile()) > 10
    assert ast.parse(_healthcheck_python("web")) and ast.parse(_healthcheck_python("beat"))


def test_web_keeps_the_metrics_of_its_workers_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Five gunicorn workers: each writes its counters to PROMETHEUS_MULTIPROC_DIR, emptied at start
    # by config/gunicorn.py's hook, so that a scrape answered by any of them sums them all.
    import config.gunicorn

    folder = _services()["web"].get("environment", {}).get("PROMETHEUS_MULTIPROC_DIR", "")
    assert folder.startswith("/dev/shm/"), "the counters' files belong in memory (tmpfs)"  # noqa: S108
    argv = _command("web")
    assert _option(argv, "--config", "-c") == "python:config.gunicorn"
    stale = tmp_path / "prometheus"
    stale.mkdir()
    (stale / "counter_1234.db").write_bytes(b"left by the previous run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(stale))
    config.gunicorn.on_starting(server=None)
    assert stale.is_dir() and not any(stale.iterdir())


def test_the_benchmarks_recycle_document_workers_as_production_does() -> None:
    """bench/ measures the documents' workers with the children's replacement rule of worker-pdf:
    a child replaced every 100 documents idled its process for up to 3 s each time, a tenth of the
    pool's throughput (docs/performance.md « Worker pool »)."""
    from bench.common import PDF_WORKER_RECYCLING

    argv = _command("worker-pdf")
    recycling = tuple(
        part for part in argv if part.startswith(("--max-tasks-per-child", "--max-memory-per-child"))
    )
    assert recycling == PDF_WORKER_RECYCLING
    assert _option(argv, "--max-memory-per-child"), "a documents' worker bounds its children's memory"
    assert int(_option(argv, "--max-tasks-per-child") or 0) >= 1000
