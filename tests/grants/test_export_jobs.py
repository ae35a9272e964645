"""The budget workbook's job: a row with its states (one table, one funnel), queued after commit,
kept when the broker is down, and queued again by the sweep.

The broker outage with a real Redis and a worker is in tests/integration/test_export_jobs.py.
"""

import itertools
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from accounts.models import AuditEvent
from grants import export_jobs
from grants.export_jobs import TRANSITIONS, export_job_create, export_jobs_sweep, transition
from grants.models import ExportJob
from grants.tasks.exports import budget_report_build_task
from tests.factories import CallFactory, programme_admin

pytestmark = pytest.mark.django_db

S = ExportJob.Status
WAITING = "l'export démarrera dès qu'elle sera rétablie"


def job_in(status: str) -> ExportJob:
    job = export_job_create(call=CallFactory(), actor=programme_admin())
    ExportJob.objects.filter(pk=job.pk).update(status=status, file_name=f"exports/{job.pk}.xlsx")
    job.refresh_from_db()
    return job


@pytest.mark.parametrize(("from_status", "to_status"), list(itertools.product(S.values, S.values)))
def test_every_move_of_the_table_is_allowed_and_every_other_refused(from_status, to_status):
    job = job_in(from_status)
    if to_status in TRANSITIONS[from_status]:
        with transaction.atomic():
            moved = transition(job=job, to_status=to_status, file_name=f"exports/{job.pk}.xlsx")
        assert moved.status == to_status
        change = job.changes.get()
        assert (change.from_status, change.to_status) == (from_status, to_status)
    else:
        with pytest.raises(ValidationError, match="ne peut pas passer"), transaction.atomic():
            transition(job=job, to_status=to_status)
        assert ExportJob.objects.get(pk=job.pk).status == from_status
        assert not job.changes.exists()


def refuse_publication(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    refused: list[str] = []

    def delay(job_id: str) -> None:
        refused.append(job_id)
        raise BrokerError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(budget_report_build_task, "delay", delay)
    return refused


def test_with_the_broker_down_the_job_is_kept_the_page_says_it_will_start_and_the_sweep_runs_it(
    client, monkeypatch, django_capture_on_commit_callbacks, task_queues
):
    call = CallFactory()
    admin = programme_admin()
    client.force_login(admin)
    with monkeypatch.context() as patched:
        refused = refuse_publication(patched)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("grants:export-xlsx-start", args=[call.slug]))
        assert task_queues.sent == []  # refused by the broker
        assert response.status_code == 302
        job = ExportJob.objects.get()
        assert refused == [str(job.pk)]
        assert (job.status, job.waiting_for_queue, job.requested_by) == (S.QUEUED, True, admin)
        assert AuditEvent.objects.filter(action="export.budget_report", data__job=str(job.pk)).exists()

        page = client.get(response.url).content.decode()
        assert WAITING in page and 'hx-trigger="every 2s"' in page
        # Still down at the sweep: nothing lost, still waiting.
        assert export_jobs_sweep() == {"queued": 0, "failed": 0}
        assert ExportJob.objects.get(pk=job.pk).waiting_for_queue

    # The broker is back: the sweep queues it without waiting its grace; the reports worker builds it.
    assert export_jobs_sweep() == {"queued": 1, "failed": 0}
    assert [message.queue for message in task_queues.in_queue("reports")] == ["reports"]
    task_queues.drain()
    job.refresh_from_db()
    assert (job.status, job.waiting_for_queue, job.done == job.total) == (S.DONE, False, True)
    html = client.get(reverse("grants:export-job-status", kwargs={"job_id": job.pk})).content.decode()
    assert WAITING not in html and reverse("grants:export-job-download", kwargs={"job_id": job.pk}) in html
    assert [(c.from_status, c.to_status) for c in job.changes.all()] == [
        (S.QUEUED, S.RUNNING),
        (S.RUNNING, S.DONE),
    ]


def test_the_sweep_leaves_young_jobs_to_their_task_and_queues_old_ones(monkeypatch):
    published: list[str] = []
    monkeypatch.setattr(budget_report_build_task, "delay", published.append)
    young = export_job_create(call=CallFactory(), actor=programme_admin())
    assert export_jobs_sweep() == {"queued": 0, "failed": 0} and published == []
    assert export_jobs_sweep(now=timezone.now() + timedelta(minutes=6)) == {"queued": 1, "failed": 0}
    assert published == [str(young.pk)]


def test_a_job_whose_worker_died_is_queued_again_then_failed_after_five_attempts(monkeypatch):
    published: list[str] = []
    monkeypatch.setattr(budget_report_build_task, "delay", published.append)
    job = job_in(S.RUNNING)
    long_ago = timezone.now() - timedelta(minutes=21)
    ExportJob.objects.filter(pk=job.pk).update(started_at=long_ago, attempts=1)
    assert export_jobs_sweep() == {"queued": 1, "failed": 0}
    assert ExportJob.objects.get(pk=job.pk).status == S.QUEUED and published == [str(job.pk)]

    ExportJob.objects.filter(pk=job.pk).update(status=S.RUNNING, attempts=export_jobs.MAX_ATTEMPTS)
    assert export_jobs_sweep() == {"queued": 0, "failed": 1}
    assert ExportJob.objects.get(pk=job.pk).status == S.FAILED


def test_a_job_finishing_while_the_sweep_runs_is_left_alone_and_the_sweep_goes_on(monkeypatch):
    published: list[str] = []
    monkeypatch.setattr(budget_report_build_task, "delay", published.append)
    long_ago = timezone.now() - timedelta(minutes=21)
    finishing, lost = job_in(S.RUNNING), job_in(S.RUNNING)
    ExportJob.objects.filter(pk__in=[finishing.pk, lost.pk]).update(started_at=long_ago, attempts=1)
    real_atomic = export_jobs.transaction.atomic
    entered: list[int] = []

    def atomic_after_the_worker(*args: object, **kwargs: object) -> object:
        # Between the sweep's query and its lock, the first job's worker comes back and finishes.
        if not entered:
            entered.append(1)
            with real_atomic():
                transition(job=finishing, to_status=S.DONE, file_name=f"exports/{finishing.pk}.xlsx")
        return real_atomic(*args, **kwargs)

    monkeypatch.setattr(export_jobs.transaction, "atomic", atomic_after_the_worker)
    assert export_jobs_sweep() == {"queued": 1, "failed": 0}
    monkeypatch.setattr(export_jobs.transaction, "atomic", real_atomic)

    assert ExportJob.objects.get(pk=finishing.pk).status == S.DONE
    assert [(c.from_status, c.to_status) for c in finishing.changes.all()] == [(S.RUNNING, S.DONE)]
    assert ExportJob.objects.get(pk=lost.pk).status == S.QUEUED and published == [str(lost.pk)]
    change = lost.changes.get()
    assert change.actor is None and change.actor_label == "système"
    assert "système" in str(change)


def test_a_change_made_by_someone_names_them():
    job = job_in(S.QUEUED)
    admin = programme_admin()
    with transaction.atomic():
        transition(job=job, to_status=S.FAILED, note="annulé", actor=admin)
    change = job.changes.get()
    assert change.actor == admin and change.actor_label == admin.email


def test_progress_never_passes_the_total_in_the_database():
    job = job_in(S.RUNNING)
    with pytest.raises(ValidationError, match="progression"):
        job.done, job.total = 5, 3
        job.full_clean()
