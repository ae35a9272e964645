"""What the backup and the restore share: the layout of a backup, its errors, file helpers."""

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = 1
MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
MEDIA = "media"
CHUNK = 1024 * 1024
# Names of the backup directories: sortable, and without characters a shell or Windows dislikes.
STAMP = "%Y-%m-%dT%H%M%SZ"

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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_hashing(source: Path, target: Path) -> str:
    """Copy `source` to `target` in one read, returning the SHA-256 of what was copied."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
    try:
        shutil.copystat(source, target)
    except FileNotFoundError:  # deleted once read: the copy is whole, only its dates are not kept
        pass
    return digest.hexdigest()


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under `root`, in a stable order (symbolic links are not followed)."""
    for directory, subdirectories, names in os.walk(root):
        subdirectories.sort()
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_file() and not path.is_symlink():
                yield path


def migrations_by_app(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in sorted(rows):
        applied.setdefault(app, []).append(name)
    return applied
