"""The envelope's daily beat task: a snapshot of each open call, and the commitment alert."""

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from applications.models import Call
from grants.services.snapshots import commitment_alerts_send, envelope_snapshot_take


@shared_task(autoretry_for=(OperationalError,), retry_backoff=60, max_retries=5)
def envelope_daily_task() -> dict[str, int]:
    """Both services are idempotent per call and day: a retried or repeated run does nothing twice."""
    day = timezone.localdate()
    snapshots = alerts = 0
    for call in Call.objects.filter(status=Call.Status.OPEN).order_by("pk"):
        envelope_snapshot_take(call=call, day=day)
        snapshots += 1
        if commitment_alerts_send(call=call, day=day) is not None:
            alerts += 1
    return {"snapshots": snapshots, "alerts": alerts}
