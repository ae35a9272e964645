"""`python manage.py envelope_status --call SLUG [--json]`: where a call's envelope stands."""

import json
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from applications.models import Call
from core.formatting import format_money
from grants.selectors.envelope import envelope_figures


def _amount(value: Decimal) -> str:
    """Amounts as decimal strings with two places: "150000.00"."""
    return f"{value:.2f}"


def status_data(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "call": figures["call"].slug,
        "envelope": _amount(figures["envelope"]),
        "committed": _amount(figures["committed"]),
        "paid": _amount(figures["paid"]),
        "remaining": _amount(figures["remaining"]),
        "laureates": figures["laureates"],
        "target": figures["target"],
        "by_region": [
            {
                "code": row["code"],
                "name": row["name"],
                "laureates": row["laureates"],
                "committed": _amount(row["committed"]),
                "paid": _amount(row["paid"]),
            }
            for row in figures["by_region"]
        ],
        "by_year": [
            {"year": row["year"], "scheduled": _amount(row["scheduled"]), "paid": _amount(row["paid"])}
            for row in figures["by_year"]
        ],
    }


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _(
            "Affiche l'état de l'enveloppe d'un appel : engagé, versé, restant, par région et par année."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--call", required=True, metavar="SLUG", help=_("identifiant de l'appel"))
        parser.add_argument(
            "--json", action="store_true", help=_("sortie JSON (montants en chaînes décimales)")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["call"]
        call = Call.objects.filter(slug=slug).first()
        if call is None:
            raise CommandError(_("Appel inconnu : %(slug)s") % {"slug": slug})
        figures = envelope_figures(call)
        if options["json"]:
            self.stdout.write(json.dumps(status_data(figures), ensure_ascii=False, indent=2))
            return
        lines = [
            _("Appel : %(title)s (%(slug)s)") % {"title": call.title, "slug": call.slug},
            _("Enveloppe : %(amount)s") % {"amount": format_money(figures["envelope"])},
            _("Engagé : %(amount)s") % {"amount": format_money(figures["committed"])},
            _("Versé : %(amount)s") % {"amount": format_money(figures["paid"])},
            _("Restant : %(amount)s") % {"amount": format_money(figures["remaining"])},
            _("Lauréats : %(laureates)d sur un objectif de %(target)d")
            % {"laureates": figures["laureates"], "target": figures["target"]},
            "",
            _("Par région :"),
        ]
        for row in figures["by_region"]:
            if row["laureates"] or row["paid"]:
                lines.append(
                    _("  %(name)s : %(laureates)d lauréat(s), %(committed)s engagés, %(paid)s versés")
                    % {
                        "name": row["name"],
                        "laureates": row["laureates"],
                        "committed": format_money(row["committed"]),
                        "paid": format_money(row["paid"]),
                    }
                )
        lines += ["", _("Par année :")]
        for row in figures["by_year"]:
            lines.append(
                _("  %(year)s : %(paid)s versés, %(scheduled)s à verser")
                % {
                    "year": row["year"] or _("sans échéance"),
                    "paid": format_money(row["paid"]),
                    "scheduled": format_money(row["scheduled"]),
                }
            )
        if not figures["by_year"]:
            lines.append(_("  aucune tranche"))
        self.stdout.write("\n".join(lines))
