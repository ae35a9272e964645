"""Awards, refusals, bulk decisions, activations and payments go through a recap first: a post
without the confirmation writes nothing and shows what will happen; the services' rules hold."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from applications.models import Application, Call, StatusChange
from applications.services.review import assignment_create, eligibility_record
from core.formatting import format_money
from grants.models import Grant
from grants.services.envelope import add_years
from notifications.models import Document, OutgoingEmail
from tests.factories import in_review_application, submitted_application
from tests.pages import logged, text

pytestmark = pytest.mark.django_db
S = Application.Status


def decide_url(application: Application) -> str:
    return reverse("grants:review-decide", args=[application.reference])


def nothing_written(application: Application, call: Call) -> None:
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW
    assert not Grant.objects.exists()
    assert Call.objects.get(pk=call.pk).committed_amount == call.committed_amount
    assert not OutgoingEmail.objects.filter(key__contains="letter").exists()
    assert not Document.objects.filter(kind__in=["award-letter", "refusal-letter"]).exists()
    assert not AuditEvent.objects.filter(action__startswith="decision.").exists()


def test_an_award_posted_without_confirmation_writes_nothing_and_recaps_amount_split_and_recipients():
    application, reviewer = in_review_application()
    call = Call.objects.get(pk=application.call_id)
    lead = application.members.get(is_lead=True).organisation
    client = logged(reviewer)

    response = client.post(decide_url(application), {"decision": "award", "amount": "150 000"})

    assert response.status_code == 200
    page = text(response)
    assert f"Confirmer l'attribution – {application.reference}" in page
    assert f"Confirmer l'attribution de {format_money(Decimal('150000'))}" in page
    # The yearly split, by calendar year: tranche 1 this year, then one a year.
    start = timezone.localdate()
    for index in range(3):
        assert f'<th scope="row">{add_years(start, index).year}</th>' in page
    assert page.count(format_money(Decimal("50000"))) >= 3
    representative = application.created_by.get_full_name()
    assert f"Le représentant légal de {lead.name} ({representative}) recevra la lettre de décision" in page
    assert application.created_by.email in page
    assert "Seul un administrateur du programme pourra rouvrir le dossier" in page
    # The typed values ride along, hidden, to the confirmation.
    assert '<input type="hidden" name="amount" value="150 000">' in page
    assert '<input type="hidden" name="decision" value="award">' in page
    nothing_written(application, call)

    response = client.post(
        decide_url(application), {"decision": "award", "amount": "150 000", "confirmer": "1"}
    )
    assert response.status_code == 302
    assert Grant.objects.get(application=application).amount == Decimal("150000")


def test_the_award_recap_refuses_what_the_award_would_refuse_and_modifier_refills_the_form():
    application, reviewer = in_review_application()
    call = Call.objects.get(pk=application.call_id)
    client = logged(reviewer)

    # Over the call's envelope: the award's own message, no recap.
    Call.objects.filter(pk=call.pk).update(envelope=Decimal("100000"))
    response = client.post(decide_url(application), {"decision": "award", "amount": "150 000"})
    assert "L'enveloppe de l'appel n'a plus que" in text(response)
    assert "Confirmer l'attribution" not in text(response)
    Call.objects.filter(pk=call.pk).update(envelope=call.envelope)

    response = client.post(
        decide_url(application), {"decision": "award", "amount": "120 000", "modifier": "1"}
    )
    assert response.status_code == 200
    assert 'value="120 000"' in response.content.decode()
    nothing_written(application, call)


def test_a_refusal_posted_without_confirmation_writes_nothing_and_recaps_the_reasons():
    application, reviewer = in_review_application()
    call = Call.objects.get(pk=application.call_id)
    client = logged(reviewer)
    changes = StatusChange.objects.count()

    response = client.post(decide_url(application), {"decision": "refuse", "reasons": "Projet hors champ."})
    page = text(response)
    assert "Confirmer le refus" in page
    assert "Projet hors champ." in page
    assert "recevra la lettre de décision par courriel" in page
    assert "délai de recours de deux mois" in page
    nothing_written(application, call)
    assert StatusChange.objects.count() == changes

    client.post(
        decide_url(application), {"decision": "refuse", "reasons": "Projet hors champ.", "confirmer": "1"}
    )
    application.refresh_from_db()
    assert application.status == S.REFUSED


def test_a_bulk_decision_goes_through_its_recap():
    first, reviewer = in_review_application()
    second = submitted_application(call=first.call)
    assignment_create(application=second, instructor=reviewer, actor=reviewer)
    eligibility_record(
        application=second,
        answers={check.pk: (True, "") for check in first.call.eligibility_checks.all()},
        actor=reviewer,
    )
    client = logged(reviewer)
    data = {
        "references": [first.reference, second.reference, "FDT-2026-99999"],
        "decision": "award",
        "amount": "",
    }

    response = client.post(reverse("grants:review-bulk"), data)
    page = text(response)
    assert "Confirmer la décision groupée" in page
    assert "Confirmer la décision pour 2 dossiers" in page
    assert first.reference in page and second.reference in page
    assert "FDT-2026-99999" in page  # named as ignored
    assert format_money(Decimal("150000")) in page
    # Per dossier, award_preview's figures: the yearly split by calendar year, no bonus, and the
    # envelope's remainder after each award and after both.
    start = timezone.localdate()
    for index in range(3):
        assert f"{add_years(start, index).year} : {format_money(Decimal('50000'))}" in page
    remaining = Call.objects.get(pk=first.call_id).remaining_amount
    assert f"<td>{format_money(remaining - Decimal('150000'))}</td>" in page
    assert f"<td>{format_money(remaining - Decimal('300000'))}</td>" in page
    assert "Total engagé (bonus compris)" in page and format_money(Decimal("300000")) in page
    assert page.count("Sera décidé") == 2
    assert not Grant.objects.exists()
    assert Application.objects.filter(status=S.AWARDED).count() == 0

    response = client.post(reverse("grants:review-bulk"), {**data, "confirmer": "1"})
    assert "2 décisions enregistrées sur 3." in text(response)
    assert Grant.objects.count() == 2
