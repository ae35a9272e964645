"""`python manage.py import_tiers_lieux`: load the CGET 2019 census of tiers-lieux. Idempotent."""

import csv
import time
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fabriques.importers import tiers_lieux_import

REQUIRED_COLUMNS = ("ID", "NOM_TL", "INSEECOM", "INSEEDEP", "INSEEREG")


def default_path() -> Path:
    return Path(apps.get_app_config("fabriques").path) / "data" / "tiers-lieux-cget-2019.csv"


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Translated when the parser is built: argparse cannot format a lazy string.
        self.help = _(
            "Importe ou met à jour le recensement des tiers-lieux du CGET (2019). "
            "Relancer la commande ne crée pas de doublon."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--file",
            type=Path,
            default=None,
            help=_("Fichier CSV à importer (par défaut : %(path)s).")
            % {"path": "fabriques/data/tiers-lieux-cget-2019.csv"},
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"] or default_path()
        rows = self._read(path)
        started = time.perf_counter()
        report = tiers_lieux_import(rows=rows)
        elapsed = time.perf_counter() - started

        self.stdout.write(_("Import des tiers-lieux depuis %(path)s") % {"path": path})
        self.stdout.write(_("Créés : %(count)d") % {"count": report.created})
        self.stdout.write(_("Mis à jour : %(count)d") % {"count": report.updated})
        self.stdout.write(_("Inchangés : %(count)d") % {"count": report.unchanged})
        self.stdout.write(_("Ignorés : %(count)d") % {"count": report.skipped_total})
        for reason, count in sorted(report.skipped.items(), key=lambda item: (-item[1], item[0])):
            line = ngettext("  %(count)d ignoré : %(reason)s", "  %(count)d ignorés : %(reason)s", count)
            self.stdout.write(line % {"count": count, "reason": reason})
        self.stdout.write(
            self.style.SUCCESS(
                _("Import terminé en %(seconds)s s.") % {"seconds": f"{elapsed:.2f}".replace(".", ",")}
            )
        )

    def _read(self, path: Path) -> list[dict[str, str]]:
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                missing = [column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])]
                if missing:
                    raise CommandError(
                        _("Colonnes absentes du fichier %(path)s : %(columns)s.")
                        % {"path": path, "columns": ", ".join(missing)}
                    )
                return list(reader)
        except FileNotFoundError as error:
            raise CommandError(_("Fichier introuvable : %(path)s") % {"path": path}) from error
        except UnicodeDecodeError as error:
            raise CommandError(
                _("Le fichier %(path)s n'est pas encodé en UTF-8.") % {"path": path}
            ) from error
        except (OSError, csv.Error) as error:
            raise CommandError(
                _("Lecture impossible du fichier %(path)s : %(error)s") % {"path": path, "error": error}
            ) from error
