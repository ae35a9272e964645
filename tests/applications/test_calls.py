from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from applications.models import Call
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db


def test_the_first_call_is_seeded_with_the_programmes_figures():
    call = Call.objects.get(slug="fabriques-de-territoires")
    assert call.title == "Fabriques de territoires"
    assert call.envelope == Decimal("54000000")
    assert call.target_count == 360
    assert (call.min_award, call.max_award, call.max_per_year) == (
        Decimal("75000"),
        Decimal("150000"),
        Decimal("50000"),
    )
    assert call.duration_years == 3
    assert call.fnt_bonus == Decimal("100000")
    assert call.envelope == call.target_count * call.max_award
    assert call.waves.count() >= 4
    documents = {doc.code: doc for doc in call.required_documents.all()}
    assert documents["statuts"].mandatory and documents["rib"].extensions == ["pdf", "jpg", "jpeg", "png"]
    assert documents["deliberation"].families == ["local_authority", "syndicat_mixte"]
    assert documents["contrat-engagement-republicain"].families == ["association"]


def test_a_call_refuses_inconsistent_figures():
    call = CallFactory.build(min_award=Decimal("200000"))
    with pytest.raises(ValidationError, match="inférieure à la maximale"):
        call.full_clean()
    call = CallFactory.build(closes_at=timezone.now() - timezone.timedelta(days=60))
    with pytest.raises(ValidationError, match="La clôture doit suivre l'ouverture."):
        call.full_clean()


def test_a_call_is_open_only_between_its_dates_and_when_open():
    call = CallFactory()
    assert call.is_open_for_submission()
    assert not call.is_open_for_submission(call.closes_at + timezone.timedelta(seconds=1))
    call.status = Call.Status.CLOSED
    assert not call.is_open_for_submission()
