"""What every log line says about the work it belongs to: the request id, the acting user, the dossier.

The values live in context variables: a request (config.observability.middleware) or a task
(config.observability.tasks) sets them when it starts and clears them when it ends, and
`LogContextFilter`, on every handler, copies them onto each record, whatever logger made it.
Threads and tasks run in process inherit nothing by accident: each request starts from a clean
context. The fields are listed in docs/operations.md (« Journaux »).

Only identifiers go here, never personal data: the user's id (not the e-mail), the dossier's or the
agreement's reference (not the organisation's name).
"""

import logging
import re
import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
user_id_var: ContextVar[str] = ContextVar("user_id", default="")
reference_var: ContextVar[str] = ContextVar("reference", default="")
task_var: ContextVar[str] = ContextVar("task", default="")
task_id_var: ContextVar[str] = ContextVar("task_id", default="")

# An incoming X-Request-ID is kept only if it is short and plain: it goes into logs and headers, so
# no spaces, no quotes, no control characters (log injection), at most 64 characters.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

FIELDS = ("request_id", "user_id", "reference", "task", "task_id")


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str:
    """The id a proxy (or a caller) gave, if it may be trusted as a token; a new one otherwise."""
    if value and _SANE_REQUEST_ID.match(value):
        return value
    return new_request_id()


def current_request_id() -> str:
    return request_id_var.get()


def bind_reference(reference: str) -> None:
    """Name the dossier (FDT-2026-00042) or the agreement the current request or task works on.

    Views whose address has a `reference` or a `number` get it without calling this; a view or a
    service that finds its dossier another way calls it once it knows which one.
    """
    reference_var.set(str(reference)[:64])


def bind_user_id(user_id: object) -> None:
    user_id_var.set("" if user_id is None else str(user_id))


def clear() -> None:
    for var in (request_id_var, user_id_var, reference_var, task_var, task_id_var):
        var.set("")


def snapshot() -> dict[str, str]:
    return {
        "request_id": request_id_var.get(),
        "user_id": user_id_var.get(),
        "reference": reference_var.get(),
        "task": task_var.get(),
        "task_id": task_id_var.get(),
    }


class LogContextFilter(logging.Filter):
    """Adds the fields of the current context to every record (empty strings outside any)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in snapshot().items():
            # A value set by the caller (`extra=`) wins over the context's.
            if not getattr(record, name, ""):
                setattr(record, name, value)
        return True
