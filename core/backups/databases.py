"""The databases: PostgreSQL through pg_dump and pg_restore of the server's version, SQLite through
its online backup API; rows counted per table, emptiness of a target."""

import os
import re
import shutil
import sqlite3
import subprocess  # noqa: S404 -- pg_dump and pg_restore are the tools for PostgreSQL
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils.translation import gettext as _

from core.backups.common import (
    PG_DUMP,
    SQLITE_COPY,
    BackupError,
    Progress,
    file_sha256,
    migrations_by_app,
)

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")


def pg_major(version_num: int) -> int:
    return version_num // 10000


def postgres_tool(name: str, server_major: int) -> str:
    """The path of pg_dump or pg_restore of the server's major version.

    A pg_dump older than the server refuses to dump it, and an archive of a newer pg_dump may not
    load into the server: the tool must be of the server's version. POSTGRES_BIN_DIR names their
    folder; otherwise Debian's `/usr/lib/postgresql/<major>/bin` (postgresql-client-<major>, which
    the image and CI install), otherwise the PATH's, whose version is then checked.
    """
    configured = getattr(settings, "POSTGRES_BIN_DIR", "")
    candidates = (
        [Path(configured) / name]
        if configured
        else [Path(f"/usr/lib/postgresql/{server_major}/bin/{name}")]
        + ([Path(found)] if (found := shutil.which(name)) else [])
    )
    seen: list[str] = []
    for candidate in candidates:
        if not candidate.is_file():
            continue
        result = subprocess.run(  # noqa: S603 -- a path we chose, fixed arguments, no shell
            [str(candidate), "--version"], capture_output=True, text=True, check=False
        )
        match = re.search(r"\(PostgreSQL\) (\d+)", result.stdout)
        if match and int(match.group(1)) == server_major:
            return str(candidate)
        seen.append(f"{candidate} ({result.stdout.strip() or result.stderr.strip()})")
    raise BackupError(
        _(
            "Aucun %(tool)s de PostgreSQL %(major)d n'a été trouvé (essayés : %(seen)s). Installez "
            "postgresql-client-%(major)d ou indiquez son dossier dans POSTGRES_BIN_DIR."
        )
        % {"tool": name, "major": server_major, "seen": ", ".join(seen) or _("aucun")}
    )


def pg_environment(settings_dict: dict[str, Any]) -> dict[str, str]:
    """libpq's variables for the tools: the password never appears on a command line."""
    environment = dict(os.environ)
    values = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": settings_dict.get("NAME"),
        "PGSSLMODE": (settings_dict.get("OPTIONS") or {}).get("sslmode"),
    }
    environment.update({key: str(value) for key, value in values.items() if value not in (None, "")})
    return environment


def run_tool(argv: list[str], environment: dict[str, str]) -> None:
    result = subprocess.run(  # noqa: S603 -- the tool's path and our own arguments, no shell
        argv, env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(
            _("%(tool)s a échoué (code %(code)d) : %(error)s")
            % {"tool": Path(argv[0]).name, "code": result.returncode, "error": result.stderr.strip()}
        )


def pg_connect(settings_dict: dict[str, Any], name: str | None = None) -> Any:
    import psycopg2

    options = {key: value for key, value in (settings_dict.get("OPTIONS") or {}).items() if key == "sslmode"}
    return psycopg2.connect(
        dbname=name or settings_dict["NAME"],
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        **options,
    )


def pg_counts(cursor: Any) -> dict[str, int]:
    from psycopg2 import sql

    cursor.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY c.relname"
    )
    counts: dict[str, int] = {}
    for schema, table in cursor.fetchall():
        cursor.execute(
            sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        )
        counts[table] = int(cursor.fetchone()[0])
    return counts


def sqlite_counts(database: sqlite3.Connection) -> tuple[dict[str, int], dict[str, list[str]]]:
    tables = [
        row[0]
        for row in database.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    counts = {}
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        counts[table] = int(database.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])  # noqa: S608 -- a table name read from sqlite_master, quoted
    migrations = (
        migrations_by_app(list(database.execute("SELECT app, name FROM django_migrations")))
        if "django_migrations" in tables
        else {}
    )
    return counts, migrations


def postgresql_dump(alias: str, target: Path, progress: Progress) -> dict[str, Any]:
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        version_num = int(cursor.fetchone()[0])
        cursor.execute("SHOW server_version")
        server_version = str(cursor.fetchone()[0])
    pg_dump = postgres_tool("pg_dump", pg_major(version_num))
    dump = target / PG_DUMP
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        # One snapshot for the counts and the dump: pg_dump reads the data this transaction sees.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = str(cursor.fetchone()[0])
        counts = pg_counts(cursor)
        cursor.execute("SELECT app, name FROM django_migrations")
        migrations = migrations_by_app([(str(app), str(name)) for app, name in cursor.fetchall()])
        progress(_("Copie de la base de données avec %(tool)s…") % {"tool": pg_dump})
        run_tool(
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dump}", "--no-password"],
            pg_environment(connection.settings_dict),
        )
    return {
        "vendor": "postgresql",
        "server_version": server_version,
        "file": PG_DUMP,
        "size": dump.stat().st_size,
        "sha256": file_sha256(dump),
        "row_counts": counts,
        "migrations": migrations,
    }


def sqlite_copy(alias: str, target: Path, progress: Progress) -> dict[str, Any]:
    connection = connections[alias]
    connection.ensure_connection()
    copy = target / SQLITE_COPY
    progress(_("Copie de la base de données SQLite…"))
    destination = sqlite3.connect(copy)
    try:
        # The online backup API copies a consistent state, even with writers at work.
        connection.connection.backup(destination)
        counts, migrations = sqlite_counts(destination)
    finally:
        destination.close()
    return {
        "vendor": "sqlite",
        "server_version": sqlite3.sqlite_version,
        "file": SQLITE_COPY,
        "size": copy.stat().st_size,
        "sha256": file_sha256(copy),
        "row_counts": counts,
        "migrations": migrations,
    }


def pg_is_empty(settings_dict: dict[str, Any]) -> bool | None:
    """Whether the target database holds no relation; None when it does not exist."""
    import psycopg2

    try:
        database = pg_connect(settings_dict)
    except psycopg2.OperationalError as error:
        if "does not exist" in str(error):
            return None
        raise BackupError(str(error).strip()) from error
    try:
        with database.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN %s AND n.nspname NOT LIKE 'pg\\_%%' AND c.relkind <> 'i'",
                (SYSTEM_SCHEMAS,),
            )
            return int(cursor.fetchone()[0]) == 0
    finally:
        database.close()


def pg_prepare(settings_dict: dict[str, Any], *, exists: bool, force: bool) -> None:
    from psycopg2 import sql

    if not exists:
        # Created by the role of the target URL, which owns it: it needs CREATEDB (or create it first).
        server = pg_connect(settings_dict, name="postgres")
        server.autocommit = True
        try:
            with server.cursor() as cursor:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings_dict["NAME"])))
        finally:
            server.close()
        return
    if force:
        # A forced restore starts from an empty schema: rows left over would be counted as restored.
        database = pg_connect(settings_dict)
        database.autocommit = True
        try:
            with database.cursor() as cursor:
                cursor.execute("DROP SCHEMA IF EXISTS public CASCADE")
                cursor.execute("CREATE SCHEMA public")
        finally:
            database.close()


def postgresql_restore(settings_dict: dict[str, Any], dump: Path) -> None:
    database = pg_connect(settings_dict)
    try:
        version_num = int(database.server_version)
    finally:
        database.close()
    pg_restore = postgres_tool("pg_restore", pg_major(version_num))
    # One transaction: a failure leaves the target as empty as it was. No owner nor grants: the
    # restored objects belong to the role of the target URL, whatever the source's role was.
    run_tool(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={settings_dict['NAME']}",
            str(dump),
        ],
        pg_environment(settings_dict),
    )


def pg_restored_state(settings_dict: dict[str, Any]) -> tuple[dict[str, int], dict[str, list[str]]]:
    database = pg_connect(settings_dict)
    try:
        with database.cursor() as cursor:
            counts = pg_counts(cursor)
            cursor.execute("SELECT app, name FROM django_migrations")
            migrations = migrations_by_app([(str(app), str(name)) for app, name in cursor.fetchall()])
    finally:
        database.close()
    return counts, migrations


def sqlite_is_empty(path: Path) -> bool | None:
    if not path.exists():
        return None
    database = sqlite3.connect(path)
    try:
        tables = database.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    finally:
        database.close()
    return int(tables[0]) == 0


def sqlite_restore(path: Path, copy: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(copy)
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def sqlite_restored_state(path: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    database = sqlite3.connect(path)
    try:
        return sqlite_counts(database)
    finally:
        database.close()
