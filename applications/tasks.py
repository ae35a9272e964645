"""The dossiers' daily tasks: the deadlines applicants keep (applications.services.deadlines).

Thin: each calls one service, which writes e-mail rows under unique keys, so a second run (a
redelivered task, a manual run) writes nothing more.
"""

from celery import shared_task

from applications.services.deadlines import corrections_deadlines_send, drafts_reminders_send
from applications.services.messaging import broadcast_emails_enqueue


@shared_task(name="applications.tasks.corrections_deadlines_task")
def corrections_deadlines_task() -> dict[str, int]:
    """Daily: applicants reminded of corrections soon due, instructors told of those overdue."""
    return corrections_deadlines_send()


@shared_task(name="applications.tasks.drafts_reminders_task")
def drafts_reminders_task() -> dict[str, int]:
    """Daily: the applicants of each draft reminded before its wave closes."""
    return drafts_reminders_send()


@shared_task(name="applications.tasks.broadcast_emails_task")
def broadcast_emails_task(broadcast_id: int) -> int:
    """After a broadcast's commit: its e-mails handed to the outbox's workers."""
    return broadcast_emails_enqueue(broadcast_id=broadcast_id)
