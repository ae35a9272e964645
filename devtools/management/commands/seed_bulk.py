"""Bulk data for load tests: `python manage.py seed_bulk --dossiers 100000 --seed 1`."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from devtools.bulk import seed_bulk


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _(
            "Ajoute un grand volume de données réalistes (appels, structures, dossiers dans tous les "
            "états, notations, subventions et versements), identiques pour une même graine."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dossiers", type=int, required=True, help=_("Nombre de dossiers à créer."))
        parser.add_argument("--seed", type=int, default=1, help=_("Graine du tirage (1 par défaut)."))
        parser.add_argument(
            "--calls",
            type=int,
            default=6,
            help=_("Nombre d'appels, un par année, le dernier étant l'appel ouvert (6 par défaut)."),
        )
        parser.add_argument(
            "--password",
            default=None,
            help=_("Mot de passe des comptes de porteurs créés (par défaut, aucun mot de passe utilisable)."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        summary = seed_bulk(
            dossiers=options["dossiers"],
            seed=options["seed"],
            calls=options["calls"],
            password=options["password"],
        )
        for line in summary.lines():
            self.stdout.write(line)
        self.stdout.write(
            self.style.SUCCESS(
                _("%(count)d dossiers créés en %(seconds).1f s.")
                % {"count": summary.dossiers, "seconds": summary.seconds}
            )
        )
