"""The background build of a call's budget workbook (XLSX), and the sweep of its jobs."""

from celery import shared_task
from django.db import OperationalError

from grants.export_jobs import export_job_build, export_jobs_sweep

TRANSIENT_ERRORS = (OperationalError,)


@shared_task(
    name="grants.tasks_exports.budget_report_build_task",
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
    soft_time_limit=900,
    time_limit=960,
)
def budget_report_build_task(job_id: str) -> None:
    """Build the workbook of an export job; a finished or failed job is left alone."""
    export_job_build(job_id=job_id)


@shared_task(name="grants.tasks_exports.export_jobs_sweep_task")
def export_jobs_sweep_task() -> dict[str, int]:
    """Every five minutes: the jobs left queued by a broker outage, or by a lost worker, go again."""
    return export_jobs_sweep()
