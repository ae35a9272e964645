"""Shared fixtures, and the rule for tests that need a service.

Without CI=true, a test marked `postgres`, `redis` or `worker` is skipped with the reason shown
when its service is absent, so `make test` passes on a machine that has only Python. With
CI=true the same absence is a failure: CI must run every test.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.task_queues import TaskQueues

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing_service(marker: str) -> str | None:
    if marker == "postgres" and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker in {"redis", "worker"} and not os.environ.get("CELERY_BROKER_URL"):
        return "needs Redis: set CELERY_BROKER_URL=redis://..."
    if marker == "browser" and not shutil.which(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")):
        return "needs Debian's chromium at /usr/bin/chromium"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("postgres", "redis", "worker", "browser"):
        if item.get_closest_marker(marker) is None:
            continue
        reason = _missing_service(marker)
        if reason is None:
            continue
        if IN_CI:
            pytest.fail(f"CI=true but this test {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _media_root(tmp_path: Path, settings) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """Every test writes its files in a folder of its own."""
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = str(media)
    yield media


@pytest.fixture(autouse=True)
def _reset_axes_cache() -> Iterator[None]:
    yield
    from django.core.cache import caches

    # The pages' cache too: a test's data version may come again in the next test.
    for alias in ("default", "pages"):
        caches[alias].clear()


@pytest.fixture(autouse=True)
def _force_login_gives_the_second_factor(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`client.force_login()` stands for the whole login, second factor included.

    It already skips the password; for an instructor or an admin it now also records a verified
    authenticator in the session, as the verification page does. The tests of two-factor
    authentication itself are marked `password_only` and log in as a real user would.
    """
    if request.node.get_closest_marker("password_only") is not None:
        return
    from django.test import Client

    from tests.factories import give_second_factor

    original = Client.force_login

    def force_login(self: Client, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        give_second_factor(self, user)

    monkeypatch.setattr(Client, "force_login", force_login)


COUNTER_TABLES = ("applications_dossiercount", "accounts_groupheadcount")


@pytest.fixture(autouse=True, scope="session")
def _flush_empties_the_counters_last() -> Iterator[None]:
    """A flush (the end of each transactional test) leaves the counter tables empty, as the data.

    PostgreSQL flushes with TRUNCATE, which fires no row trigger. SQLite deletes table by table
    in no fixed order, so the triggers may write counts for rows deleted after the counter table
    was emptied: on SQLite the flush empties the counter tables once more, last.
    """
    if connection.vendor != "sqlite":
        yield
        return
    DatabaseOperations = type(connection.ops)
    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, **kwargs):  # type: ignore[no-untyped-def]
        statements = original(self, style, tables, **kwargs)
        return statements + [f"DELETE FROM {table};" for table in COUNTER_TABLES if table in tables]

    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]
    yield
    DatabaseOperations.sql_flush = original  # type: ignore[method-assign]


# --- Task queues: tests drain them as workers do ------------------------------------------------
# Nothing runs tasks in process: what the portal sends after commit to its own queues waits in
# `task_queues` until the test calls `task_queues.drain()` (tests/task_queues.py). The integration
# tests route tasks to queues of their own, consumed by the real workers they start: those
# messages go on to the real broker.


@pytest.fixture(autouse=True)
def task_queues(monkeypatch: pytest.MonkeyPatch) -> TaskQueues:
    from django.conf import settings

    from config.celery import app

    portal_queues = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    queues = TaskQueues(
        app=app,
        portal_queues=frozenset({*portal_queues, settings.CELERY_TASK_DEFAULT_QUEUE}),
        passthrough=app.send_task,
    )
    monkeypatch.setattr(app, "send_task", queues.send_task)
    return queues
