"""The instructors' exports: the audit of each one, and the long ones built in the background.

A long export is a `DossierExport` row written in the request's transaction with its audit row;
its task is queued after commit (the pattern of the budget workbook, grants.export_jobs). With the
broker down the row is still committed, the failed publication is noted on it (`waiting_for_queue`)
and the periodic sweep queues it again:

    queued ──> running ──> done
       │         │ └─────> failed
       │         └──> queued   (the sweep, when its worker died without the task coming back)
       └──> failed              (the sweep, after MAX_ATTEMPTS starts)

The build is idempotent: a done or failed job is left alone, and a redelivered task builds the file
again under the same name (derived from the job's id), so a job yields exactly one file.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import IO, Any
from uuid import UUID

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import User
from accounts.services import audit_record
from applications import exports
from applications.models import Application, DossierExport, DossierExportChange
from config.db_routers import reading_from_replica
from core.background_files import build_and_store
from core.background_jobs import JobKind
from core.workflow import Machine

logger = logging.getLogger(__name__)

S = DossierExport.Status

EXPORT_ACTION = "export.dossiers"
ARCHIVE_ACTION = "dossier.archive_download"

TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.RUNNING, S.FAILED}),
    S.RUNNING: frozenset({S.DONE, S.FAILED, S.QUEUED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset(),
}
REFUSAL = gettext_lazy("Un export « %(from)s » ne peut pas passer à l'état « %(to)s ».")
MACHINE = Machine(DossierExport, TRANSITIONS, DossierExportChange, REFUSAL)

EXPORTS_DIR = "exports/dossiers"
# A file is kept a day; older files are deleted by the next build.
FILE_LIFETIME = timedelta(days=1)
# Jobs younger than this are left to the task queued at their creation.
SWEEP_GRACE = timedelta(minutes=5)
# A job running for longer than the task's hard time limit (16 minutes) lost its worker.
RUNNING_STALE = timedelta(minutes=20)
MAX_ATTEMPTS = 5


def _send(job_id: str) -> None:
    from applications.tasks import dossier_export_build_task  # the task module imports this one

    dossier_export_build_task.delay(job_id)


JOBS = JobKind(
    model=DossierExport,
    label="Dossier export",
    queued=S.QUEUED,
    running=S.RUNNING,
    grace=SWEEP_GRACE,
    stale_after=RUNNING_STALE,
    max_attempts=MAX_ATTEMPTS,
    send=_send,
)


@transaction.atomic
def dossier_export_record(
    *, actor: User, file_format: str, query: str, statuses: Sequence[str], rows: int, job: str = ""
) -> None:
    """Every export of the list leaves an audit row: who took which dossiers, in which format."""
    data: dict[str, Any] = {"format": file_format, "filters": query, "statuses": list(statuses), "rows": rows}
    if job:
        data["job"] = job
    audit_record(actor=actor, action=EXPORT_ACTION, target=None, data=data)


@transaction.atomic
def application_archive_record(*, application: Application, files: Sequence[str], actor: User) -> None:
    """A dossier's files downloaded as one archive: one audit row per download, naming the files."""
    audit_record(actor=actor, action=ARCHIVE_ACTION, target=application, data={"files": list(files)})


def transition(
    *, job: DossierExport, to_status: str, note: str = "", actor: User | None = None, **fields: Any
) -> DossierExport:
    """Move a job under a row lock, `fields` saved alongside, and log it (actor None: the worker)."""
    return MACHINE.move(row=job, to_status=to_status, actor=actor, note=note, **fields).job


def export_file_name(job_id: UUID | str, file_format: str) -> str:
    """The file's name in the media storage: derived from the job's id alone."""
    return f"{EXPORTS_DIR}/{UUID(str(job_id))}.{file_format}"


def _enqueue(job_id: UUID | str) -> bool:
    """Hand the job's task to the broker; note on the row when the broker cannot be reached."""
    return JOBS.enqueue(job_id)


@transaction.atomic
def dossier_export_create(
    *, file_format: str, query: str, statuses: Sequence[str], actor: User
) -> DossierExport:
    """Ask for the list's export in the background: a queued job, audited, its task queued after commit."""
    job = DossierExport(requested_by=actor, file_format=file_format, query=query, statuses=list(statuses))
    job.full_clean()
    job.save()
    dossier_export_record(
        actor=actor, file_format=file_format, query=query, statuses=statuses, rows=0, job=str(job.pk)
    )
    # robust: with in-process tasks a failed build must not undo the request; the job says so.
    transaction.on_commit(lambda: _enqueue(job.pk), robust=True)
    return job


def _purge_old_exports() -> None:
    """Delete the files older than a day, through the storage API (file system or S3 alike)."""
    cutoff = timezone.now() - FILE_LIFETIME
    try:
        _folders, names = default_storage.listdir(EXPORTS_DIR)
    except FileNotFoundError:
        return
    for name in names:
        path = f"{EXPORTS_DIR}/{name}"
        try:
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
        except FileNotFoundError:  # removed meanwhile by another build
            continue


def _start(job_id: UUID | str) -> DossierExport | None:
    """The job, moved to running (or left running: a redelivered task); None if there is nothing to do."""
    with transaction.atomic():
        job = DossierExport.objects.select_for_update().filter(pk=job_id).first()
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


def _write(job: DossierExport, handle: Any) -> None:
    """The job's file, its dossiers read again within its author's scope of the moment."""
    user = job.requested_by
    filters = exports.list_filters(user, job.query)
    table = exports.DossierTable(exports.exported_dossiers(user, filters, job.statuses), viewer=user)
    total = table.count()
    DossierExport.objects.filter(pk=job.pk).update(done=0, total=total)

    def progress(done: int, expected: int) -> None:
        DossierExport.objects.filter(pk=job.pk).update(done=done, total=max(done, expected))

    if job.file_format == DossierExport.Format.XLSX:
        exports.xlsx_write(table, handle, total=total, progress=progress)
        return
    done = 0
    for chunk in exports.csv_stream(table):
        handle.write(chunk.encode())
        done += chunk.count("\n")
        progress(min(max(done - 1, 0), total), total)


def dossier_export_build(*, job_id: UUID | str) -> None:
    """Build a job's file, its progress saved on the row. Idempotent (see the module).

    The file is written to a local temporary file, then saved whole into the media storage: a
    download never sees half a file.
    """
    job = _start(job_id)
    if job is None:
        return
    name = export_file_name(job.pk, job.file_format)
    _purge_old_exports()

    def write(handle: IO[bytes]) -> None:
        with reading_from_replica():
            _write(job, handle)

    def fail(error: Exception) -> None:
        transition(
            job=job,
            to_status=S.FAILED,
            note=repr(error)[:1000],
            error=repr(error)[:1000],
            finished_at=timezone.now(),
        )

    saved = build_and_store(name=name, suffix=f".{job.file_format}", write=write, fail=fail)
    with transaction.atomic():
        current = DossierExport.objects.get(pk=job.pk)
        transition(
            job=current,
            to_status=S.DONE,
            file_name=saved,
            done=current.total,
            finished_at=timezone.now(),
        )


def dossier_exports_sweep(*, now: datetime | None = None) -> dict[str, int]:
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
