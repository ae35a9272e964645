"""config.db_routers: the budget reports' reads on the replica, inside `reading_from_replica()` only."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections

from config import db_routers
from config.db_routers import ReplicaRouter, reading_from_replica
from notifications.models import Document

ROOT = Path(__file__).resolve().parents[2]

# Two SQLite files stand for the primary and its standby: the same table in both, one row more on
# the primary, so that a count tells which database answered.
ROUTED = """
import shutil, sys
import django

django.setup()
from django.contrib.contenttypes.models import ContentType
from django.db import connections, transaction

from config.db_routers import reading_from_replica

with connections["default"].schema_editor() as editor:
    editor.create_model(ContentType)
connections["default"].close()
shutil.copyfile(sys.argv[1], sys.argv[2])  # the standby, as of now
ContentType.objects.create(app_label="primary", model="only")  # not replicated yet

outside = ContentType.objects.count()
with reading_from_replica():
    inside = ContentType.objects.count()
    with transaction.atomic():
        in_transaction = ContentType.objects.count()
    written = ContentType.objects.create(app_label="written", model="inside")
after = ContentType.objects.count()
print(outside, inside, in_transaction, written._state.db, after)
"""


@pytest.fixture
def replica(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if DATABASE_REPLICA_URL were set (the alias itself is never used by these tests)."""
    monkeypatch.setattr(db_routers, "replica_configured", lambda: True)
    monkeypatch.setattr(connections["default"], "in_atomic_block", False)


def test_without_a_replica_the_router_has_no_opinion() -> None:
    router = ReplicaRouter()
    with reading_from_replica():
        assert router.db_for_read(Document) is None
        assert router.db_for_write(Document) is None
    assert router.allow_migrate("default", "notifications") is None


@pytest.mark.usefixtures("replica")
def test_reads_go_to_the_replica_only_inside_the_context_manager() -> None:
    router = ReplicaRouter()
    assert router.db_for_read(Document) == "default"
    with reading_from_replica():
        assert router.db_for_read(Document) == "replica"
        with reading_from_replica():  # nested: still on, and still on once the inner block ends
            assert router.db_for_read(Document) == "replica"
        assert router.db_for_read(Document) == "replica"
    assert router.db_for_read(Document) == "default"


@pytest.mark.usefixtures("replica")
def test_writes_transactions_and_migrations_stay_on_the_primary(monkeypatch: pytest.MonkeyPatch) -> None:
    router = ReplicaRouter()
    with reading_from_replica():
        assert router.db_for_write(Document) == "default"
        monkeypatch.setattr(connections["default"], "in_atomic_block", True)
        assert router.db_for_read(Document) == "default"
    assert router.allow_migrate("replica", "notifications") is False
    assert router.allow_migrate("default", "notifications") is None


@pytest.mark.usefixtures("replica")
def test_rows_of_both_databases_may_be_related() -> None:
    router = ReplicaRouter()
    on_replica, on_primary = Document(), Document()
    on_replica._state.db, on_primary._state.db = "replica", "default"
    assert router.allow_relation(on_replica, on_primary) is True


def test_with_database_replica_url_the_queries_really_go_there(tmp_path: Path) -> None:
    primary, standby = tmp_path / "primary.sqlite3", tmp_path / "standby.sqlite3"
    names: set[str] = set()
    for path in (ROOT / "config").rglob("*.py"):
        names.update(re.findall(r"""\(\s*["']([A-Z][A-Z0-9_]*)["']""", path.read_text(encoding="utf-8")))
    environment = {k: v for k, v in os.environ.items() if k not in names}
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"sqlite:///{primary}",
        DATABASE_REPLICA_URL=f"sqlite:///{standby}",
    )
    result = subprocess.run(
        [sys.executable, "-c", ROUTED, str(primary), str(standby)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outside, inside, in_transaction, written_on, after = result.stdout.split()
    # The primary has the row; the standby, copied before it, does not.
    assert (outside, inside) == ("1", "0")
    # Inside a transaction of the primary, reads see the primary, replica or not.
    assert in_transaction == "1"
    # Writes inside the block go to the primary, and reads after it are back there.
    assert (written_on, after) == ("default", "2")
