"""`manage.py export_open_data --call SLUG --output PATH`: the « données essentielles » of the
call's agreements in the SCDL « subventions » schema (CSV, UTF-8 with a BOM, "," separator, the
schema's column names in the header). Every run leaves an audit row ("export.open_data").

Nothing is written when the file would not satisfy the schema (a required cell empty, such as the
grantor's SIRET of the call): the command stops with a French error naming the setting to fill in.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from grants.management.commands.budget_report import call_or_error, output_or_error
from grants.open_data import OPEN_DATA_COLUMNS, OpenDataError, open_data_table
from grants.services.exports import OPEN_DATA_ACTION, export_record
from grants.writers import csv_stream


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _(
            "Exporte les données essentielles des conventions d'un appel au format du schéma "
            "« subventions » du Socle commun des données locales."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--call", required=True, help=_("Identifiant (slug) de l'appel."))
        parser.add_argument("--output", required=True, help=_("Chemin du fichier CSV à écrire."))

    def handle(self, *args: Any, **options: Any) -> None:
        call = call_or_error(options["call"])
        output = output_or_error(options["output"])
        try:
            table = open_data_table(call)
        except OpenDataError as error:
            raise CommandError(str(error)) from error
        rows = len(table)
        with output.open("w", encoding="utf-8", newline="") as handle:
            for chunk in csv_stream(table, OPEN_DATA_COLUMNS, delimiter=","):
                handle.write(chunk)
        export_record(
            actor=None,
            call=call,
            action=OPEN_DATA_ACTION,
            data={"format": "csv", "source": "command", "output": str(output), "rows": rows},
        )
        self.stdout.write(
            self.style.SUCCESS(
                _("%(rows)d ligne(s) de données essentielles écrite(s) dans %(path)s.")
                % {"rows": rows, "path": output}
            )
        )
