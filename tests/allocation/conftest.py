"""Four candidate dossiers of one call: two in the Gers (the best scores), one in the Landes, one
in the Lot (in a rural place), each asking 150 000 € over three years."""

from decimal import Decimal
from typing import Any

import pytest

from applications.models import Application, BudgetYear, Call
from fabriques.models import Zone
from tests.factories import CallFactory, in_review_application, programme_admin


@pytest.fixture
def admin_user() -> Any:
    return programme_admin()


@pytest.fixture
def candidates(db: Any) -> dict[str, Application]:
    call = CallFactory(envelope=Decimal("450000"), target_count=3)
    made: dict[str, Application] = {}
    for name, departement, score in (
        ("gers1", "32", "90"),
        ("gers2", "32", "85"),
        ("landes", "40", "60"),
        ("lot", "46", "50"),
    ):
        application, _reviewer = in_review_application(call=call)
        Application.objects.filter(pk=application.pk).update(departement_id=departement, score=Decimal(score))
        BudgetYear.objects.filter(application=application).update(requested=Decimal("50000"))
        zone = Zone.RURAL if name == "lot" else Zone.OTHER
        application.places.update(zone=zone, qpv_code="")
        application.refresh_from_db()
        made[name] = application
    return made


@pytest.fixture
def call(candidates: dict[str, Application]) -> Call:
    return Call.objects.get(pk=candidates["gers1"].call_id)
