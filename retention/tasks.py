"""The monthly run of the retention table."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError
from django.utils import timezone

from retention.services import retention_apply

logger = logging.getLogger(__name__)

# Seconds before a run stops and hands the rest to the next one (the reports' worker, whose stop
# grace period is longer than the hard limit, docker-compose.yml).
SOFT_TIME_LIMIT = 840
CONTINUE_AFTER = 60


@shared_task(
    name="retention.tasks.retention_apply_task",
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    max_retries=3,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=SOFT_TIME_LIMIT + 60,
)
def retention_apply_task() -> dict[str, int]:
    """Once a month: what has passed its time is anonymised or deleted. A replay does nothing
    twice (each object's RetentionAction row), so a retry after a database error is safe.

    The first run on years of data may take longer than the time limit: what it did is recorded
    object by object, and a run stopped by the limit queues the next one, which goes on from there.
    """
    try:
        return retention_apply(now=timezone.now())
    except SoftTimeLimitExceeded:
        logger.warning("Retention run stopped by its time limit; the next goes on in %s s", CONTINUE_AFTER)
        retention_apply_task.apply_async(countdown=CONTINUE_AFTER)
        return {"continued": 1}
