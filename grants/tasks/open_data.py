"""The daily beat task that rebuilds every open-data file of every published call."""

from celery import shared_task
from django.db import OperationalError

from grants.services.open_data import open_data_publish_all


@shared_task(
    name="grants.tasks.open_data_publish_task",
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    max_retries=5,
)
def open_data_publish_task() -> dict[str, int]:
    """Each file is built, validated and published on its own: a refused file (logged, audited and
    e-mailed to the admins) leaves the previous one served and does not stop the others. Running
    it twice publishes the same files again (an unchanged file keeps its stored name)."""
    return open_data_publish_all(actor=None)
