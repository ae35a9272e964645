"""Demo data for `make demo`. Idempotent: running it again leaves the same data."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from devtools.demo import seed_all


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _("Crée ou met à jour les données de démonstration (comptes listés dans README.md).")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            result = seed_all()
        for user in result["users"].values():
            self.stdout.write(_("Compte : %(email)s") % {"email": user.email})
        self.stdout.write(
            _("Tiers-lieux du recensement ajoutés : %(count)d") % {"count": result["places_created"]}
        )
        gers = result["gers"]
        self.stdout.write(
            _("Dossier %(reference)s : %(title)s (%(status)s)")
            % {"reference": gers.reference, "title": gers.title, "status": gers.get_status_display()}
        )
        for application in result["others"]:
            self.stdout.write(
                _("Dossier %(reference)s : %(title)s (%(status)s)")
                % {
                    "reference": application.reference,
                    "title": application.title,
                    "status": application.get_status_display(),
                }
            )
        self.stdout.write(self.style.SUCCESS(_("Données de démonstration prêtes.")))
