"""The queue-and-sweep steps every background job shares (the budget workbook of grants, the
instructors' long exports of applications, the allocation scenarios computed by a worker).

A job is a row with a status (its own state machine: « queued », « running », …), `attempts`,
`created_at`, `started_at` and `waiting_for_queue`. Its task is handed to the broker after the
row commits; when the broker cannot be reached the row says so (`waiting_for_queue`) and the
periodic sweep queues it again, with the jobs left queued too long (a lost message) and those
whose worker died while running. Only the moves themselves belong to each job's machine: the
sweep calls back `requeue` and `fail`, which go through it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

# What a publication raises when the broker cannot be reached.
BROKER_ERRORS = (BrokerError, ConnectionError, OSError)


@dataclass(frozen=True)
class JobKind:
    """One kind of background job: its model, its two sweepable states and its limits."""

    model: type[models.Model]
    label: str
    queued: str
    running: str
    # A queued job older than this has lost its message: queued again.
    grace: timedelta
    # A running job started longer ago than this has lost its worker.
    stale_after: timedelta
    # Started this many times: failed, for a human to look at.
    max_attempts: int
    # Hands the job's id (as a string) to the broker: the task's `.delay`.
    send: Callable[[str], Any]

    def enqueue(self, job_id: Any) -> bool:
        """Hand the job's task to the broker; note on the row when the broker cannot be reached."""
        try:
            self.send(str(job_id))
        except BROKER_ERRORS as error:
            logger.warning("%s %s not queued (%r); left to the sweep", self.label, job_id, error)
            self.model._default_manager.filter(pk=job_id, status=self.queued).update(waiting_for_queue=True)
            return False
        return True

    def sweep(
        self,
        *,
        requeue: Callable[[Any], object],
        fail: Callable[[Any, datetime], object],
        now: datetime | None = None,
        enqueue: Callable[[Any], bool] | None = None,
    ) -> dict[str, int]:
        """Queue again the jobs left queued and those whose worker died; fail those started too often.

        `requeue(job)` moves a lost running job back to queued, `fail(job, moment)` to failed: each
        is called under the row's lock, in a transaction of its own. `enqueue` stands for
        `self.enqueue` (the module's own door, which tests may replace).
        """
        enqueue = enqueue or self.enqueue
        moment = now or timezone.now()
        rows = self.model._default_manager
        queued = list(
            rows.filter(status=self.queued, created_at__lt=moment - self.grace).values_list("pk", flat=True)
        )
        queued += (
            rows.filter(status=self.queued, waiting_for_queue=True)
            .exclude(pk__in=queued)
            .values_list("pk", flat=True)
        )
        failed = 0
        stale = moment - self.stale_after
        for job_id in rows.filter(status=self.running, started_at__lt=stale).values_list("pk", flat=True):
            with transaction.atomic():
                # Read again under the lock: the job may have finished (or failed, or been started
                # again) since the query above; it is then left as it is, and the sweep goes on.
                job: Any = rows.select_for_update().filter(pk=job_id).first()
                if (
                    job is None
                    or job.status != self.running
                    or job.started_at is None
                    or job.started_at >= stale
                ):
                    continue
                if job.attempts >= self.max_attempts:
                    fail(job, moment)
                    failed += 1
                else:
                    requeue(job)
                    queued.append(job.pk)
        published = 0
        for job_id in queued:
            if enqueue(job_id):
                published += 1
                rows.filter(pk=job_id, waiting_for_queue=True).update(waiting_for_queue=False)
        if queued or failed:
            logger.info(
                "%s sweep: %s queued again (%s published), %s failed",
                self.label,
                len(queued),
                published,
                failed,
            )
        return {"queued": published, "failed": failed}
