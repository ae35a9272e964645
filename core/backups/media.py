"""The media: files under MEDIA_ROOT copied with their SHA-256, or an S3 bucket's objects listed."""

from pathlib import Path
from typing import Any

from django.core.files.storage import FileSystemStorage, storages
from django.utils.translation import gettext as _

from core.backups.common import MEDIA, BackupError, Progress, RestoreReport, copy_hashing, walk_files


def media_backup(target: Path, progress: Progress) -> dict[str, Any]:
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        root = Path(storage.location)
        progress(_("Copie des fichiers de %(root)s…") % {"root": root})
        files = []
        vanished = []
        # A BACKUP_DIR inside MEDIA_ROOT must not back up its own backups.
        backups_root = target.parent.resolve()
        for path in walk_files(root) if root.is_dir() else iter(()):
            if backups_root in path.resolve().parents:
                continue
            relative = path.relative_to(root).as_posix()
            copy = target / MEDIA / relative
            try:
                sha256 = copy_hashing(path, copy)
            except FileNotFoundError:
                # Deleted since the walk (a replaced draft attachment): nothing left to keep, and a
                # nightly backup must not fail for it. Listed, for whoever reads the manifest.
                vanished.append(relative)
                continue
            files.append({"path": relative, "size": copy.stat().st_size, "sha256": sha256})
        return {
            "storage": "filesystem",
            "file_count": len(files),
            "total_size": sum(entry["size"] for entry in files),
            "files": files,
            "vanished": vanished,
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


def bucket_check(report: RestoreReport, media: dict[str, Any]) -> None:
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


def media_root_is_empty(root: Path) -> bool:
    return not root.exists() or next(walk_files(root), None) is None
