"""Thin tasks: take ids, call one service, own the retry policy. Time limits are global.

Each task has its queue (CELERY_TASK_ROUTES): the documents on `pdf`, the e-mails on `email`,
the sweep on `default`. An e-mail whose documents are not rendered yet does not render them on
the e-mail workers: it waits for the pdf queue, looking again after 5, 10, 20, 40 then every
60 seconds, about ten minutes in all; after that the sweep takes over (a pending row 5 minutes
after its creation, then with a doubling wait: services.sweep_wait). Waiting counts no attempt.

Nothing here asks whether it runs on a worker or in process (`make demo`): the path is the same,
and the tests run these tasks as a worker does (tests/task_queues.py).
"""

import logging
from typing import Any

from celery import Task, shared_task
from django.db import OperationalError

from notifications import services, services_inbox
from notifications.models import Document, OutgoingEmail

logger = logging.getLogger(__name__)

# Database hiccups and file-system errors are worth retrying; anything else is a bug, left on
# the row (last_error) and retried by the sweep until MAX_ATTEMPTS.
TRANSIENT_ERRORS = (OperationalError, OSError)

# How long an e-mail waits for its attachments: delays of 5, 10, 20, 40, then 60 seconds, at most
# ATTACHMENT_WAITS times (these retries share Celery's counter with the transient errors').
ATTACHMENT_WAIT_FIRST = 5
ATTACHMENT_WAIT_MAX = 60
ATTACHMENT_WAITS = 12


def attachment_wait(waited: int) -> int:
    """Seconds before the next look at an e-mail's attachments, after `waited` looks."""
    return int(min(ATTACHMENT_WAIT_FIRST * 2**waited, ATTACHMENT_WAIT_MAX))


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=5, retry_backoff_max=600, max_retries=8)
def document_render_task(document_id: int) -> None:
    try:
        services.document_render(document_id=document_id)
    except Exception as error:
        services.notification_record_failure(model=Document, pk=document_id, error=repr(error))
        raise


@shared_task(bind=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=5, retry_backoff_max=600, max_retries=8)
def email_send_task(self: Task[Any, Any], email_id: int) -> None:
    try:
        services.email_send(email_id=email_id)
    except services.AttachmentsPending as pending:
        waited = self.request.retries or 0
        if waited >= ATTACHMENT_WAITS:
            logger.warning("%s; left to the sweep", pending)
            return
        # Back to the queue it came from (Celery keeps the delivery's routing key), later.
        raise self.retry(countdown=attachment_wait(waited), max_retries=ATTACHMENT_WAITS) from pending
    except Exception as error:
        services.notification_record_failure(model=OutgoingEmail, pk=email_id, error=repr(error))
        raise


@shared_task
def notifications_sweep_task() -> dict[str, int]:
    return services.notifications_sweep()


@shared_task
def digests_send_task() -> dict[str, int]:
    """Daily: each person's digest of the notifications they chose to read once a day."""
    return services_inbox.digests_send()
