"""gunicorn's hooks (`gunicorn --config python:config.gunicorn`): the metrics of several workers.

With PROMETHEUS_MULTIPROC_DIR set, each worker process writes its counters to files in that folder
and a scrape of /metrics, answered by any one of them, sums them all (prometheus_client's
multiprocess mode). The folder must start empty (files left by a previous run would be counted
again), and a worker that exits is marked dead so that its live gauges are dropped.
"""

import os
import shutil
from pathlib import Path
from typing import Any


def on_starting(server: Any) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
