"""No production module asks whether tasks run in process: the code path is the same everywhere.

Only the local settings (`make demo`, no broker) may turn Celery's eager mode on; no module reads
it (`request.is_eager`, `task_always_eager`), so what the demo does is what the workers do, and
the tests drain the queues as workers do (tests/task_queues.py).
"""

import re
from pathlib import Path

from django.conf import settings

EAGER = re.compile(r"eager", re.IGNORECASE)
PACKAGES = ("config", "core", "accounts", "fabriques", "applications", "grants", "notifications", "devtools")
# The one place the mode is set, as a setting of the developer's machine.
SETTING_ONLY = Path("config/settings/local.py")


def production_modules() -> list[Path]:
    root = Path(settings.BASE_DIR)
    return sorted(
        path.relative_to(root)
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def test_no_production_module_reads_the_eager_flag() -> None:
    root = Path(settings.BASE_DIR)
    modules = production_modules()
    assert Path("notifications/tasks.py") in modules and Path("grants/export_jobs.py") in modules
    readers = [
        f"{path}:{number}: {line.strip()}"
        for path in modules
        if path != SETTING_ONLY
        for number, line in enumerate((root / path).read_text(encoding="utf-8").splitlines(), 1)
        if EAGER.search(line)
    ]
    assert readers == []


def test_only_the_local_settings_set_eager_mode_and_only_without_a_broker() -> None:
    lines = [
        line
        for line in (Path(settings.BASE_DIR) / SETTING_ONLY).read_text(encoding="utf-8").splitlines()
        if EAGER.search(line) and not line.lstrip().startswith("#")
    ]
    assert lines == [
        "CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL",
        "CELERY_TASK_EAGER_PROPAGATES = True",
    ]


def test_the_tests_run_with_eager_mode_off() -> None:
    from config.celery import app

    assert app.conf.task_always_eager is False
    assert getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) is False
