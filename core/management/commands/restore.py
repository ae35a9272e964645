"""`python manage.py restore BACKUP [--database-url URL] [--media-root DIR] [--force]` (`make restore`).

Restores a backup of `manage.py backup` into a fresh database and media root (those of the
settings unless given), after checking every SHA-256 of the backup, then compares the restored
rows per table and migrations with the manifest. Exit status 1 when anything differs.
docs/operations.md « Sauvegarde et restauration ».
"""

from pathlib import Path
from typing import Any

import environ
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from core.backups import BackupError, backup_restore


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _(
            "Restaure une sauvegarde dans une base et un dossier de fichiers neufs, après avoir "
            "vérifié ses empreintes SHA-256, puis compare les lignes restaurées au manifeste."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", type=Path, help=_("dossier de la sauvegarde"))
        parser.add_argument(
            "--database-url",
            metavar="URL",
            help=_("base cible, créée si elle n'existe pas (DATABASE_URL par défaut)"),
        )
        parser.add_argument(
            "--media-root",
            metavar="DOSSIER",
            type=Path,
            help=_("dossier cible des fichiers (MEDIA_ROOT par défaut)"),
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help=_("restaurer même dans une base ou un dossier non vides (la base est d'abord vidée)"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["database_url"]
        database = environ.Env.db_url_config(url) if url else None
        try:
            report = backup_restore(
                directory=options["backup"],
                database=database,
                media_root=options["media_root"],
                force=options["force"],
                progress=self.stderr.write,
            )
        except BackupError as error:
            raise CommandError(str(error)) from error
        for note in report.notes:
            self.stdout.write(note)
        if report.mismatches:
            for line in report.mismatches:
                self.stderr.write(f"  – {line}")
            raise CommandError(
                _("Restauration incohérente avec le manifeste, écarts : %(n)d.")
                % {"n": len(report.mismatches)}
            )
        self.stdout.write(
            _(
                "Restauration vérifiée en %(seconds).1f s dans la base %(database)s et le dossier "
                "%(root)s : %(rows)d lignes identiques au manifeste, %(files)d fichiers aux empreintes "
                "vérifiées."
            )
            % {
                "seconds": report.seconds,
                "database": report.database,
                "root": report.media_root,
                "rows": report.rows,
                "files": report.files,
            }
        )
