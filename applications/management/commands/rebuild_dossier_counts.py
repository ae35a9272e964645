"""Recount the dossier counts per call, wave, département, kind and state, and each dossier's review
columns (see applications.counters)."""

from typing import Any

from django.core.management.base import BaseCommand

from applications.counters import (
    dossier_counts_rebuild,
    dossier_counts_recount,
    dossier_counts_stored,
    review_facts_rebuild,
    review_facts_recount,
    review_facts_stored,
)


class Command(BaseCommand):
    help = (
        "Recount the dossier counts per call, wave, département, kind and state, and each dossier's "
        "review columns (assignments, scores, last submission), from the rows they come from."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", action="store_true", help="only compare; exit 1 if they differ")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        if check:
            stored, counted = dossier_counts_stored(), dossier_counts_recount()
            wrong = [key for key in sorted(set(stored) | set(counted)) if stored[key] != counted[key]]
            for key in wrong[:20]:
                self.stderr.write(f"{key}: stored {stored[key]}, counted {counted[key]}")
            facts, recounted = review_facts_stored(), review_facts_recount()
            stale = sorted(pk for pk in recounted if facts.get(pk) != recounted[pk])
            for pk in stale[:20]:
                self.stderr.write(f"dossier {pk}: stored {facts.get(pk)}, counted {recounted[pk]}")
            if wrong or stale:
                raise SystemExit(1)
            self.stdout.write("Les comptes de dossiers sont à jour.")
            return
        rows = dossier_counts_rebuild()
        dossiers = review_facts_rebuild()
        self.stdout.write(
            f"{rows} comptes de dossiers recalculés ; état de l'instruction de {dossiers} dossiers."
        )
