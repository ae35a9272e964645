"""The daily reminders of the grants (tranches past their deadline, yearly reports due)."""

from celery import shared_task
from django.utils import timezone

from grants.services.reminders import reminders_send


@shared_task(name="grants.tasks.tranches_reminders_task")
def tranches_reminders_task() -> dict[str, int]:
    """Daily: admins hear of tranches past their 60-day deadline, beneficiaries of overdue reports."""
    return reminders_send(today=timezone.localdate())
