"""The Celery application, shared by the web processes (to send) and the workers (to run)."""

import gc
import logging
import os
import time
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("fabriques")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The request id from the web process into the task's headers, and into the worker's logs.
import config.observability.tasks  # noqa: E402, F401

logger = logging.getLogger("config.celery")

# The task whose queue makes a worker a renderer of documents.
RENDER_TASK = "notifications.tasks.document_render_task"


def renders_documents(worker: Any) -> bool:
    """Whether this worker consumes the queue of the documents (all queues when no -Q was given)."""
    from django.conf import settings

    queue = settings.CELERY_TASK_ROUTES.get(RENDER_TASK, {}).get("queue", settings.CELERY_TASK_DEFAULT_QUEUE)
    consumed = worker.app.amqp.queues.consume_from
    return consumed is None or queue in consumed


@signals.worker_init.connect
def prepare_worker(sender: Any = None, **kwargs: Any) -> None:
    """In the worker's main process, once, before it forks its pool (docs/performance.md « Worker pool »).

    Sent after the queues of -Q are selected and after Celery's Django fixup has set Django up (its
    receiver is connected when the app is made, before this one). Every worker keeps its database
    connections between tasks under Django's rule; a worker of the documents' queue loads the
    renderer here, so that every child starts warm; every worker then freezes its heap.
    """
    if sender is None:
        return
    from notifications.pdf import freeze_heap, warm_up

    # Inherited by the pool's children, which run the tasks.
    signals.task_prerun.connect(close_old_database_connections, weak=False)
    signals.task_postrun.connect(close_old_database_connections, weak=False)

    if renders_documents(sender):
        began = time.perf_counter()
        warm_up()
        logger.info(
            "Document renderer loaded before forking, in %.0f ms", (time.perf_counter() - began) * 1000
        )
    freeze_heap()
    logger.info("Heap frozen before forking: %d objects out of the collector's sight", gc.get_freeze_count())


def close_old_database_connections(**kwargs: Any) -> None:
    """Around each task of a worker, what Django does around each request: close the connections
    that are past CONN_MAX_AGE, broken, or left in a transaction (`close_old_connections`).

    Connected by `prepare_worker`, so only in a worker: a task run in process (`make demo`) leaves
    the connections to the request it runs in. Celery's fixup would close them all at each task
    (CELERY_DB_REUSE_MAX, settings).
    """
    from django.db import close_old_connections

    close_old_connections()
