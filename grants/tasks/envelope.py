"""The envelope's daily beat tasks: a snapshot of each open call and the commitment alert; the
recount of every call's counters and the drift alert."""

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from applications.models import Call
from grants.services.snapshots import (
    commitment_alerts_send,
    envelope_drift_alert_send,
    envelope_snapshot_take,
)


@shared_task(
    name="grants.tasks_envelope.envelope_daily_task",
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    max_retries=5,
)
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


@shared_task(
    name="grants.tasks_envelope.envelope_check_task",
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    max_retries=5,
)
def envelope_check_task() -> dict[str, int]:
    """`manage.py envelope_check` for every call (closed ones too: their money still moves), with an
    e-mail to the programme admins per drifting call, once a day (the e-mail's key names the day)."""
    day = timezone.localdate()
    checked = alerts = 0
    for call in Call.objects.order_by("pk"):
        checked += 1
        if envelope_drift_alert_send(call=call, day=day) is not None:
            alerts += 1
    return {"checked": checked, "alerts": alerts}
