"""The dossier counts (`DossierCount`) and each dossier's review columns: recounting them, and
comparing them with the rows they come from.

The counts are kept by database triggers (migrations 0007 and 0014), the review columns by others
(migration 0015); nothing in Python writes them. A recount is only needed after writing around
the triggers (a restore without them, for example): `python manage.py rebuild_dossier_counts`.
"""

from collections import Counter
from importlib import import_module
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, OuterRef, Q, Subquery

from applications.models import Application, DossierCount, StatusChange

# (call id, wave id or 0, département code or "", kind, state)
Key = tuple[int, int, str, str, str]


def dossier_counts_recount() -> Counter[Key]:
    """The counts as the dossiers give them, by key."""
    rows = (
        Application.objects.order_by()
        .values_list("call_id", "wave_id", "departement_id", "kind", "status")
        .annotate(n=Count("pk"))
    )
    return Counter(
        {
            (call, wave or 0, departement or "", kind, status): n
            for call, wave, departement, kind, status, n in rows
        }
    )


def dossier_counts_stored() -> Counter[Key]:
    """The counts as the table holds them, empty rows left out."""
    return Counter(
        {
            (call, wave, departement, kind, status): count
            for call, wave, departement, kind, status, count in DossierCount.objects.exclude(
                count=0
            ).values_list("call_id", "wave_key", "departement_code", "kind", "status", "count")
        }
    )


@transaction.atomic
def dossier_counts_rebuild() -> int:
    """Recount every dossier into the table, under a lock that holds writes to the dossiers back.

    Returns the number of rows written.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE applications_application IN SHARE MODE")
    DossierCount.objects.all().delete()
    counts = dossier_counts_recount()
    DossierCount.objects.bulk_create(
        DossierCount(
            call_id=call, wave_key=wave, departement_code=departement, kind=kind, status=status, count=n
        )
        for (call, wave, departement, kind, status), n in sorted(counts.items())
    )
    return len(counts)


# --- where each dossier's review stands (migration 0015) ------------------------------------------

REVIEW_FACTS = (
    "assignment_count",
    "scorer_count",
    "unscored_count",
    "last_scored_at",
    "last_submitted_from",
    "last_submitted_at",
)


def review_facts_recount() -> dict[int, tuple[Any, ...]]:
    """Each dossier's review columns as its assignments and state changes give them, by id."""
    mine = Q(assignments__conflict_of_interest=False)
    last_submission = StatusChange.objects.filter(
        application=OuterRef("pk"), to_status=Application.Status.SUBMITTED
    ).order_by("-at", "-pk")
    rows = (
        Application.objects.order_by()
        .annotate(
            n_assignments=Count("assignments", distinct=True),
            n_scorers=Count("assignments", filter=mine, distinct=True),
            n_unscored=Count(
                "assignments", filter=mine & Q(assignments__scores_submitted_at=None), distinct=True
            ),
            scored_at=Max("assignments__scores_submitted_at", filter=mine),
            submitted_from=Subquery(last_submission.values("from_status")[:1]),
            submission_at=Subquery(last_submission.values("at")[:1]),
        )
        .values_list(
            "pk", "n_assignments", "n_scorers", "n_unscored", "scored_at", "submitted_from", "submission_at"
        )
    )
    return {pk: (*facts[:4], facts[4] or "", facts[5]) for pk, *facts in rows}


def review_facts_stored() -> dict[int, tuple[Any, ...]]:
    """Each dossier's review columns as the table holds them, by id."""
    return {
        pk: tuple(facts) for pk, *facts in Application.objects.order_by().values_list("pk", *REVIEW_FACTS)
    }


@transaction.atomic
def review_facts_rebuild() -> int:
    """Recompute every dossier's review columns with the triggers' own SQL; the number of dossiers."""
    facts = import_module("applications.migrations.0015_review_facts")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE applications_assignment, applications_statuschange IN SHARE MODE")
    with connection.cursor() as cursor:
        cursor.execute(facts.FILL)
        return int(cursor.rowcount)
