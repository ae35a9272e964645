"""`backup_restore`: verify the backup, refuse a target that is not empty, restore, compare."""

import json
import time
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext as _

from core.backups.common import (
    FORMAT,
    MANIFEST,
    MEDIA,
    BackupError,
    Progress,
    RestoreReport,
    copy_hashing,
    file_sha256,
)
from core.backups.databases import (
    pg_is_empty,
    pg_prepare,
    pg_restored_state,
    postgresql_restore,
    sqlite_is_empty,
    sqlite_restore,
    sqlite_restored_state,
)
from core.backups.media import bucket_check, media_root_is_empty


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
        relative = PurePosixPath(label)
        if relative.is_absolute() or ".." in relative.parts:
            # A manifest edited to write outside the media root: never followed.
            problems.append(_("chemin refusé : %(name)s") % {"name": label})
        elif not path.is_file():
            problems.append(_("fichier absent : %(name)s") % {"name": label})
        elif path.stat().st_size != size or file_sha256(path) != sha256:
            problems.append(_("empreinte SHA-256 différente : %(name)s") % {"name": label})
    return problems


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
        pg_is_empty(settings_dict) if vendor == "postgresql" else sqlite_is_empty(Path(settings_dict["NAME"]))
    )
    refusals = []
    if empty is False and not force:
        refusals.append(_("la base %(name)s n'est pas vide") % {"name": settings_dict["NAME"]})
    if media["storage"] == "filesystem" and not media_root_is_empty(root) and not force:
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
        pg_prepare(settings_dict, exists=empty is not None, force=force)
        postgresql_restore(settings_dict, directory / manifest["database"]["file"])
        counts, migrations = pg_restored_state(settings_dict)
    else:
        path = Path(settings_dict["NAME"])
        if force and path.exists():
            path.unlink()
        sqlite_restore(path, directory / manifest["database"]["file"])
        counts, migrations = sqlite_restored_state(path)

    if media["storage"] == "filesystem":
        say(_("Restauration des fichiers dans %(root)s…") % {"root": root})
        for entry in media["files"]:
            restored = root / entry["path"]
            if copy_hashing(directory / MEDIA / entry["path"], restored) != entry["sha256"]:
                report.mismatches.append(_("fichier mal copié : %(name)s") % {"name": entry["path"]})
            report.files += 1
    else:
        bucket_check(report, media)

    _compare(report, manifest, counts, migrations)
    report.seconds = round(time.monotonic() - started, 3)
    return report
