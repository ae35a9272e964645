from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from applications.models import Application, Assignment, Call, EligibilityAnswer
from applications.services.review import assignment_declare_conflict
from fabriques.models import OrganisationMembership
from grants.models import Agreement, Grant, Tranche
from grants.services import (
    application_award,
    application_close,
    application_refuse,
    application_reopen,
    decisions_bulk,
)
from grants.services.agreements import agreement_accept
from notifications.models import Document
from tests.factories import in_review_application, instructor, programme_admin

pytestmark = pytest.mark.django_db


def nothing_written(application: Application, call: Call) -> None:
    application.refresh_from_db()
    call.refresh_from_db()
    assert application.status == "in_review"
    assert call.committed_amount == 0 and call.laureate_count == 0
    assert not Grant.objects.exists()
    assert not Document.objects.filter(kind="award-letter").exists()


def test_an_award_commits_the_envelope_creates_the_grant_and_its_three_tranches():
    application, reviewer = in_review_application()
    grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    call = Call.objects.get(pk=application.call_id)
    assert call.committed_amount == Decimal("150000") and call.laureate_count == 1
    assert list(grant.tranches.values_list("year_index", "amount")) == [
        (1, Decimal("50000")),
        (2, Decimal("50000")),
        (3, Decimal("50000")),
    ]
    application.refresh_from_db()
    assert application.status == "awarded"
    change = application.status_changes.last()
    assert change.to_status == "awarded" and change.document.kind == "award-letter"


def test_an_award_of_another_amount_is_split_equally_by_default():
    application, reviewer = in_review_application()
    grant = application_award(application=application, amount=Decimal("100000"), actor=reviewer)
    assert list(grant.tranches.values_list("amount", flat=True)) == [
        Decimal("33333.33"),
        Decimal("33333.33"),
        Decimal("33333.34"),
    ]


def test_an_fnt_award_commits_its_bonus_too():
    application, reviewer = in_review_application()
    Application.objects.filter(pk=application.pk).update(kind="fnt")
    application.refresh_from_db()
    grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    assert grant.bonus == Decimal("100000")
    assert Call.objects.get(pk=application.call_id).committed_amount == Decimal("250000")


@pytest.mark.parametrize(
    ("amount", "yearly", "message"),
    [
        ("74999.99", None, "doit être compris entre 75\u00a0000\u00a0€ et 150\u00a0000\u00a0€"),
        ("150000.01", None, "doit être compris entre"),
        ("150000", ["60000", "45000", "45000"], "dépasse le plafond annuel"),
        ("150000", ["50000", "50000", "40000"], "ne correspond pas au montant attribué"),
        ("150000", ["75000", "75000"], "une tranche par année"),
    ],
)
def test_award_bounds_and_breakdown_are_enforced_and_nothing_is_written(amount, yearly, message):
    application, reviewer = in_review_application()
    with pytest.raises(ValidationError) as error:
        application_award(
            application=application,
            amount=Decimal(amount),
            yearly=[Decimal(y) for y in yearly] if yearly else None,
            actor=reviewer,
        )
    assert message in " ".join(error.value.messages)
    nothing_written(application, Call.objects.get(pk=application.call_id))


def test_an_award_beyond_the_envelopes_remainder_is_refused():
    application, reviewer = in_review_application()
    Call.objects.filter(pk=application.call_id).update(envelope=Decimal("149999.99"))
    with pytest.raises(ValidationError) as error:
        application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    assert "n'a plus que 149\u00a0999,99\u00a0€ disponibles" in " ".join(error.value.messages)
    nothing_written(application, Call.objects.get(pk=application.call_id))


def test_the_database_refuses_an_over_commitment_whatever_the_path():
    application, _reviewer = in_review_application()
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.filter(pk=application.call_id).update(committed_amount=Decimal("54000000.01"))


def test_a_failed_eligibility_check_blocks_the_award():
    application, reviewer = in_review_application()
    EligibilityAnswer.objects.filter(application=application).update(satisfied=False)
    with pytest.raises(ValidationError, match="Condition d'éligibilité non vérifiée"):
        application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    nothing_written(application, Call.objects.get(pk=application.call_id))


def test_a_conflicted_or_out_of_scope_instructor_cannot_decide():
    application, reviewer = in_review_application()
    outsider = instructor()
    with pytest.raises(PermissionDenied):
        application_award(application=application, amount=Decimal("150000"), actor=outsider)
    assignment = Assignment.objects.get(application=application, instructor=reviewer)
    assignment_declare_conflict(assignment=assignment, note="Membre du bureau", actor=reviewer)
    with pytest.raises(ValidationError, match="conflit d'intérêts"):
        application_refuse(application=application, reasons="Motif", actor=reviewer)
    nothing_written(application, Call.objects.get(pk=application.call_id))


def test_a_decision_on_a_dossier_in_the_wrong_state_is_refused():
    application, reviewer = in_review_application()
    application_refuse(application=application, reasons="Modèle économique insuffisant", actor=reviewer)
    with pytest.raises(ValidationError, match="Seul un dossier en instruction"):
        application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    with pytest.raises(ValidationError, match="ne peut pas passer"):
        application_close(application=application, reason="x", actor=reviewer)


def test_a_refusal_needs_reasons_and_a_close_needs_one():
    application, reviewer = in_review_application()
    with pytest.raises(ValidationError, match="doit être motivée"):
        application_refuse(application=application, reasons="  ", actor=reviewer)
    with pytest.raises(ValidationError, match="classé sans suite"):
        application_close(application=application, reason="", actor=reviewer)
    application.refresh_from_db()
    assert application.status == "in_review"


def test_an_admin_reopens_an_award_and_the_envelope_is_released():
    application, reviewer = in_review_application()
    application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    with pytest.raises(PermissionDenied):
        application_reopen(application=application, reason="Erreur", actor=reviewer)
    admin = programme_admin()
    with pytest.raises(ValidationError, match="doit être motivée"):
        application_reopen(application=application, reason="", actor=admin)
    application_reopen(application=application, reason="Erreur sur le montant", actor=admin)
    call = Call.objects.get(pk=application.call_id)
    assert call.committed_amount == 0 and call.laureate_count == 0
    grant = Grant.objects.get()
    assert grant.status == "cancelled"
    assert set(Tranche.objects.values_list("status", flat=True)) == {"cancelled"}
    # The agreement drawn up at the award is void too, with the reason, and cannot be accepted.
    void = Agreement.objects.get(grant=grant)
    assert void.status == "cancelled" and void.termination_reason == "Erreur sur le montant"
    representative = OrganisationMembership.objects.get(
        organisation__application_memberships__application=application,
        organisation__application_memberships__is_lead=True,
        is_legal_representative=True,
    ).user
    with pytest.raises(ValidationError, match="sans objet"):
        agreement_accept(agreement=void, actor=representative)
    application.refresh_from_db()
    assert application.status == "in_review"
    assert application.status_changes.last().note == "Erreur sur le montant"
    # And it may be awarded again, with an agreement of its own.
    application_award(application=application, amount=Decimal("120000"), actor=reviewer)
    new_grant = Grant.objects.filter(status="active").get()
    assert new_grant.amount == Decimal("120000")
    assert Agreement.objects.get(grant=new_grant).status == "awaiting_signature"


def test_bulk_decisions_report_each_dossier_as_done_or_refused_with_the_reason():
    first, reviewer = in_review_application()
    second, _ = in_review_application(call=first.call)
    Call.objects.filter(pk=first.call_id).update(envelope=Decimal("200000"))
    results = decisions_bulk(applications=[first, second], decision="award", actor=reviewer)
    assert [r.done for r in results] == [True, False]
    assert "n'a plus que 50\u00a0000\u00a0€ disponibles" in results[1].message
    second.refresh_from_db()
    assert second.status == "in_review"
    assert Grant.objects.count() == 1


def test_the_page_of_an_agreement_voided_by_a_reopening_says_so(client):
    application, reviewer = in_review_application()
    application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    admin = programme_admin()
    application_reopen(application=application, reason="Erreur sur le montant", actor=admin)
    agreement = Agreement.objects.get()
    client.force_login(admin)
    page = client.get(f"/conventions/{agreement.number}/").content.decode()
    assert "Annulée" in page
    assert "attribution a été rouverte : Erreur sur le montant" in page
