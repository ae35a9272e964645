"""The broker, as the tests see it: what the portal sends is held, and run as a worker runs it.

The portal sends its tasks after commit (`transaction.on_commit`); a worker takes them from their
queue, runs them with a request of its own (not eager: `request.is_eager` is False), and a task
that asks for a retry sends itself again, with its delay, to the queue it came from. `TaskQueues`
replaces `app.send_task` (the one door every `.delay()` and `.apply_async()` goes through when
tasks are not run in process) and keeps the messages; `drain()` then runs them, in the order a
single worker consuming every queue would: the earliest due first, then the first sent. A retry's
countdown moves a clock of the queues' own, so a test waits for nothing. Celery's own retry logic
(`autoretry_for`, `max_retries`, `self.retry(countdown=...)`) runs unchanged.

The integration tests start real workers on queues of their own (`app.conf.task_routes`, or a
`queue=` of the call): a message routed to a queue that is not one of the portal's goes on to the
real broker (`passthrough`), for the worker that consumes it.
"""

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from celery.exceptions import Retry
from celery.result import AsyncResult


@dataclass
class Message:
    task: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    queue: str
    retries: int
    due: float
    id: str
    seq: int


@dataclass
class Run:
    """One delivery run by `drain()`: its message, and how it ended."""

    message: Message
    outcome: str  # "done", "retry" or "failed"
    result: Any = None
    error: BaseException | None = None


class TasksFailed(AssertionError):
    def __init__(self, failed: list[Run]) -> None:
        lines = [f"{run.message.task}{run.message.args}: {run.error!r}" for run in failed]
        super().__init__("tasks failed while draining the queues:\n" + "\n".join(lines))
        self.failed = failed


@dataclass
class TaskQueues:
    app: Celery
    # The portal's queues (CELERY_TASK_ROUTES and the default one): held here. Any other queue is
    # a real worker's, started by the test: its messages go to `passthrough`, the real send_task.
    portal_queues: frozenset[str] = frozenset()
    passthrough: Callable[..., AsyncResult] | None = None
    messages: list[Message] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    clock: float = 0.0
    _seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the broker's side ---------------------------------------------------------------------

    def send_task(
        self,
        name: str,
        args: Iterable[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        countdown: float | None = None,
        eta: Any = None,
        task_id: str | None = None,
        retries: int = 0,
        queue: Any = None,
        **options: Any,
    ) -> AsyncResult:
        # The queue a worker would take it from: the one named in the call (a retry names the queue
        # its delivery came from), else the project's routes.
        if queue is None and options.get("exchange") == "" and options.get("routing_key"):
            queue = options["routing_key"]
        if queue is None:
            route = self.app.amqp.router.route(options, name, args=tuple(args or ()), kwargs=kwargs or {})
            queue = route["queue"]
        queue_name = str(getattr(queue, "name", queue))
        if self.passthrough is not None and queue_name not in self.portal_queues:
            return self.passthrough(
                name,
                args,
                kwargs,
                countdown=countdown,
                eta=eta,
                task_id=task_id,
                retries=retries,
                queue=queue,
                **options,
            )
        if eta is not None:
            raise NotImplementedError("TaskQueues holds countdowns, not ETAs")
        task_id = task_id or str(uuid.uuid4())
        with self._lock:
            self._seq += 1
            self.messages.append(
                Message(
                    task=name,
                    args=tuple(args or ()),
                    kwargs=dict(kwargs or {}),
                    queue=queue_name,
                    retries=retries,
                    due=self.clock + (countdown or 0),
                    id=task_id,
                    seq=self._seq,
                )
            )
        return AsyncResult(task_id, app=self.app)

    # --- what the tests read -------------------------------------------------------------------

    @property
    def sent(self) -> list[str]:
        """The names of the tasks waiting in the queues, first sent first."""
        with self._lock:
            return [message.task for message in sorted(self.messages, key=lambda m: m.seq)]

    def in_queue(self, queue: str) -> list[Message]:
        with self._lock:
            return [message for message in self.messages if message.queue == queue]

    def clear(self) -> None:
        """Drop every waiting message, as a purged broker would (the rows stay for the sweep)."""
        with self._lock:
            self.messages.clear()

    # --- the worker's side ---------------------------------------------------------------------

    def _next(self) -> Message | None:
        with self._lock:
            if not self.messages:
                return None
            message = min(self.messages, key=lambda m: (m.due, m.seq))
            self.messages.remove(message)
            self.clock = max(self.clock, message.due)
            return message

    def run_one(self, message: Message) -> Run:
        """Run one delivery as a worker does: its own request, not eager, the task's retry policy."""
        task = self.app.tasks[message.task]
        task.push_request(
            id=message.id,
            args=list(message.args),
            kwargs=message.kwargs,
            retries=message.retries,
            is_eager=False,
            called_directly=False,
            delivery_info={"exchange": "", "routing_key": message.queue, "redelivered": False},
            hostname="tests@drain",
            ignore_result=True,
        )
        try:
            result = task.run(*message.args, **message.kwargs)
        except Retry:
            # The retry was sent (back to this queue, with its countdown) before this was raised.
            run = Run(message, "retry")
        except Exception as error:
            run = Run(message, "failed", error=error)
        else:
            run = Run(message, "done", result=result)
        finally:
            task.pop_request()
        self.runs.append(run)
        return run

    def drain(self, *, raise_failures: bool = True, limit: int = 1000) -> list[Run]:
        """Run every message, and those they send, until the queues are empty; returns the runs.

        A task that fails for good (its retries used up, or an error it does not retry) is logged
        by a worker and the next message is taken: so here, and the failures are raised at the end
        unless `raise_failures=False` (then read them on the returned runs).
        """
        runs: list[Run] = []
        while (message := self._next()) is not None:
            if len(runs) >= limit:
                raise AssertionError(f"still sending after {limit} tasks: {self.sent[:10]}")
            runs.append(self.run_one(message))
        failed = [run for run in runs if run.outcome == "failed"]
        if failed and raise_failures:
            raise TasksFailed(failed)
        return runs
