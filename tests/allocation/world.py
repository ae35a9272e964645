"""Four candidate dossiers of one call: two in the Gers (the best scores), one in the Landes, one
in the Lot (in a rural place), each asking 150 000 € over three years; an envelope of 450 000 €
and a target of three laureates."""

from decimal import Decimal

from applications.models import Application, BudgetYear
from fabriques.models import Zone
from tests.factories import CallFactory, in_review_application

DOSSIERS = (("gers1", "32", "90"), ("gers2", "32", "85"), ("landes", "40", "60"), ("lot", "46", "50"))


def four_candidates() -> dict[str, Application]:
    call = CallFactory(envelope=Decimal("450000"), target_count=3)
    made: dict[str, Application] = {}
    for name, departement, score in DOSSIERS:
        application, _reviewer = in_review_application(call=call)
        # The score and the territory as the review would have left them.
        Application.objects.filter(pk=application.pk).update(departement_id=departement, score=Decimal(score))
        BudgetYear.objects.filter(application=application).update(requested=Decimal("50000"))
        application.places.update(zone=Zone.RURAL if name == "lot" else Zone.OTHER, qpv_code="")
        application.refresh_from_db()
        made[name] = application
    return made
