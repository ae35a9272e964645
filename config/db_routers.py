"""Reads of the budget reports on a read replica, when one is configured.

`DATABASE_REPLICA_URL` adds a "replica" database (a PostgreSQL hot standby of "default"). Nothing
goes there by itself: only the reads made inside `reading_from_replica()` do, so that a report
that scans every grant and tranche of a call does not compete with the awards and payments on
the primary. Everything else stays on "default":

- every write, even of an object that was read from the replica;
- every read outside the context manager, related objects of replica rows included;
- every read inside a transaction of "default" (`transaction.atomic()`), which must see its own
  writes and the rows it locked: a standby lags behind, if only by a fraction of a second;
- every migration: the standby replays the primary's.

Without a replica the router has no opinion and Django behaves as with no router at all, and the
context manager changes nothing; code can adopt it before any replica exists.

    from config.db_routers import reading_from_replica

    with reading_from_replica():
        rows = list(report_rows_grants(call))

The flag lives in a context variable: it is per thread (and per asyncio task), and a generator
that streams a response must enter the context manager inside its own body, since it runs after
the view has returned.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"

_reading_from_replica: ContextVar[bool] = ContextVar("reading_from_replica", default=False)


@contextmanager
def reading_from_replica() -> Iterator[None]:
    """Within this block, reads outside a transaction go to the replica (when there is one)."""
    token = _reading_from_replica.set(True)
    try:
        yield
    finally:
        _reading_from_replica.reset(token)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    """Reads inside `reading_from_replica()` on "replica"; everything else on "default"."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        if not replica_configured():
            return None
        if _reading_from_replica.get() and not connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return REPLICA
        # Explicitly, or Django would follow a replica row's own database to its related rows.
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        if not replica_configured():
            return None
        # Explicitly, or saving an object read from the replica would write to the standby.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        if not replica_configured():
            return None
        # The same rows on both sides: a row read from the replica may point to one of "default".
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if db == REPLICA:
            return False  # a standby is read-only and replays the primary's migrations
        return None
