"""The layout rules of docs/architecture.md, checked so that they stay true."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_apps_import_each_other_in_one_direction_only():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 kept, 0 broken" in result.stdout


def test_the_top_level_layout_is_complete():
    expected = [
        "manage.py",
        "config",
        "core",
        "accounts",
        "fabriques",
        "applications",
        "grants",
        "allocation",
        "notifications",
        "devtools",
        "templates",
        "static",
        "tests",
        "docs",
        "requirements.txt",
        "docker-compose.yml",
        "Dockerfile",
        "Makefile",
        "README.md",
        ".ci/run",
        "pyproject.toml",
        ".env.example",
        "NOTICE",
    ]
    missing = [name for name in expected if not (ROOT / name).exists()]
    assert not missing


def test_no_service_receives_the_request():
    """Services are called from views, commands, admin and tasks alike: none may need a request."""
    import ast

    offenders = []
    for path in [*ROOT.glob("*/services.py"), *ROOT.glob("*/services/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args.args + node.args.kwonlyargs
                if any(
                    arg.arg == "request" or "HttpRequest" in ast.unparse(arg.annotation or ast.Constant(""))
                    for arg in args
                ):
                    offenders.append(f"{path.name}:{node.name}")
    assert not offenders


def test_every_model_change_has_its_migration():
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_transactional_test_restores_the_serialized_database():
    """A transactional test without `serialized_rollback` ends with a flush that re-creates the
    content types (post_migrate), and every later serialized test (browser, integration) then
    fails to restore its rows on a duplicate key. Each one asks for the serialized rollback."""
    import re

    offenders = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        for marker in re.findall(r"django_db\(([^)]*)\)", source):
            if "transaction=True" in marker and "serialized_rollback=True" not in marker:
                offenders.append(f"{path.relative_to(ROOT)}: django_db({marker})")
        for signature in re.findall(r"def \w+\(([^)]*\btransactional_db\b[^)]*)\)", source):
            if "django_db_serialized_rollback" not in signature:
                offenders.append(f"{path.relative_to(ROOT)}: ({signature})")
    assert offenders == []
