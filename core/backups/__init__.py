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

from core.backups.common import BackupError, RestoreReport, file_sha256
from core.backups.create import backup_create
from core.backups.databases import postgres_tool
from core.backups.restore import backup_restore, backup_verify, manifest_read

__all__ = [
    "BackupError",
    "RestoreReport",
    "backup_create",
    "backup_restore",
    "backup_verify",
    "file_sha256",
    "manifest_read",
    "postgres_tool",
]
