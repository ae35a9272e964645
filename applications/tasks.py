"""The dossiers' tasks: the deadlines applicants keep (applications.services.deadlines), the expert
opinions' reminders (applications.services.opinions), and the
instructors' long exports built in the background (applications.services.exports).

Thin: each calls one service, which writes e-mail rows under unique keys, so a second run (a
redelivered task, a manual run) writes nothing more.
"""

from celery import shared_task
from django.db import OperationalError

from applications.services.deadlines import corrections_deadlines_send, drafts_reminders_send
from applications.services.exports import dossier_export_build, dossier_exports_sweep
from applications.services.messaging import broadcast_emails_enqueue
from applications.services.opinions import opinions_reminders_send


@shared_task(name="applications.tasks.corrections_deadlines_task")
def corrections_deadlines_task() -> dict[str, int]:
    """Daily: applicants reminded of corrections soon due, instructors told of those overdue."""
    return corrections_deadlines_send()


@shared_task(name="applications.tasks.drafts_reminders_task")
def drafts_reminders_task() -> dict[str, int]:
    """Daily: the applicants of each draft reminded before its wave closes."""
    return drafts_reminders_send()


@shared_task(name="applications.tasks.opinions_reminders_task")
def opinions_reminders_task() -> dict[str, int]:
    """Daily: experts reminded of opinions soon due and overdue, instructors told of those overdue."""
    return opinions_reminders_send()


@shared_task(
    name="applications.tasks.dossier_export_build_task",
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
    soft_time_limit=900,
    time_limit=960,
)
def dossier_export_build_task(job_id: str) -> None:
    """Build the file of an instructor's long export; a finished or failed job is left alone."""
    dossier_export_build(job_id=job_id)


@shared_task(name="applications.tasks.dossier_exports_sweep_task")
def dossier_exports_sweep_task() -> dict[str, int]:
    """Every five minutes: the exports left queued by a broker outage, or by a lost worker, go again."""
    return dossier_exports_sweep()


@shared_task(name="applications.tasks.broadcast_emails_task")
def broadcast_emails_task(broadcast_id: int) -> int:
    """After a broadcast's commit: its e-mails handed to the outbox's workers."""
    return broadcast_emails_enqueue(broadcast_id=broadcast_id)
