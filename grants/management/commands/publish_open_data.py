"""`manage.py publish_open_data [--call SLUG]`: what the daily beat task does, at once.

Every open-data file of the call (of every call out of preparation, without --call) is built,
validated against its schema and published; a refused file leaves the previous one served, is
logged, audited and e-mailed to the programme admins, and makes the command fail.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from grants.management.commands.budget_report import call_or_error
from grants.services.open_data import open_data_publish_all


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _(
            "Produit, valide et publie les fichiers de données ouvertes des appels (subventions, "
            "versements, dispositif d'aide)."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--call", help=_("Identifiant (slug) de l'appel ; tous les appels publiés sinon.")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        calls = [call_or_error(options["call"])] if options["call"] else None
        counts = open_data_publish_all(actor=None, calls=calls)
        message = _("%(published)d fichier(s) publié(s), %(refused)d refusé(s) par leur schéma.") % counts
        if counts["refused"]:
            raise CommandError(message)
        self.stdout.write(self.style.SUCCESS(message))
