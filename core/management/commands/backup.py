"""`python manage.py backup [--dir DIR]` (`make backup`): the database and the media, with a manifest.

Writes `<BACKUP_DIR>/<date>T<time>Z/` (core/backups.py): pg_dump's custom archive of PostgreSQL or
a copy of SQLite, the media files (or the S3 bucket's listing), and `manifest.json`. Prints the
directory's path last, alone on its line, for scripts. docs/operations.md « Sauvegarde et
restauration ».
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from core.backups import BackupError, backup_create, manifest_read


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _(
            "Sauvegarde la base de données et les fichiers dans un dossier daté de BACKUP_DIR, avec "
            "un manifeste (date, commit, migrations, lignes par table, empreintes SHA-256)."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dir", metavar="DOSSIER", type=Path, help=_("dossier des sauvegardes (BACKUP_DIR par défaut)")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = backup_create(directory=options["dir"], progress=self.stderr.write)
        except BackupError as error:
            raise CommandError(str(error)) from error
        manifest = manifest_read(path)
        self.stderr.write(
            _(
                "Sauvegarde terminée en %(seconds).1f s : %(rows)d lignes dans %(tables)d tables, "
                "%(files)d fichiers."
            )
            % {
                "seconds": manifest["seconds"],
                "rows": manifest["total_rows"],
                "tables": len(manifest["row_counts"]),
                "files": manifest["media"]["file_count"],
            }
        )
        self.stdout.write(str(path))
