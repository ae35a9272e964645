"""Every environment variable the configuration reads is documented, and production refuses to start
without its secrets.

The variables are found in the source of config/ (config/settings/*.py, config/celery.py,
config/wsgi.py): calls of django-environ's `env(...)` / `env.<cast>(...)` and of
`os.environ` / `os.getenv`. A new variable without a line in docs/settings.md and .env.example
fails here.
"""

import ast
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
SETTINGS_DOC = ROOT / "docs" / "settings.md"
ENV_EXAMPLE = ROOT / ".env.example"
DOTENV = ROOT / ".env"
COMPOSE = ROOT / "docker-compose.yml"

# Read by docker compose (the db service), not by Django.
COMPOSE_ONLY = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}
# django-environ methods that do not read a variable.
NOT_A_READ = {"read_env", "parse_value", "escape_proxy", "prefix"}
PRODUCTION_REQUIRED = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
)
SUBPROCESS_TIMEOUT = 180


def _production_values() -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "fabriques.example.gouv.fr",
        "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/x",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "EMAIL_URL": "smtp+tls://u:p@smtp.example.org:587",
    }


# --- Finding the variables ----------------------------------------------------------------------


def _source_files() -> list[Path]:
    files = sorted((CONFIG / "settings").glob("*.py")) + [CONFIG / "celery.py", CONFIG / "wsgi.py"]
    return [path for path in files if path.is_file()]


def _is_env(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "env"


def _is_os_environ(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _reads(path: Path) -> Iterator[tuple[int, ast.expr | None]]:
    """(line, first argument) of every call that reads an environment variable in `path`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            reads = (
                _is_env(func)  # env("NAME")
                or (isinstance(func, ast.Attribute) and _is_env(func.value) and func.attr not in NOT_A_READ)
                or (
                    isinstance(func, ast.Attribute)
                    and func.attr in {"get", "setdefault", "pop"}
                    and _is_os_environ(func.value)
                )
                or (
                    isinstance(func, ast.Attribute)
                    and func.attr == "getenv"
                    and isinstance(func.value, ast.Name)
                    and func.value.id == "os"
                )
            )
            if reads:
                yield node.lineno, node.args[0] if node.args else None
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            yield node.lineno, node.slice


def _variables() -> dict[str, list[str]]:
    """Variable name -> the places (file:line) that read it."""
    found: dict[str, list[str]] = {}
    for path in _source_files():
        for line, argument in _reads(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            assert isinstance(argument, ast.Constant) and isinstance(argument.value, str), (
                f"{where}: the variable name must be a string literal, so that it can be documented"
            )
            found.setdefault(argument.value, []).append(where)
    return found


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2).strip().strip("\"'")
    return values


def _documented() -> set[str]:
    """Variables in the first column of a table of docs/settings.md."""
    text = SETTINGS_DOC.read_text(encoding="utf-8")
    return set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", text, flags=re.MULTILINE))


def test_the_variables_are_found() -> None:
    # Guards the extraction: if it found nothing, the documentation tests would pass vacuously.
    variables = _variables()
    assert {
        *PRODUCTION_REQUIRED,
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_SECURE_HSTS_SECONDS",
        "MEDIA_ROOT",
    } <= set(variables), sorted(variables)
    assert len(variables) >= 25, sorted(variables)


def test_every_variable_is_documented_in_settings_md() -> None:
    missing = {name: where for name, where in _variables().items() if name not in _documented()}
    assert not missing, f"add a row to docs/settings.md for: {missing}"


def test_every_variable_is_in_env_example_with_a_comment() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    missing, uncommented = [], []
    for name in _variables():
        indexes = [i for i, line in enumerate(lines) if line.startswith(f"{name}=")]
        if not indexes:
            missing.append(name)
        elif not (indexes[0] > 0 and lines[indexes[0] - 1].startswith("#")):
            uncommented.append(name)
    assert not missing, f"add to .env.example: {sorted(missing)}"
    assert not uncommented, f"put a comment line above these in .env.example: {sorted(uncommented)}"


def test_no_stale_variable_in_the_documentation() -> None:
    read = set(_variables())
    compose = COMPOSE.read_text(encoding="utf-8")
    for name in COMPOSE_ONLY:
        assert "${" + name in compose, f"{name} is documented as read by docker-compose.yml, which does not"
    stale_doc = _documented() - read - COMPOSE_ONLY
    stale_example = set(_env_example()) - read - COMPOSE_ONLY
    assert not stale_doc, f"docs/settings.md documents variables nothing reads: {sorted(stale_doc)}"
    assert not stale_example, f".env.example sets variables nothing reads: {sorted(stale_example)}"


def test_env_example_ships_no_usable_secret() -> None:
    values = _env_example()
    assert values["DJANGO_SECRET_KEY"] == "", "a secret key in .env.example would end up deployed"
    assert values["POSTGRES_PASSWORD"] == "", "a password in .env.example would end up deployed"


# --- Production refuses to start without its secrets --------------------------------------------


def _dotenv_names() -> set[str]:
    """Variables of a .env at the project root, which the settings read too (without overriding)."""
    if not DOTENV.is_file():
        return set()
    return set(re.findall(r"^\s*(?:export\s+)?([A-Za-z_]\w*)\s*=", DOTENV.read_text(encoding="utf-8"), re.M))


def _skip_if_dotenv_sets(names: set[str]) -> None:
    clash = _dotenv_names() & names
    if clash:
        pytest.skip(f"{DOTENV} sets {sorted(clash)}, which this test needs unset")


def _run(argv: list[str], values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A fresh Python in the project root, with none of the caller's configuration variables."""
    environment = {k: v for k, v in os.environ.items() if k not in _variables()}
    environment.update(values)
    return subprocess.run(
        argv,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize("missing", PRODUCTION_REQUIRED)
def test_production_refuses_to_start_without(missing: str) -> None:
    _skip_if_dotenv_sets({missing})
    values = _production_values()
    del values[missing]
    result = _run([sys.executable, "-c", "import django; django.setup()"], values)
    assert result.returncode != 0, f"production settings started without {missing}"
    assert "ImproperlyConfigured" in result.stderr, result.stderr
    assert missing in result.stderr.strip().splitlines()[-1], result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_SECRET_KEY", ""),
        ("DJANGO_SECRET_KEY", "too-short"),
        ("DJANGO_SECRET_KEY", "a" * 60),
        ("DATABASE_URL", "sqlite:////tmp/production.sqlite3"),
        ("PROCONNECT_ENABLED", "true"),
    ],
)
def test_production_refuses_a_weak_configuration(name: str, value: str) -> None:
    values = {**_production_values(), name: value}
    result = _run([sys.executable, "-c", "import django; django.setup()"], values)
    assert result.returncode != 0, f"production settings started with {name}={value!r}"
    assert "ImproperlyConfigured" in result.stderr, result.stderr


def test_production_starts_with_proconnect_and_its_client() -> None:
    values = {
        **_production_values(),
        "PROCONNECT_ENABLED": "true",
        "PROCONNECT_CLIENT_ID": "fabriques-de-territoires",
        "PROCONNECT_CLIENT_SECRET": "s" * 12 + "3cr3t-of-the-client",
    }
    for name in ("PROCONNECT_CLIENT_ID", "PROCONNECT_CLIENT_SECRET"):
        result = _run([sys.executable, "-c", "import django; django.setup()"], {**values, name: ""})
        assert result.returncode != 0 and "PROCONNECT_CLIENT_SECRET" in result.stderr, result.stderr
    script = "import django; django.setup(); from accounts.proconnect import proconnect_enabled; print(proconnect_enabled())"
    result = _run([sys.executable, "-c", script], values)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_production_passes_check_deploy() -> None:
    values = _production_values()
    _skip_if_dotenv_sets(set(_variables()) - set(values))
    result = _run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout, result.stdout + result.stderr


def test_env_example_is_a_working_production_configuration() -> None:
    # .env.example with its blanks filled in passes the deployment checks as it is.
    values = {name: value for name, value in _env_example().items() if name not in COMPOSE_ONLY}
    values["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(64)
    _skip_if_dotenv_sets(set(_variables()) - set(values))
    result = _run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], values)
    assert result.returncode == 0, result.stdout + result.stderr
