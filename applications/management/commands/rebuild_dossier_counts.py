"""Recount the dossier counts per call, département and state (see applications.counters)."""

from typing import Any

from django.core.management.base import BaseCommand

from applications.counters import dossier_counts_rebuild, dossier_counts_recount, dossier_counts_stored


class Command(BaseCommand):
    help = "Recount the dossier counts per call, département and state from the dossiers."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", action="store_true", help="only compare; exit 1 if they differ")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        if check:
            stored, counted = dossier_counts_stored(), dossier_counts_recount()
            if stored != counted:
                keys = sorted(set(stored) | set(counted))
                wrong = [key for key in keys if stored[key] != counted[key]]
                for key in wrong[:20]:
                    self.stderr.write(f"{key}: stored {stored[key]}, counted {counted[key]}")
                raise SystemExit(1)
            self.stdout.write("Les comptes de dossiers sont à jour.")
            return
        rows = dossier_counts_rebuild()
        self.stdout.write(f"{rows} comptes de dossiers recalculés.")
