"""Thin tasks: take ids, call one service, own the retry policy. Time limits are global."""

from celery import shared_task
from django.db import OperationalError

from notifications import services
from notifications.models import Document, OutgoingEmail

# Database hiccups and file-system errors are worth retrying; anything else is a bug, left on
# the row (last_error) and retried by the sweep until MAX_ATTEMPTS.
TRANSIENT_ERRORS = (OperationalError, OSError)


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=5, retry_backoff_max=600, max_retries=8)
def document_render_task(document_id: int) -> None:
    try:
        services.document_render(document_id=document_id)
    except Exception as error:
        services.notification_record_failure(model=Document, pk=document_id, error=repr(error))
        raise


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=5, retry_backoff_max=600, max_retries=8)
def email_send_task(email_id: int) -> None:
    try:
        services.email_send(email_id=email_id)
    except Exception as error:
        services.notification_record_failure(model=OutgoingEmail, pk=email_id, error=repr(error))
        raise


@shared_task
def notifications_sweep_task() -> dict[str, int]:
    return services.notifications_sweep()
