"""The budget workbook's job with a real Redis and a worker: asked for while the broker is down,
it is kept (no HTTP 500), its page says it will start once the queue is back, and the sweep has
it built by the worker; asked for with the broker up, the worker builds it straight away.

Skipped (reason shown) without DATABASE_URL=postgres://... and CELERY_BROKER_URL; failing instead
with CI=true (see tests/conftest.py).
"""

import io
import os
from collections.abc import Callable, Iterator

import openpyxl
import pytest
from django.urls import reverse

from config.celery import app
from grants.export_jobs import export_jobs_sweep
from grants.models import ExportJob
from tests.factories import CallFactory, close_response, programme_admin
from tests.integration.test_decisions_chain import (  # noqa: F401 (fixtures)
    CLOSED_BROKER,
    Chain,
    chain,
    committed_db,
    forget_broker_pools,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker, pytest.mark.slow]

WAITING = "l'export démarrera dès qu'elle sera rétablie"


@pytest.fixture
def exports_to_chain(chain: Chain) -> Iterator[Chain]:  # noqa: F811 (the imported fixture)
    """The export tasks of this process go to the chain's queue, through the broker."""
    previous = {"task_always_eager": app.conf.task_always_eager, "task_routes": app.conf.task_routes}
    app.conf.update(task_always_eager=False, task_routes={"grants.tasks_exports.*": {"queue": chain.queue}})
    try:
        yield chain
    finally:
        app.conf.update(**previous)


def status(job: ExportJob) -> Callable[[], bool]:
    def done() -> bool:
        job.refresh_from_db()
        return job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED)

    return done


def test_an_export_asked_for_with_the_broker_down_starts_once_it_is_back(
    client, exports_to_chain: Chain, monkeypatch: pytest.MonkeyPatch
):
    call = CallFactory()
    admin = programme_admin()
    client.force_login(admin)

    real_broker = os.environ["CELERY_BROKER_URL"]
    monkeypatch.setenv("CELERY_BROKER_URL", CLOSED_BROKER)
    app.conf.broker_url = CLOSED_BROKER
    forget_broker_pools()
    try:
        response = client.post(reverse("grants:export-xlsx-start", args=[call.slug]))
        assert response.status_code == 302
        page = client.get(response.url)
        assert page.status_code == 200
    finally:
        monkeypatch.setenv("CELERY_BROKER_URL", real_broker)
        app.conf.broker_url = real_broker
        forget_broker_pools()
    waiting = ExportJob.objects.get()
    assert (waiting.status, waiting.waiting_for_queue) == (ExportJob.Status.QUEUED, True)
    assert WAITING in page.content.decode()

    worker = exports_to_chain.start()
    assert export_jobs_sweep() == {"queued": 1, "failed": 0}
    worker.wait_for(status(waiting), "the swept workbook to be built")
    assert (waiting.status, waiting.waiting_for_queue) == (ExportJob.Status.DONE, False)

    # With the broker up, the job runs at once.
    response = client.post(reverse("grants:export-xlsx-start", args=[call.slug]))
    job = ExportJob.objects.exclude(pk=waiting.pk).get()
    worker.wait_for(status(job), "the workbook to be built")
    assert (job.status, job.waiting_for_queue) == (ExportJob.Status.DONE, False)
    file = client.get(reverse("grants:export-job-download", kwargs={"job_id": job.pk}))
    assert file.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(file.streaming_content)), read_only=True)
    close_response(file)
    assert workbook.sheetnames[0] == "Synthèse"
    assert WAITING not in client.get(response.url).content.decode()
