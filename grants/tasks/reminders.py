"""The daily reminders of the grants (tranches past their deadline, yearly reports due)."""

from celery import shared_task
from django.utils import timezone

from applications.services.notify import dossiers_overdue_notify
from grants.services.notify import payments_overdue_notify
from grants.services.reminders import reminders_send


@shared_task(name="grants.tasks.tranches_reminders_task")
def tranches_reminders_task() -> dict[str, int]:
    """Daily: admins hear of tranches past their 60-day deadline, beneficiaries of overdue reports."""
    return reminders_send(today=timezone.localdate())


@shared_task(name="grants.tasks.overdue_notifications_task")
def overdue_notifications_task() -> dict[str, int]:
    """Daily: instructors notified of dossiers past their instruction delay, admins of payments past
    their deadline; once per dossier (and submission) or tranche (and request)."""
    return {
        "dossiers": dossiers_overdue_notify(now=timezone.now()),
        "payments": payments_overdue_notify(today=timezone.localdate()),
    }
