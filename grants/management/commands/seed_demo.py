"""Demo data for `make demo`. Idempotent: running it again leaves the same data.

The accounts and passwords below are listed in README.md; they exist only in demo databases.
"""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.services import user_set_role
from fabriques.models import Region
from fabriques.services import instructor_scope_set

DEMO_ACCOUNTS: list[dict[str, Any]] = [
    {
        "email": "porteur@demo.fabriques-de-territoires.fr",
        "password": "Demo-porteur-2026",
        "first_name": "Claire",
        "last_name": "Darmaillacq",
        "job_title": "Directrice",
        "role": Role.APPLICANT,
    },
    {
        "email": "instructeur.occitanie@demo.fabriques-de-territoires.fr",
        "password": "Demo-instruction-2026",
        "first_name": "Julien",
        "last_name": "Castéra",
        "job_title": "Chargé de mission tiers-lieux, préfecture de région Occitanie",
        "role": Role.INSTRUCTOR,
        "regions": ["76"],
    },
    {
        "email": "admin@demo.fabriques-de-territoires.fr",
        "password": "Demo-pilotage-2026",
        "first_name": "Nadia",
        "last_name": "Benali",
        "job_title": "Responsable du programme Fabriques de territoires",
        "role": Role.ADMIN,
        "superuser": True,
    },
]


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        self.help = _("Crée ou met à jour les données de démonstration (comptes listés dans README.md).")
        return super().create_parser(prog_name, subcommand, **kwargs)

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        for spec in DEMO_ACCOUNTS:
            user, created = User.objects.update_or_create(
                email=spec["email"],
                defaults={
                    "first_name": spec["first_name"],
                    "last_name": spec["last_name"],
                    "job_title": spec["job_title"],
                    "is_active": True,
                    "is_superuser": spec.get("superuser", False),
                },
            )
            if user.email_confirmed_at is None:
                user.email_confirmed_at = timezone.now()
            user.set_password(spec["password"])
            user.save()
            user_set_role(user=user, role=spec["role"], actor=None)
            if spec.get("regions"):
                instructor_scope_set(
                    instructor=user,
                    regions=Region.objects.filter(code__in=spec["regions"]),
                    actor=None,
                )
            message = (
                _("Compte créé : %(email)s (%(role)s)")
                if created
                else _("Compte mis à jour : %(email)s (%(role)s)")
            )
            self.stdout.write(message % {"email": user.email, "role": spec["role"].label})
        self.stdout.write(self.style.SUCCESS(_("Données de démonstration prêtes.")))
