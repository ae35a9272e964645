"""`backup_create`: the database, then the media, then the manifest, in a directory renamed once whole."""

import json
import re
import shutil
import subprocess  # noqa: S404 -- git, for the commit of the code
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _

from core.backups.common import FORMAT, MANIFEST, STAMP, BackupError, Progress
from core.backups.databases import postgresql_dump, sqlite_copy
from core.backups.media import media_backup


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
            database = postgresql_dump(alias, target, say)
        elif vendor == "sqlite":
            database = sqlite_copy(alias, target, say)
        else:
            raise BackupError(_("Base de données non prise en charge : %(vendor)s.") % {"vendor": vendor})
        media = media_backup(target, say)
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
