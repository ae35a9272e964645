"""Budget workbooks (XLSX) built in the background: the job's states, one table, one funnel.

A job is an `ExportJob` row written in the request's transaction, with its audit row; its task is
queued after commit. Nothing here needs the cache or the broker to answer a page: with Redis down,
asking for a workbook still commits the row, the task's publication fails and is noted on the row
(`waiting_for_queue`, so the page can say the export will start when the queue is back), and the
periodic sweep (`export_jobs_sweep`, every five minutes) queues it again.

    queued ──> running ──> done
       │         │ └─────> failed
       │         └──> queued   (the sweep, when its worker died without the task coming back)
       └──> failed              (the sweep, after MAX_ATTEMPTS starts)

The task is idempotent: a done or failed job is left alone, and a redelivered task (its worker
killed) builds the workbook again under the same name, overwriting the half-saved file if any.
"""

import logging
from datetime import datetime, timedelta
from typing import IO, Any
from uuid import UUID

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import User
from applications.models import Call
from config.db_routers import reading_from_replica
from core.background_files import build_and_store
from core.background_jobs import JobKind
from core.workflow import Machine
from grants import writers
from grants.models import ExportJob, ExportJobChange
from grants.services.exports import BUDGET_REPORT_ACTION, export_record

logger = logging.getLogger(__name__)

S = ExportJob.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.RUNNING, S.FAILED}),
    S.RUNNING: frozenset({S.DONE, S.FAILED, S.QUEUED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset(),
}

# Moved by the worker and the sweep, logged; the request itself is audited by export_job_create.
REFUSAL = gettext_lazy("Un export « %(from)s » ne peut pas passer à l'état « %(to)s ».")
MACHINE = Machine(ExportJob, TRANSITIONS, ExportJobChange, REFUSAL)

EXPORTS_DIR = "exports"
# A workbook is kept a day; older files are deleted by the next build.
FILE_LIFETIME = timedelta(days=1)
# Jobs younger than this are left to the task queued at their creation.
SWEEP_GRACE = timedelta(minutes=5)
# A job running for longer than the task's hard time limit (16 minutes) lost its worker.
RUNNING_STALE = timedelta(minutes=20)
MAX_ATTEMPTS = 5


def _send(job_id: str) -> None:
    from grants.tasks.exports import budget_report_build_task  # the task module imports this one

    budget_report_build_task.delay(job_id)


JOBS = JobKind(
    model=ExportJob,
    label="Export job",
    queued=S.QUEUED,
    running=S.RUNNING,
    grace=SWEEP_GRACE,
    stale_after=RUNNING_STALE,
    max_attempts=MAX_ATTEMPTS,
    send=_send,
)


def transition(
    *, job: ExportJob, to_status: str, note: str = "", actor: User | None = None, **fields: Any
) -> ExportJob:
    """Move a job to `to_status` under a row lock, with `fields` saved alongside, and log it.

    `actor` is None when the portal moves the job (the worker, the sweep): the log says « système ».
    Must run inside the caller's transaction.
    """
    return MACHINE.move(row=job, to_status=to_status, actor=actor, note=note, **fields).job


def export_job_file_name(job_id: UUID | str) -> str:
    """The workbook's name in the media storage: derived from the job's id alone."""
    return f"{EXPORTS_DIR}/{UUID(str(job_id))}.xlsx"


def _enqueue(job_id: UUID | str) -> bool:
    """Hand the job's task to the broker; note on the row when the broker cannot be reached."""
    return JOBS.enqueue(job_id)


@transaction.atomic
def export_job_create(*, call: Call, actor: User) -> ExportJob:
    """Ask for the call's budget workbook: a queued job, audited, its task queued after commit."""
    job = ExportJob(call=call, requested_by=actor)
    job.full_clean()
    job.save()
    export_record(
        actor=actor, call=call, action=BUDGET_REPORT_ACTION, data={"format": "xlsx", "job": str(job.pk)}
    )
    # robust: with in-process tasks a failed build must not undo the request; the job says so.
    transaction.on_commit(lambda: _enqueue(job.pk), robust=True)
    return job


def _purge_old_exports() -> None:
    """Delete the workbooks older than a day, through the storage API (file system or S3 alike)."""
    cutoff = timezone.now() - FILE_LIFETIME
    try:
        _folders, names = default_storage.listdir(EXPORTS_DIR)
    except FileNotFoundError:
        return
    for name in names:
        path = f"{EXPORTS_DIR}/{name}"
        try:
            if name.endswith(".xlsx") and default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
        except FileNotFoundError:  # removed meanwhile by another build
            continue


def _start(job_id: UUID | str) -> ExportJob | None:
    """The job, moved to running (or left running: a redelivered task); None if there is nothing to do."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (S.DONE, S.FAILED):
            return None
        if job.status == S.RUNNING:
            return job
        return transition(
            job=job,
            to_status=S.RUNNING,
            started_at=timezone.now(),
            attempts=job.attempts + 1,
            waiting_for_queue=False,
        )


def export_job_build(*, job_id: UUID | str) -> None:
    """Build a job's workbook, its progress saved on the row. Idempotent (see the module).

    The workbook is written to a local temporary file, then saved whole into the media storage
    (a folder shared by the web and the workers, or an S3 bucket): a download never sees half a
    file. Its rows are read on the read replica when one is configured.
    """
    job = _start(job_id)
    if job is None:
        return
    name = export_job_file_name(job.pk)
    _purge_old_exports()

    def progress(done: int, total: int) -> None:
        ExportJob.objects.filter(pk=job.pk).update(done=done, total=max(done, total))

    def write(workbook: IO[bytes]) -> None:
        with reading_from_replica():
            writers.xlsx_write(job.call, workbook, progress=progress)

    def fail(error: Exception) -> None:
        transition(
            job=job,
            to_status=S.FAILED,
            note=repr(error)[:1000],
            error=repr(error)[:1000],
            finished_at=timezone.now(),
        )

    saved = build_and_store(name=name, suffix=".xlsx", write=write, fail=fail)
    with transaction.atomic():
        current = ExportJob.objects.get(pk=job.pk)
        transition(
            job=current,
            to_status=S.DONE,
            file_name=saved,
            done=max(current.done, current.total),
            total=max(current.done, current.total),
            finished_at=timezone.now(),
        )


def export_jobs_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Queue again the jobs left queued (the broker was down, a message lost) and those whose
    worker died while running; fail those started MAX_ATTEMPTS times (core.background_jobs)."""
    return JOBS.sweep(
        requeue=lambda job: transition(job=job, to_status=S.QUEUED, note="sweep: worker lost"),
        fail=lambda job, moment: transition(
            job=job, to_status=S.FAILED, note="sweep: too many attempts", finished_at=moment
        ),
        now=now,
        enqueue=_enqueue,
    )
