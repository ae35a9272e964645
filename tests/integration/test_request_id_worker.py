"""The request id from a web request to a real `celery worker` process's JSON log lines.

PostgreSQL, Redis and a worker process started with LOG_FORMAT=json on a queue of its own (the
helper of test_worker_chain.py). A request queues a task there; the worker's lines about that
task, parsed as JSON, carry the request's id.
"""

import json
import uuid
from pathlib import Path

import pytest
from django.test import Client

from tests.config.observability_urls import SENT
from tests.integration.test_worker_chain import running_worker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker, pytest.mark.slow]


@pytest.mark.urls("tests.config.observability_urls")
def test_the_worker_logs_the_request_id_of_the_request_that_queued_its_task(
    _media_root: Path,
    transactional_db,  # type: ignore[no-untyped-def]
    django_db_serialized_rollback,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    with running_worker(_media_root, tmp_path, kind="default") as worker:
        SENT.clear()
        response = Client().get(f"/tests/queue/{worker.queue}/", headers={"X-Request-ID": request_id})
        assert response["X-Request-ID"] == request_id
        [task_id] = SENT

        def task_lines() -> list[dict[str, str]]:
            lines = []
            for line in worker.log().splitlines():
                if line.startswith("{"):
                    record = json.loads(line)
                    if record.get("task_id") == task_id:
                        lines.append(record)
            return lines

        worker.wait_for(lambda: any("succeeded" in r["message"] for r in task_lines()), "the task's success")
    lines = task_lines()
    assert lines
    assert {r["request_id"] for r in lines} == {request_id}
    assert {r["task"] for r in lines} == {"core.tasks.data_changes_prune_task"}
