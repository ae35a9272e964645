"""The grants' tasks are found by Celery's autodiscovery alone, under the names the beat schedule,
the routes and the messages already queued use."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

import grants.tasks

ROOT = Path(__file__).resolve().parents[2]

# In a fresh interpreter: the settings, the Celery app, then what a worker does at start-up.
WORKER_START = """
import json, sys
import django
django.setup()
from config.celery import app
before = sorted(name for name in sys.modules if name.startswith("grants.tasks"))
app.loader.import_default_modules()
print(json.dumps({"before": before, "imports": list(app.conf.imports), "tasks": sorted(app.tasks)}))
"""


def _named_tasks() -> set[str]:
    beat = {str(entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    return beat | {str(name) for name in settings.CELERY_TASK_ROUTES}


def test_autodiscovery_alone_registers_every_task_the_beat_and_the_routes_name() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WORKER_START],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    started = json.loads(result.stdout.strip().splitlines()[-1])
    assert started["before"] == []  # nothing imported the task modules before the discovery
    assert started["imports"] == []  # no CELERY_IMPORTS
    assert not hasattr(settings, "CELERY_IMPORTS")
    named = _named_tasks()
    assert {name for name in named if name.startswith("grants.")} == {
        "grants.tasks.tranches_reminders_task",
        "grants.tasks.overdue_notifications_task",
        "grants.tasks_envelope.envelope_daily_task",
        "grants.tasks_envelope.envelope_check_task",
        "grants.tasks_exports.budget_report_build_task",
        "grants.tasks_exports.export_jobs_sweep_task",
        "grants.tasks.open_data_publish_task",
    }
    assert named - set(started["tasks"]) == set()


def test_every_grants_task_keeps_the_name_its_messages_carry() -> None:
    names = {getattr(grants.tasks, name).name for name in grants.tasks.__all__}
    assert names == {
        "grants.tasks.tranches_reminders_task",
        "grants.tasks.overdue_notifications_task",
        "grants.tasks_envelope.envelope_daily_task",
        "grants.tasks_envelope.envelope_check_task",
        "grants.tasks_exports.budget_report_build_task",
        "grants.tasks_exports.export_jobs_sweep_task",
        "grants.tasks.open_data_publish_task",
    }
