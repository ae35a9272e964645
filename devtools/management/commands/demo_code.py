"""The code of the moment of each demo account's authenticator (demo data only).

Instructors and admins give a TOTP code after their password. The demo accounts' keys are
published in README.md for an authenticator application; this command saves installing one.
Only the devices that seed_demo created (named « Démonstration ») are read.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from devtools.demo import demo_codes


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _("Affiche le code de vérification du moment des comptes de démonstration.")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def handle(self, *args: Any, **options: Any) -> None:
        codes = demo_codes()
        if not codes:
            raise CommandError(_("Aucun compte de démonstration : lancez d'abord « manage.py seed_demo »."))
        for email, code in codes:
            self.stdout.write(f"{code}  {email}")
        self.stdout.write(_("Chaque code vaut 30 secondes et ne sert qu'une fois."))
