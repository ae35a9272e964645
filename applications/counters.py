"""The dossier counts (`DossierCount`): recounting them, and comparing them with the dossiers.

The counts are kept by database triggers (migration 0007); nothing in Python adds to them. A
recount is only needed after writing around the triggers (a restore without them, for example):
`python manage.py rebuild_dossier_counts`.
"""

from collections import Counter

from django.db import connection, transaction
from django.db.models import Count

from applications.models import Application, DossierCount

Key = tuple[int, str, str]


def dossier_counts_recount() -> Counter[Key]:
    """The counts as the dossiers give them, by (call id, département code or "", state)."""
    rows = (
        Application.objects.order_by()
        .values_list("call_id", "departement_id", "status")
        .annotate(n=Count("pk"))
    )
    return Counter({(call, departement or "", status): n for call, departement, status, n in rows})


def dossier_counts_stored() -> Counter[Key]:
    """The counts as the table holds them, empty rows left out."""
    return Counter(
        {
            (call, departement, status): count
            for call, departement, status, count in DossierCount.objects.exclude(count=0).values_list(
                "call_id", "departement_code", "status", "count"
            )
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
        DossierCount(call_id=call, departement_code=departement, status=status, count=n)
        for (call, departement, status), n in sorted(counts.items())
    )
    return len(counts)
