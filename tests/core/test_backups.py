"""Backups that restore (core/backups.py, `manage.py backup` and `restore`).

The drill (`test_restore_drill_on_postgresql`, marked postgres: CI runs it) seeds dossiers,
grants, a payment and their documents with files, backs them up with the real pg_dump of the
server's version, restores into a new database and media root with pg_restore, and checks the
rows of every table, the files' SHA-256 and `envelope_check` identical on the restored database.
The other tests run on whichever database the suite has (SQLite by default: the `make demo`
path, a copy through SQLite's backup API).
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from applications.models import Application
from core import backups
from core.backups import media as backups_media
from core.formatting import format_money
from grants.models import Agreement, Grant, Tranche
from grants.services import application_award, application_refuse
from grants.services.agreements import agreement_accept, agreement_activate
from grants.services.payments import tranche_pay, tranche_request, tranche_validate
from notifications.models import Document
from tests.factories import CallFactory, complete_application, in_review_application, programme_admin
from tests.task_queues import TaskQueues

# pg_dump reads what is committed: the tests that back up commit their rows.
committed = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
IBAN = "FR7630006000011234567890189"


# --- Helpers ------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): sha256(path) for path in sorted(root.rglob("*")) if path.is_file()
    }


def live_counts() -> dict[str, int]:
    """Rows of every table of the test database, counted here independently of core/backups.py."""
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def restored_query(target: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    if "sqlite" in target["ENGINE"]:
        database = sqlite3.connect(target["NAME"])
        try:
            return list(database.execute(sql))
        finally:
            database.close()
    import psycopg2

    database = psycopg2.connect(
        dbname=target["NAME"],
        user=target["USER"],
        password=target["PASSWORD"],
        host=target["HOST"] or None,
        port=target["PORT"] or None,
    )
    try:
        with database.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        database.close()


def restored_counts(target: dict[str, Any], tables: list[str]) -> dict[str, int]:
    return {table: restored_query(target, f'SELECT count(*) FROM "{table}"')[0][0] for table in tables}


@pytest.fixture
def restore_target(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A database that does not exist yet, of the suite's kind, dropped afterwards."""
    if connection.vendor == "sqlite":
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "restored.sqlite3")}
        return
    import psycopg2
    from psycopg2 import sql

    target = {**connection.settings_dict, "NAME": f"{connection.settings_dict['NAME']}_restore"}

    def drop() -> None:
        server = psycopg2.connect(
            dbname="postgres",
            user=target["USER"],
            password=target["PASSWORD"],
            host=target["HOST"] or None,
            port=target["PORT"] or None,
        )
        server.autocommit = True
        with server.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target["NAME"]))
            )
        server.close()

    drop()
    yield target
    drop()


def a_dossier_with_files() -> Application:
    """A complete draft: its attachments are files under MEDIA_ROOT."""
    application = complete_application()
    assert application.attachments.exists()
    return application


# --- Backup -------------------------------------------------------------------------------------


@committed
def test_backup_writes_the_database_the_media_and_a_manifest_that_matches_them(tmp_path: Path, settings):
    a_dossier_with_files()
    media_root = Path(settings.MEDIA_ROOT)
    expected_files = tree_hashes(media_root)
    assert expected_files
    expected_counts = live_counts()

    out = StringIO()
    call_command("backup", "--dir", str(tmp_path / "backups"), stdout=out, stderr=StringIO())
    path = Path(out.getvalue().strip())

    assert path.parent == tmp_path / "backups" and path.is_dir()
    assert not list((tmp_path / "backups").glob("*.partial")), "the partial directory is renamed"
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    database = manifest["database"]
    assert database["vendor"] == connection.vendor
    assert database["file"] == ("database.dump" if connection.vendor == "postgresql" else "database.sqlite3")
    assert sha256(path / database["file"]) == database["sha256"]
    assert manifest["row_counts"] == expected_counts
    assert manifest["total_rows"] == sum(expected_counts.values())
    assert manifest["row_counts"]["applications_application"] == 1
    assert "0001_data_version" in manifest["migrations"]["core"]
    assert manifest["media"]["storage"] == "filesystem"
    assert manifest["media"]["file_count"] == len(expected_files)
    assert {entry["path"]: entry["sha256"] for entry in manifest["media"]["files"]} == expected_files
    assert tree_hashes(path / "media") == expected_files
    assert manifest["created_at"].startswith(str(timezone.now().year))


def test_backup_of_a_bucket_lists_its_objects_and_the_restore_checks_them(tmp_path: Path, monkeypatch):
    """The media in an S3 bucket: a stand-in of django-storages' S3Storage (no network here) whose
    `bucket.objects.filter(Prefix=...)` answers as boto3's resource does."""
    objects = [
        SimpleNamespace(key="fabriques/pieces/b.pdf", size=20, e_tag='"bbbb"'),
        SimpleNamespace(key="fabriques/pieces/a.pdf", size=10, e_tag='"aaaa"'),
    ]
    asked: list[str] = []

    def filter_(Prefix: str) -> list[SimpleNamespace]:  # noqa: N803 -- boto3's keyword
        asked.append(Prefix)
        return list(objects)

    bucket = SimpleNamespace(name="fabriques-media", objects=SimpleNamespace(filter=filter_))
    monkeypatch.setattr(
        backups_media, "storages", {"default": SimpleNamespace(bucket=bucket, location="fabriques/")}
    )

    target = tmp_path / "backup"
    target.mkdir()
    media = backups_media.media_backup(target, lambda message: None)

    assert asked == ["fabriques/"]
    assert media == {
        "storage": "s3",
        "bucket": "fabriques-media",
        "prefix": "fabriques/",
        "file_count": 2,
        "total_size": 30,
        "objects": [
            {"key": "fabriques/pieces/a.pdf", "size": 10, "etag": "aaaa"},
            {"key": "fabriques/pieces/b.pdf", "size": 20, "etag": "bbbb"},
        ],
    }
    assert list(target.iterdir()) == [], "the objects stay in the bucket"

    # A restore copies nothing then: it checks that the bucket still holds every object, unchanged.
    report = backups.RestoreReport(directory=tmp_path, database="x", media_root="")
    backups_media.bucket_check(report, media)
    assert report.mismatches == [] and report.files == 2
    objects[0] = SimpleNamespace(key="fabriques/pieces/b.pdf", size=21, e_tag='"changed"')
    report = backups.RestoreReport(directory=tmp_path, database="x", media_root="")
    backups_media.bucket_check(report, media)
    assert report.mismatches == ["objet absent ou modifié dans le compartiment : fabriques/pieces/b.pdf"]


def test_media_backup_skips_a_file_deleted_meanwhile_and_its_own_backups(
    tmp_path: Path, settings, monkeypatch
):
    media_root = Path(settings.MEDIA_ROOT)
    (media_root / "pieces").mkdir()
    (media_root / "pieces" / "statuts.pdf").write_bytes(b"%PDF-1.4 statuts")
    # BACKUP_DIR inside MEDIA_ROOT: the backup being written, and older ones, are not media.
    target = media_root / "sauvegardes" / "2026-12-05T023000Z.partial"
    (target / "media").mkdir(parents=True)
    (media_root / "sauvegardes" / "old").mkdir()
    (media_root / "sauvegardes" / "old" / "database.dump").write_bytes(b"PGDMP")
    walked = backups_media.walk_files

    def walk_with_a_file_deleted(root: Path) -> Iterator[Path]:
        yield root / "pieces" / "supprime.pdf"  # listed by the walk, deleted before its copy
        yield from walked(root)

    monkeypatch.setattr(backups_media, "walk_files", walk_with_a_file_deleted)

    media = backups_media.media_backup(target, lambda message: None)

    assert [entry["path"] for entry in media["files"]] == ["pieces/statuts.pdf"]
    assert media["files"][0]["sha256"] == hashlib.sha256(b"%PDF-1.4 statuts").hexdigest()
    assert media["vanished"] == ["pieces/supprime.pdf"]
    assert media["file_count"] == 1 and media["total_size"] == len(b"%PDF-1.4 statuts")


@pytest.mark.django_db
def test_backup_refuses_to_run_inside_a_transaction(tmp_path: Path):
    """pg_dump reads only what is committed: counts taken in an open transaction would lie."""
    with pytest.raises(backups.BackupError, match="Une sauvegarde ne se lance pas dans une transaction."):
        backups.backup_create(directory=tmp_path / "backups")
    assert list((tmp_path / "backups").iterdir()) == [], "nothing left behind"


# --- Restore: refusals --------------------------------------------------------------------------


@committed
def test_restore_checks_the_backup_against_its_manifest(tmp_path: Path, restore_target):
    a_dossier_with_files()
    path = backups.backup_create(directory=tmp_path / "backups")
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    media_root = tmp_path / "restored-media"
    arguments = [
        "restore",
        str(path),
        "--database-url",
        _url(restore_target),
        "--media-root",
        str(media_root),
    ]

    # A file changed, another missing: refused before anything is written.
    tampered = path / "media" / manifest["media"]["files"][0]["path"]
    original = tampered.read_bytes()
    tampered.write_bytes(b"%PDF-1.4 another file")
    missing = path / "media" / manifest["media"]["files"][1]["path"]
    kept = missing.read_bytes()
    missing.unlink()
    with pytest.raises(CommandError) as refused:
        call_command(*arguments, stdout=StringIO(), stderr=StringIO())
    message = str(refused.value)
    assert "La sauvegarde est altérée, rien n'a été restauré" in message
    assert f"empreinte SHA-256 différente : {manifest['media']['files'][0]['path']}" in message
    assert f"fichier absent : {manifest['media']['files'][1]['path']}" in message
    assert not media_root.exists()
    assert _target_exists(restore_target) is False

    # A manifest naming a file outside the media root: refused too.
    escaping = json.loads(manifest_path.read_text(encoding="utf-8"))
    escaping["media"]["files"][0]["path"] = "../../outside.pdf"
    manifest_path.write_text(json.dumps(escaping), encoding="utf-8")
    with pytest.raises(CommandError, match=r"chemin refusé : \.\./\.\./outside\.pdf"):
        call_command(*arguments, stdout=StringIO(), stderr=StringIO())
    assert not media_root.exists() and _target_exists(restore_target) is False

    # A dump that does not hold what the manifest says (the manifest edited here; the SHA-256s
    # match): restored, but the command fails with the tables that differ.
    tampered.write_bytes(original)
    missing.write_bytes(kept)
    manifest["row_counts"]["applications_application"] = 2
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError, match="Restauration incohérente avec le manifeste, écarts : 1."):
        call_command(*arguments, stdout=StringIO(), stderr=err)
    assert "table applications_application : 1 lignes restaurées, 2 sauvegardées" in err.getvalue()


@committed
def test_restore_refuses_a_target_that_is_not_empty_unless_forced(tmp_path: Path, restore_target):
    a_dossier_with_files()
    path = backups.backup_create(directory=tmp_path / "backups")
    media_root = tmp_path / "restored-media"
    media_root.mkdir()
    (media_root / "already-here.txt").write_text("un fichier d'avant", encoding="utf-8")

    with pytest.raises(backups.BackupError) as refused:
        backups.backup_restore(directory=path, database=restore_target, media_root=media_root)
    assert str(refused.value) == (
        f"Restauration refusée : le dossier des fichiers {media_root} n'est pas vide. Restaurez dans "
        "une base et un dossier neufs, ou ajoutez --force."
    )
    assert _target_exists(restore_target) is False
    assert [p.name for p in media_root.iterdir()] == ["already-here.txt"]

    # Restored once into an empty root, the database is no longer empty: refused the second time.
    shutil.rmtree(media_root)
    first = backups.backup_restore(directory=path, database=restore_target, media_root=media_root)
    assert first.mismatches == []
    with pytest.raises(
        backups.BackupError, match=f"la base {restore_target['NAME']} n'est pas vide ; le dossier"
    ):
        backups.backup_restore(directory=path, database=restore_target, media_root=media_root)

    # Forced: the database is emptied first, so its rows are the backup's, not twice as many.
    forced = backups.backup_restore(
        directory=path, database=restore_target, media_root=media_root, force=True
    )
    assert forced.mismatches == []
    assert forced.rows == first.rows == sum(live_counts().values())


def _url(target: dict[str, Any]) -> str:
    if "sqlite" in target["ENGINE"]:
        return f"sqlite:///{target['NAME']}"
    port = f":{target['PORT']}" if target["PORT"] else ""
    return f"postgres://{target['USER']}:{target['PASSWORD']}@{target['HOST']}{port}/{target['NAME']}"


def _target_exists(target: dict[str, Any]) -> bool:
    if "sqlite" in target["ENGINE"]:
        return Path(target["NAME"]).exists()
    return bool(
        restored_query(
            {**target, "NAME": "postgres"}, f"SELECT 1 FROM pg_database WHERE datname = '{target['NAME']}'"
        )
    )


# --- Tools of the server's version --------------------------------------------------------------


def test_postgres_tools_must_be_of_the_servers_major_version(tmp_path: Path, settings):
    tool = tmp_path / "pg_dump"
    tool.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 14.9'\n", encoding="utf-8")
    tool.chmod(0o755)
    settings.POSTGRES_BIN_DIR = str(tmp_path)

    assert backups.postgres_tool("pg_dump", 14) == str(tool)
    with pytest.raises(backups.BackupError) as refused:
        backups.postgres_tool("pg_dump", 15)
    assert "Aucun pg_dump de PostgreSQL 15 n'a été trouvé" in str(refused.value)
    assert "postgresql-client-15" in str(refused.value)


def test_the_image_installs_the_postgresql_client_of_the_db_service():
    """Debian bookworm's postgresql-client is version 15, the `db` service's postgres:15."""
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    compose = (PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "FROM python:3.11-slim-bookworm" in dockerfile
    assert "postgresql-client" in dockerfile
    assert "image: postgres:15" in compose


# --- The drill ----------------------------------------------------------------------------------


def seed_realistic(task_queues: TaskQueues) -> None:
    """Two laureates (one with its agreement active and a tranche paid), a refusal, a draft; every
    letter and agreement rendered to a PDF file, every attachment a file."""
    call = CallFactory()
    admin = programme_admin()
    laureate, reviewer = in_review_application(call=call)
    grant = application_award(application=laureate, amount=Decimal("150000"), actor=reviewer)
    agreement = Agreement.objects.get(grant=grant)
    agreement_accept(agreement=agreement, actor=laureate.created_by)
    agreement_activate(agreement=agreement, commitment_number="2100123456", actor=admin)
    tranche = Tranche.objects.get(grant=grant, year_index=1)
    tranche = tranche_request(tranche=tranche, iban=IBAN, actor=laureate.created_by)
    tranche = tranche_validate(tranche=tranche, actor=reviewer)
    tranche_pay(tranche=tranche, paid_on=timezone.localdate(), payment_reference="VIR-1", actor=admin)
    second, reviewer = in_review_application(call=call)
    application_award(application=second, amount=Decimal("100000"), actor=reviewer)
    refused, reviewer = in_review_application(call=call)
    application_refuse(application=refused, reasons="Le modèle économique n'est pas établi.", actor=reviewer)
    complete_application(call=call)
    task_queues.drain()


@committed
@pytest.mark.postgres
def test_restore_drill_on_postgresql(tmp_path: Path, settings, restore_target, task_queues: TaskQueues):
    seed_realistic(task_queues)
    assert Grant.objects.count() == 2 and Tranche.objects.filter(status="paid").count() == 1
    documents = Document.objects.exclude(file="")
    assert documents.count() >= 4
    media_root = Path(settings.MEDIA_ROOT)
    original_files = tree_hashes(media_root)
    original_counts = live_counts()
    envelope = StringIO()
    call_command("envelope_check", stdout=envelope)

    path = backups.backup_create(directory=tmp_path / "backups")
    restored_media = tmp_path / "restored-media"
    out = StringIO()
    call_command(
        "restore",
        str(path),
        "--database-url",
        _url(restore_target),
        "--media-root",
        str(restored_media),
        stdout=out,
        stderr=StringIO(),
    )

    assert "lignes identiques au manifeste" in out.getvalue()
    # Every table, counted here, not by the code under test.
    assert restored_counts(restore_target, list(original_counts)) == original_counts
    assert tree_hashes(restored_media) == original_files
    # Each document's recorded SHA-256 is its restored file's.
    for name, recorded in restored_query(
        restore_target, "SELECT file, sha256 FROM notifications_document WHERE file <> ''"
    ):
        assert sha256(restored_media / name) == recorded
    # envelope_check on the restored database: same findings, no drift.
    result = subprocess.run(
        [sys.executable, "manage.py", "envelope_check"],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _url(restore_target),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == envelope.getvalue()
    amounts = (format_money(Decimal("250000")), format_money(Decimal("50000")))
    assert "engagé {}, versé {}, lauréats 2.".format(*amounts) in result.stdout
    # The times of docs/operations.md « Sauvegarde et restauration », read with `pytest -s`.
    seconds = json.loads((path / "manifest.json").read_text(encoding="utf-8"))["seconds"]
    print(f"drill: backup in {seconds} s; {out.getvalue().strip()}")  # noqa: T201
