"""The grants' Celery tasks, one module per subject.

Celery's autodiscovery imports `grants.tasks`, that is this package: importing every module here
registers every task, so the workers need no `CELERY_IMPORTS`. Each task keeps the name it had
when the modules were `grants/tasks.py`, `grants/tasks_envelope.py` and `grants/tasks_exports.py`
(`name=`): the beat schedule, the routes and the messages already queued use those names.
"""

from grants.tasks.envelope import envelope_check_task, envelope_daily_task
from grants.tasks.exports import budget_report_build_task, export_jobs_sweep_task
from grants.tasks.open_data import open_data_publish_task
from grants.tasks.reminders import overdue_notifications_task, tranches_reminders_task

__all__ = [
    "budget_report_build_task",
    "envelope_check_task",
    "envelope_daily_task",
    "export_jobs_sweep_task",
    "open_data_publish_task",
    "overdue_notifications_task",
    "tranches_reminders_task",
]
