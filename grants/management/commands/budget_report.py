"""`manage.py budget_report --call SLUG --format {csv,xlsx,pdf} --output PATH`.

CSV: one row per tranche, streamed to the file (UTF-8 with a BOM, ";" separator; see
grants/writers.py). XLSX: the whole workbook (Synthèse, Régions, Années, Subventions, Tranches).
PDF: the summary. Every run leaves an audit row (action "export.budget_report", no actor).
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from applications.models import Call
from grants.selectors.exports import labels, report_rows_tranches, tranche_columns
from grants.services.exports import BUDGET_REPORT_ACTION, export_record
from grants.writers import csv_stream, pdf_summary, xlsx_write

FORMATS = ("csv", "xlsx", "pdf")


def call_or_error(slug: str) -> Call:
    call = Call.objects.filter(slug=slug).first()
    if call is None:
        raise CommandError(_("Aucun appel n'a l'identifiant « %(slug)s ».") % {"slug": slug})
    return call


def output_or_error(value: str) -> Path:
    output = Path(value)
    if not output.parent.is_dir():
        raise CommandError(_("Le dossier « %(folder)s » n'existe pas.") % {"folder": output.parent})
    return output


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _(
            "Exporte le rapport budgétaire d'un appel : les tranches en CSV, le classeur XLSX "
            "ou la synthèse PDF."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--call", required=True, help=_("Identifiant (slug) de l'appel."))
        parser.add_argument("--format", required=True, dest="format", help=_("csv, xlsx ou pdf."))
        parser.add_argument("--output", required=True, help=_("Chemin du fichier à écrire."))

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = str(options["format"]).strip().lower()
        if chosen not in FORMATS:
            raise CommandError(
                _("Format inconnu : « %(format)s ». Formats possibles : %(formats)s.")
                % {"format": options["format"], "formats": ", ".join(FORMATS)}
            )
        call = call_or_error(options["call"])
        output = output_or_error(options["output"])
        if chosen == "csv":
            with output.open("w", encoding="utf-8", newline="") as handle:
                for chunk in csv_stream(report_rows_tranches(call), labels(tranche_columns())):
                    handle.write(chunk)
        elif chosen == "xlsx":
            xlsx_write(call, output)
        else:
            output.write_bytes(pdf_summary(call))
        export_record(
            actor=None,
            call=call,
            action=BUDGET_REPORT_ACTION,
            data={"format": chosen, "source": "command", "output": str(output)},
        )
        self.stdout.write(
            self.style.SUCCESS(
                _("Rapport budgétaire de « %(call)s » écrit dans %(path)s.")
                % {"call": call.title, "path": output}
            )
        )
