"""The monthly run of the retention table."""

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from retention.services import retention_apply


@shared_task(
    name="retention.tasks.retention_apply_task",
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    max_retries=3,
    # Longer than the default: the first run on years of data deletes many rows, in batches. A run
    # cut short leaves its work recorded, and the next one goes on from there.
    soft_time_limit=1800,
    time_limit=1900,
)
def retention_apply_task() -> dict[str, int]:
    """Once a month: what has passed its time is anonymised or deleted. A replay does nothing
    twice (each object's RetentionAction row), so a retry after a database error is safe."""
    return retention_apply(now=timezone.now())
