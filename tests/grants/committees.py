"""What the committee tests share: a call with dossiers in review, eligible and scored, and a session."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import User
from applications.models import Application, Call
from grants.models import CommitteeSession
from grants.services.committees import committee_create
from tests.factories import CallFactory, in_review_application


def scored_dossiers(call: Call, scores: list[str]) -> list[Application]:
    """Dossiers of `call` in review, eligibility confirmed, with these scores (set as the scoring
    service leaves them: the column the lists rank by)."""
    dossiers = []
    for score in scores:
        application, _reviewer = in_review_application(call=call)
        Application.objects.filter(pk=application.pk).update(score=Decimal(score))
        application.refresh_from_db()
        dossiers.append(application)
    return dossiers


def a_session(admin: User, call: Call | None = None, **fields: object) -> CommitteeSession:
    values: dict[str, object] = {
        "call": call or CallFactory(),
        "wave": None,
        "title": "Comité de sélection de mars",
        "starts_at": timezone.now() + timedelta(days=7),
        "place": "ANCT, 20 avenue de Ségur, Paris",
        **fields,
    }
    return committee_create(actor=admin, **values)  # type: ignore[arg-type]
