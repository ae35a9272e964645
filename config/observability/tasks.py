"""The request id follows the tasks a request queues, into the worker's logs.

`before_task_publish` runs in the process that sends (a web process, or a task queuing another): it
puts the current request id into the message's headers, with the time of sending (read back by the
queue-age metric, config.observability.metrics: kombu's Redis messages carry no time of their own).
`task_prerun` runs in the worker's child before the task: it sets the log context from those
headers; `task_postrun` gives back the context that was there before (a task run in process, by
`make demo`, has no such header and keeps its request's context).
"""

import time
from typing import Any

from celery import signals

from core import log_context

REQUEST_ID_HEADER = "request_id"
PUBLISHED_AT_HEADER = "published_at"

_saved: dict[str, dict[str, str]] = {}


@signals.before_task_publish.connect(weak=False, dispatch_uid="log_context_publish")
def add_context_headers(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is None:
        return
    request_id = log_context.current_request_id()
    if request_id:
        headers.setdefault(REQUEST_ID_HEADER, request_id)
    headers[PUBLISHED_AT_HEADER] = time.time()


@signals.task_prerun.connect(weak=False, dispatch_uid="log_context_prerun")
def set_task_context(task_id: str = "", task: Any = None, **kwargs: Any) -> None:
    _saved[task_id] = log_context.snapshot()
    request = getattr(task, "request", None)
    request_id = request.get(REQUEST_ID_HEADER) if request is not None else None
    if isinstance(request_id, str):
        # A message sent during a request: the worker takes on its id, and nothing else of what
        # this process held. Checked again, since anyone who may write to the broker may set it.
        log_context.clear()
        log_context.request_id_var.set(log_context.sane_request_id(request_id))
    # Without the header (a task sent by beat, or one run in this very process, which keeps the
    # context of the request it runs in) the context stays as it stands.
    log_context.task_var.set(getattr(task, "name", "") or "")
    log_context.task_id_var.set(task_id or "")


@signals.task_postrun.connect(weak=False, dispatch_uid="log_context_postrun")
def restore_context(task_id: str = "", **kwargs: Any) -> None:
    previous = _saved.pop(task_id, None)
    if previous is None:
        return
    log_context.request_id_var.set(previous["request_id"])
    log_context.user_id_var.set(previous["user_id"])
    log_context.reference_var.set(previous["reference"])
    log_context.task_var.set(previous["task"])
    log_context.task_id_var.set(previous["task_id"])
