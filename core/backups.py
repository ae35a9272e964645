"""Backups that restore: the database and the media files, with a manifest that proves them.

A backup is a directory `<BACKUP_DIR>/<UTC date and time>/` holding:

- the database: `database.dump`, `pg_dump --format=custom` of PostgreSQL, or `database.sqlite3`,
  a copy made through SQLite's online backup API (`make demo` keeps its data in SQLite);
- `media/`: a copy of every file under MEDIA_ROOT. When the media live in an S3 bucket the files are
  not copied (the bucket's versioning or replication keeps them): the manifest lists its objects,
  with their size and ETag, so that a restore can tell whether the bucket still holds them;
- `manifest.json`: date, commit, server version, applied migrations, rows per table, file count,
  and the SHA-256 of the dump and of every file.

The rows are counted in the transaction whose snapshot pg_dump is given (`pg_export_snapshot()`,
`pg_dump --snapshot`): the counts and the dump see exactly the same data while the portal keeps
running. The files are copied after the dump: a file newer than the dump is harmless, a row whose
file is missing is not. The directory is written under a `.partial` name and renamed once complete,
so that a backup cut short is never taken for one.

A restore checks every SHA-256 before it writes anything, refuses a target database or media root
that is not empty (unless forced), restores, then counts the rows of the restored database and
compares them with the manifest. Nothing here imports an app: every table is counted.
"""

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess  # noqa: S404 -- pg_dump and pg_restore are the tools for PostgreSQL
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.db import connections, transaction
from django.utils.translation import gettext as _

FORMAT = 1
MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
MEDIA = "media"
CHUNK = 1024 * 1024
# Names of the backup directories: sortable, and without characters a shell or Windows dislikes.
STAMP = "%Y-%m-%dT%H%M%SZ"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or a restore that cannot go on; the message says why, in French."""


@dataclass
class RestoreReport:
    """What a restore did and found: empty `mismatches` means the restored data is the backup's."""

    directory: Path
    database: str
    media_root: str
    files: int = 0
    rows: int = 0
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- Small helpers ------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(source: Path, target: Path) -> str:
    """Copy `source` to `target` in one read, returning the SHA-256 of what was copied."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
    shutil.copystat(source, target)
    return digest.hexdigest()


def _git_commit() -> str | None:
    """The commit of the code, when it runs from a git checkout (the image has none: null)."""
    git = shutil.which("git")
    if git is None or not (Path(settings.BASE_DIR) / ".git").exists():
        return None
    result = subprocess.run(  # noqa: S603 -- fixed arguments, no shell
        [git, "-C", str(settings.BASE_DIR), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def _walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under `root`, in a stable order (symbolic links are not followed)."""
    for directory, subdirectories, names in os.walk(root):
        subdirectories.sort()
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _migrations(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in sorted(rows):
        applied.setdefault(app, []).append(name)
    return applied


# --- PostgreSQL's tools, of the server's major version ------------------------------------------


def _pg_major(version_num: int) -> int:
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


def _pg_environment(settings_dict: dict[str, Any]) -> dict[str, str]:
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


def _run_tool(argv: list[str], environment: dict[str, str]) -> None:
    result = subprocess.run(  # noqa: S603 -- the tool's path and our own arguments, no shell
        argv, env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(
            _("%(tool)s a échoué (code %(code)d) : %(error)s")
            % {"tool": Path(argv[0]).name, "code": result.returncode, "error": result.stderr.strip()}
        )


def _pg_connect(settings_dict: dict[str, Any], name: str | None = None) -> Any:
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


def _pg_counts(cursor: Any) -> dict[str, int]:
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


def _sqlite_counts(database: sqlite3.Connection) -> tuple[dict[str, int], dict[str, list[str]]]:
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
        _migrations(list(database.execute("SELECT app, name FROM django_migrations")))
        if "django_migrations" in tables
        else {}
    )
    return counts, migrations


# --- Backup -------------------------------------------------------------------------------------


def _backup_postgresql(alias: str, target: Path, progress: Progress) -> dict[str, Any]:
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        version_num = int(cursor.fetchone()[0])
        cursor.execute("SHOW server_version")
        server_version = str(cursor.fetchone()[0])
    pg_dump = postgres_tool("pg_dump", _pg_major(version_num))
    dump = target / PG_DUMP
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        # One snapshot for the counts and the dump: pg_dump reads the data this transaction sees.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = str(cursor.fetchone()[0])
        counts = _pg_counts(cursor)
        cursor.execute("SELECT app, name FROM django_migrations")
        migrations = _migrations([(str(app), str(name)) for app, name in cursor.fetchall()])
        progress(_("Copie de la base de données avec %(tool)s…") % {"tool": pg_dump})
        _run_tool(
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dump}", "--no-password"],
            _pg_environment(connection.settings_dict),
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


def _backup_sqlite(alias: str, target: Path, progress: Progress) -> dict[str, Any]:
    connection = connections[alias]
    connection.ensure_connection()
    copy = target / SQLITE_COPY
    progress(_("Copie de la base de données SQLite…"))
    destination = sqlite3.connect(copy)
    try:
        # The online backup API copies a consistent state, even with writers at work.
        connection.connection.backup(destination)
        counts, migrations = _sqlite_counts(destination)
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


def _backup_media(target: Path, progress: Progress) -> dict[str, Any]:
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        root = Path(storage.location)
        progress(_("Copie des fichiers de %(root)s…") % {"root": root})
        files = []
        for path in _walk_files(root) if root.is_dir() else iter(()):
            relative = path.relative_to(root).as_posix()
            sha256 = _copy_hashing(path, target / MEDIA / relative)
            files.append({"path": relative, "size": path.stat().st_size, "sha256": sha256})
        return {
            "storage": "filesystem",
            "file_count": len(files),
            "total_size": sum(entry["size"] for entry in files),
            "files": files,
        }
    bucket = getattr(storage, "bucket", None)
    if bucket is None:
        raise BackupError(
            _("Le stockage des fichiers (%(backend)s) n'est ni un dossier ni un compartiment S3.")
            % {"backend": type(storage).__name__}
        )
    # The objects stay in the bucket (its versioning keeps them): their list lets a restore check
    # that the bucket still holds each of them, unchanged.
    progress(_("Inventaire du compartiment %(bucket)s…") % {"bucket": bucket.name})
    prefix = getattr(storage, "location", "") or ""
    objects = [
        {"key": item.key, "size": int(item.size), "etag": str(item.e_tag).strip('"')}
        for item in bucket.objects.filter(Prefix=prefix)
    ]
    objects.sort(key=lambda entry: entry["key"])
    return {
        "storage": "s3",
        "bucket": bucket.name,
        "prefix": prefix,
        "file_count": len(objects),
        "total_size": sum(entry["size"] for entry in objects),
        "objects": objects,
    }


def backup_create(
    *, directory: Path | None = None, alias: str = "default", progress: Progress | None = None
) -> Path:
    """Write a backup of the database and the media into a new directory; returns its path."""
    say = progress or (lambda message: None)
    started = time.monotonic()
    now = datetime.now(tz=UTC)
    root = Path(directory or settings.BACKUP_DIR)
    root.mkdir(parents=True, exist_ok=True)
    final = root / now.strftime(STAMP)
    if final.exists():
        raise BackupError(_("La sauvegarde %(path)s existe déjà.") % {"path": final})
    target = Path(tempfile.mkdtemp(prefix=f"{final.name}.", suffix=".partial", dir=root))
    try:
        if connections[alias].in_atomic_block:
            # pg_dump sees only what is committed: counts taken inside a transaction would not match.
            raise BackupError(_("Une sauvegarde ne se lance pas dans une transaction."))
        vendor = connections[alias].vendor
        if vendor == "postgresql":
            database = _backup_postgresql(alias, target, say)
        elif vendor == "sqlite":
            database = _backup_sqlite(alias, target, say)
        else:
            raise BackupError(_("Base de données non prise en charge : %(vendor)s.") % {"vendor": vendor})
        media = _backup_media(target, say)
        row_counts = database.pop("row_counts")
        migrations = database.pop("migrations")
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "commit": _git_commit(),
            "database": database,
            "migrations": migrations,
            "row_counts": row_counts,
            "total_rows": sum(row_counts.values()),
            "media": media,
            "seconds": round(time.monotonic() - started, 3),
        }
        (target / MANIFEST).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        target.chmod(0o750)
        target.rename(final)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return final


# --- Restore ------------------------------------------------------------------------------------


def manifest_read(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupError(_("%(path)s n'existe pas : ce n'est pas une sauvegarde.") % {"path": path})
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise BackupError(_("Manifeste illisible : %(error)s") % {"error": error}) from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(_("Format de sauvegarde inconnu dans %(path)s.") % {"path": path})
    return manifest


def backup_verify(directory: Path, manifest: dict[str, Any]) -> list[str]:
    """Every file of the backup checked against its size and SHA-256; the problems, in French."""
    problems = []
    database = manifest["database"]
    expected = [(directory / database["file"], database["sha256"], database["size"], database["file"])]
    if manifest["media"]["storage"] == "filesystem":
        expected += [
            (directory / MEDIA / entry["path"], entry["sha256"], entry["size"], entry["path"])
            for entry in manifest["media"]["files"]
        ]
    for path, sha256, size, label in expected:
        if not path.is_file():
            problems.append(_("fichier absent : %(name)s") % {"name": label})
        elif path.stat().st_size != size or file_sha256(path) != sha256:
            problems.append(_("empreinte SHA-256 différente : %(name)s") % {"name": label})
    return problems


def _pg_is_empty(settings_dict: dict[str, Any]) -> bool | None:
    """Whether the target database holds no relation; None when it does not exist."""
    import psycopg2

    try:
        database = _pg_connect(settings_dict)
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


def _pg_prepare(settings_dict: dict[str, Any], *, exists: bool, force: bool) -> None:
    from psycopg2 import sql

    if not exists:
        # Created by the role of the target URL, which owns it: it needs CREATEDB (or create it first).
        server = _pg_connect(settings_dict, name="postgres")
        server.autocommit = True
        try:
            with server.cursor() as cursor:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings_dict["NAME"])))
        finally:
            server.close()
        return
    if force:
        # A forced restore starts from an empty schema: rows left over would be counted as restored.
        database = _pg_connect(settings_dict)
        database.autocommit = True
        try:
            with database.cursor() as cursor:
                cursor.execute("DROP SCHEMA IF EXISTS public CASCADE")
                cursor.execute("CREATE SCHEMA public")
        finally:
            database.close()


def _restore_postgresql(settings_dict: dict[str, Any], dump: Path) -> None:
    database = _pg_connect(settings_dict)
    try:
        version_num = int(database.server_version)
    finally:
        database.close()
    pg_restore = postgres_tool("pg_restore", _pg_major(version_num))
    # One transaction: a failure leaves the target as empty as it was. No owner nor grants: the
    # restored objects belong to the role of the target URL, whatever the source's role was.
    _run_tool(
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
        _pg_environment(settings_dict),
    )


def _pg_restored_state(settings_dict: dict[str, Any]) -> tuple[dict[str, int], dict[str, list[str]]]:
    database = _pg_connect(settings_dict)
    try:
        with database.cursor() as cursor:
            counts = _pg_counts(cursor)
            cursor.execute("SELECT app, name FROM django_migrations")
            migrations = _migrations([(str(app), str(name)) for app, name in cursor.fetchall()])
    finally:
        database.close()
    return counts, migrations


def _sqlite_is_empty(path: Path) -> bool | None:
    if not path.exists():
        return None
    database = sqlite3.connect(path)
    try:
        tables = database.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    finally:
        database.close()
    return int(tables[0]) == 0


def _restore_sqlite(path: Path, copy: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(copy)
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _sqlite_restored_state(path: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    database = sqlite3.connect(path)
    try:
        return _sqlite_counts(database)
    finally:
        database.close()


def _compare(
    report: RestoreReport, manifest: dict[str, Any], counts: dict[str, int], migrations: Any
) -> None:
    expected: dict[str, int] = manifest["row_counts"]
    for table in sorted(set(expected) | set(counts)):
        if expected.get(table) != counts.get(table):
            report.mismatches.append(
                _("table %(table)s : %(found)s lignes restaurées, %(expected)s sauvegardées")
                % {"table": table, "found": counts.get(table, "—"), "expected": expected.get(table, "—")}
            )
    if migrations != manifest["migrations"]:
        report.mismatches.append(_("les migrations appliquées diffèrent de celles du manifeste"))
    report.rows = sum(counts.values())


def _check_bucket(report: RestoreReport, media: dict[str, Any]) -> None:
    """An S3 backup lists the objects: check the bucket of the settings still holds each of them."""
    bucket = getattr(storages["default"], "bucket", None)
    if bucket is None:
        report.mismatches.append(
            _(
                "la sauvegarde liste les objets du compartiment %(bucket)s, "
                "mais les fichiers ne sont pas sur S3"
            )
            % {"bucket": media["bucket"]}
        )
        return
    present = {
        item.key: (int(item.size), str(item.e_tag).strip('"'))
        for item in bucket.objects.filter(Prefix=media.get("prefix", ""))
    }
    for entry in media["objects"]:
        if present.get(entry["key"]) != (entry["size"], entry["etag"]):
            report.mismatches.append(
                _("objet absent ou modifié dans le compartiment : %(key)s") % {"key": entry["key"]}
            )
    report.files = len(media["objects"])
    report.notes.append(
        _("Fichiers sur S3 : les %(n)d objets listés ont été vérifiés dans le compartiment %(bucket)s.")
        % {"n": len(media["objects"]), "bucket": bucket.name}
    )


def _media_root_is_empty(root: Path) -> bool:
    return not root.exists() or next(_walk_files(root), None) is None


def backup_restore(
    *,
    directory: Path,
    database: dict[str, Any] | None = None,
    media_root: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> RestoreReport:
    """Restore a backup into a fresh database and media root, then compare with its manifest.

    `database` is a settings dict (DATABASES' form; the default database's when None) and
    `media_root` a folder (MEDIA_ROOT when None). Refuses, before writing anything, a backup whose
    files do not match their SHA-256 and a target that is not empty (unless `force`: the target
    database's schema is then emptied, and the files are written over those of the media root).
    """
    say = progress or (lambda message: None)
    started = time.monotonic()
    manifest = manifest_read(directory)
    say(_("Vérification des empreintes SHA-256…"))
    problems = backup_verify(directory, manifest)
    if problems:
        raise BackupError(
            _("La sauvegarde est altérée, rien n'a été restauré :\n%(problems)s")
            % {"problems": "\n".join(f"  – {problem}" for problem in problems)}
        )
    settings_dict = dict(database or connections["default"].settings_dict)
    engine = str(settings_dict["ENGINE"])
    if "postgresql" in engine:
        vendor = "postgresql"
    elif "sqlite" in engine:
        vendor = "sqlite"
    else:
        raise BackupError(_("Base de données non prise en charge : %(vendor)s.") % {"vendor": engine})
    if vendor != manifest["database"]["vendor"]:
        raise BackupError(
            _("La sauvegarde est une base %(backup)s, la cible une base %(target)s.")
            % {"backup": manifest["database"]["vendor"], "target": vendor}
        )
    media = manifest["media"]
    root = Path(media_root or settings.MEDIA_ROOT)
    report = RestoreReport(directory=directory, database=str(settings_dict["NAME"]), media_root=str(root))

    # Refusals first, all of them, before anything is written.
    empty = (
        _pg_is_empty(settings_dict)
        if vendor == "postgresql"
        else _sqlite_is_empty(Path(settings_dict["NAME"]))
    )
    refusals = []
    if empty is False and not force:
        refusals.append(_("la base %(name)s n'est pas vide") % {"name": settings_dict["NAME"]})
    if media["storage"] == "filesystem" and not _media_root_is_empty(root) and not force:
        refusals.append(_("le dossier des fichiers %(root)s n'est pas vide") % {"root": root})
    if refusals:
        raise BackupError(
            _(
                "Restauration refusée : %(reasons)s. Restaurez dans une base et un dossier neufs, "
                "ou ajoutez --force."
            )
            % {"reasons": " ; ".join(refusals)}
        )

    say(_("Restauration de la base %(name)s…") % {"name": settings_dict["NAME"]})
    if vendor == "postgresql":
        _pg_prepare(settings_dict, exists=empty is not None, force=force)
        _restore_postgresql(settings_dict, directory / manifest["database"]["file"])
        counts, migrations = _pg_restored_state(settings_dict)
    else:
        path = Path(settings_dict["NAME"])
        if force and path.exists():
            path.unlink()
        _restore_sqlite(path, directory / manifest["database"]["file"])
        counts, migrations = _sqlite_restored_state(path)

    if media["storage"] == "filesystem":
        say(_("Restauration des fichiers dans %(root)s…") % {"root": root})
        for entry in media["files"]:
            restored = root / entry["path"]
            if _copy_hashing(directory / MEDIA / entry["path"], restored) != entry["sha256"]:
                report.mismatches.append(_("fichier mal copié : %(name)s") % {"name": entry["path"]})
            report.files += 1
    else:
        _check_bucket(report, media)

    _compare(report, manifest, counts, migrations)
    report.seconds = round(time.monotonic() - started, 3)
    return report
