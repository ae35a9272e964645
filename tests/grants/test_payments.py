"""Tranches: the payment machine, the payment request PDF, the schedule, the pages, the reminders."""

import io
from datetime import timedelta
from decimal import Decimal

import pypdf
import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from grants.models import Agreement, Grant, Report, Tranche
from grants.services import application_award
from grants.services.payments import (
    iban_masked,
    schedule_update,
    tranche_cancel,
    tranche_pay,
    tranche_request,
    tranche_validate,
)
from grants.services.reminders import reminders_send
from grants.services.reports import report_review, report_upload
from notifications.models import Document, OutgoingEmail, Status
from tests.factories import PDF_BYTES, applicant, in_review_application, instructor, programme_admin

pytestmark = pytest.mark.django_db

IBAN = "FR76 3000 6000 0112 3456 7890 189"
IBAN_COMPACT = "FR7630006000011234567890189"
COMMITMENT_NUMBER = "2103987654"
T = Tranche.Status


# --- helpers shared with test_reports -----------------------------------------------------------


class Setup:
    """An awarded grant, its agreement, the beneficiary, the territory's instructor and an admin."""

    def __init__(self, amount: str = "150000", agreement_status: str | None = "signed") -> None:
        application, reviewer = in_review_application()
        self.application = application
        self.grant: Grant = application_award(application=application, amount=Decimal(amount), actor=reviewer)
        self.beneficiary: User = application.created_by
        self.reviewer: User = reviewer
        self.admin: User = programme_admin()
        self.agreement: Agreement | None = None
        self.agreement_number = f"FDT-CONV-2026-{self.grant.pk:04d}"
        # The award drew up the agreement; put it in the state the test needs (or remove it).
        if agreement_status is None:
            Agreement.objects.filter(grant=self.grant).delete()
        else:
            self.agreement, _created = Agreement.objects.update_or_create(
                grant=self.grant,
                defaults={
                    "number": self.agreement_number,
                    "status": agreement_status,
                    "signed_at": None if agreement_status == "awaiting_signature" else timezone.now(),
                    "commitment_number": COMMITMENT_NUMBER,
                },
            )

    def tranche(self, year: int) -> Tranche:
        return Tranche.objects.get(grant=self.grant, year_index=year)

    def lead(self):  # type: ignore[no-untyped-def]
        return self.application.members.select_related("organisation").get(is_lead=True).organisation


def force(tranche: Tranche, status: str, *, requested_days_ago: int = 10) -> Tranche:
    """Put a tranche in a state directly, with the fields its CHECK constraints ask for."""
    fields: dict[str, object] = {"status": status}
    if status in (T.REQUESTED, T.VALIDATED, T.PAID):
        fields["requested_at"] = timezone.now() - timedelta(days=requested_days_ago)
    if status in (T.VALIDATED, T.PAID):
        fields["validated_at"] = timezone.now() - timedelta(days=1)
    if status == T.PAID:
        fields.update(paid_on=timezone.localdate() - timedelta(days=1), payment_reference="MANDAT-0001")
    if status == T.CANCELLED:
        fields["cancel_reason"] = "Annulée pour le test."
    Tranche.objects.filter(pk=tranche.pk).update(**fields)
    tranche.refresh_from_db()
    return tranche


def accept_reports(setup: Setup, year: int, kinds: tuple[str, ...] = ("activity", "financial")) -> None:
    for kind in kinds:
        report = report_upload(
            grant=setup.grant,
            year_index=year,
            kind=kind,
            file=io.BytesIO(PDF_BYTES),
            filename=f"{kind}-{year}.pdf",
            actor=setup.beneficiary,
        )
        report_review(report=report, accept=True, note="", actor=setup.reviewer)


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_text(document: Document) -> str:
    with document.file.open("rb") as handle:
        data = handle.read()
    assert data.startswith(b"%PDF-")
    return flat("\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages))


def snapshot(grant: Grant) -> list[tuple[object, ...]]:
    return list(
        grant.tranches.order_by("year_index").values_list("year_index", "amount", "due_date", "status")
    )


# --- the machine: every (from, to) pair ---------------------------------------------------------

STATES = [T.SCHEDULED, T.REQUESTED, T.VALIDATED, T.PAID, T.CANCELLED]
ALLOWED = {
    (T.SCHEDULED, T.REQUESTED),
    (T.REQUESTED, T.VALIDATED),
    (T.VALIDATED, T.PAID),
    (T.SCHEDULED, T.CANCELLED),
    (T.REQUESTED, T.CANCELLED),
    (T.VALIDATED, T.CANCELLED),
}


def move(setup: Setup, tranche: Tranche, to_status: str) -> None:
    if to_status == T.REQUESTED:
        tranche_request(tranche=tranche, iban=IBAN, actor=setup.beneficiary)
    elif to_status == T.VALIDATED:
        tranche_validate(tranche=tranche, actor=setup.reviewer)
    elif to_status == T.PAID:
        tranche_pay(
            tranche=tranche, paid_on=timezone.localdate(), payment_reference="VIR-2026-001", actor=setup.admin
        )
    elif to_status == T.CANCELLED:
        tranche_cancel(tranche=tranche, reason="Projet abandonné.", actor=setup.admin)
    else:  # nothing moves a tranche back to « scheduled »
        raise ValidationError("no verb")


@pytest.mark.parametrize("from_status", STATES)
@pytest.mark.parametrize("to_status", STATES)
def test_every_move_of_the_tranche_machine_is_allowed_or_refused(from_status, to_status):
    setup = Setup()
    tranche = force(setup.tranche(1), from_status)
    if (from_status, to_status) in ALLOWED:
        move(setup, tranche, to_status)
        assert setup.tranche(1).status == to_status
    else:
        with pytest.raises(ValidationError):
            move(setup, tranche, to_status)
        assert setup.tranche(1).status == from_status


def test_the_service_table_is_the_machine():
    from grants.workflow import TRANCHE_TRANSITIONS

    assert {(old, new) for old, targets in TRANCHE_TRANSITIONS.items() for new in targets} == ALLOWED


# --- the request and its PDF --------------------------------------------------------------------


def test_a_payment_request_writes_its_pdf_with_siret_iban_amount_agreement_and_commitment(
    django_capture_on_commit_callbacks,
    task_queues,
):
    setup = Setup()
    with django_capture_on_commit_callbacks(execute=True):
        tranche = tranche_request(tranche=setup.tranche(1), iban=IBAN.lower(), actor=setup.beneficiary)
    task_queues.drain()
    tranche.refresh_from_db()
    assert tranche.status == T.REQUESTED and tranche.requested_by == setup.beneficiary
    assert tranche.requested_at is not None
    assert tranche.pay_by == timezone.localdate() + timedelta(days=60)
    document = Document.objects.get(pk=tranche.payment_request_id)
    assert document.status == Status.DONE, document.last_error
    assert document.key == f"tranche:{tranche.pk}:payment-request"
    text = pdf_text(document)
    lead = setup.lead()
    for expected in (
        lead.name,
        flat(lead.siret_display),
        IBAN,
        "50 000 €",
        setup.agreement_number,
        COMMITMENT_NUMBER,
        "Année 1 sur 3",
        setup.application.reference,
    ):
        assert expected in text, expected


@pytest.mark.parametrize("iban", ["", "FR76 3000 6000 0112 3456 7890 188", "pas un IBAN", "FR76"])
def test_an_invalid_iban_is_refused_and_nothing_is_written(iban):
    setup = Setup()
    with pytest.raises(ValidationError) as error:
        tranche_request(tranche=setup.tranche(1), iban=iban, actor=setup.beneficiary)
    assert "IBAN n'est pas valide" in error.value.message_dict["iban"][0]
    assert setup.tranche(1).status == T.SCHEDULED
    assert not Document.objects.filter(kind="payment-request").exists()


@pytest.mark.parametrize("status", [None, "awaiting_signature", "terminated"])
def test_a_tranche_is_requested_only_under_a_signed_or_active_agreement(status):
    setup = Setup(agreement_status=status)
    with pytest.raises(ValidationError) as error:
        tranche_request(tranche=setup.tranche(1), iban=IBAN, actor=setup.beneficiary)
    assert "convention" in " ".join(error.value.messages)
    assert setup.tranche(1).status == T.SCHEDULED


def test_an_active_agreement_allows_the_request():
    setup = Setup(agreement_status="active")
    tranche_request(tranche=setup.tranche(1), iban=IBAN, actor=setup.beneficiary)
    assert setup.tranche(1).status == T.REQUESTED


def test_tranches_are_requested_in_order():
    setup = Setup()
    with pytest.raises(ValidationError) as error:
        tranche_request(tranche=setup.tranche(3), iban=IBAN, actor=setup.beneficiary)
    messages = " ".join(error.value.messages)
    assert "Demandez d'abord la tranche de l'année 1" in messages
    assert "Demandez d'abord la tranche de l'année 2" in messages


def test_year_two_is_blocked_until_both_year_one_reports_are_accepted():
    setup = Setup()
    force(setup.tranche(1), T.PAID)

    with pytest.raises(ValidationError) as error:
        tranche_request(tranche=setup.tranche(2), iban=IBAN, actor=setup.beneficiary)
    messages = " ".join(error.value.messages)
    assert "une fois le rapport d'activité et le compte rendu financier de l'année 1 acceptés." in messages

    accept_reports(setup, 1, kinds=("activity",))
    with pytest.raises(ValidationError) as error:
        tranche_request(tranche=setup.tranche(2), iban=IBAN, actor=setup.beneficiary)
    messages = " ".join(error.value.messages)
    assert "rapport d'activité" not in messages
    assert "compte rendu financier de l'année 1 accepté" in messages

    # A financial report submitted but not accepted yet still holds the tranche back.
    report = report_upload(
        grant=setup.grant,
        year_index=1,
        kind="financial",
        file=io.BytesIO(PDF_BYTES),
        filename="crf.pdf",
        actor=setup.beneficiary,
    )
    with pytest.raises(ValidationError):
        tranche_request(tranche=setup.tranche(2), iban=IBAN, actor=setup.beneficiary)
    report_review(report=report, accept=True, note="", actor=setup.reviewer)

    tranche_request(tranche=setup.tranche(2), iban=IBAN, actor=setup.beneficiary)
    assert setup.tranche(2).status == T.REQUESTED


def test_only_the_lead_structure_or_an_admin_requests_a_tranche():
    setup = Setup()
    with pytest.raises(PermissionDenied):
        tranche_request(tranche=setup.tranche(1), iban=IBAN, actor=applicant())
    with pytest.raises(PermissionDenied):
        tranche_request(tranche=setup.tranche(1), iban=IBAN, actor=setup.reviewer)
    assert setup.tranche(1).status == T.SCHEDULED
    tranche_request(tranche=setup.tranche(1), iban=IBAN, actor=setup.admin)
    assert setup.tranche(1).status == T.REQUESTED


def test_only_the_territory_instructor_or_an_admin_validates():
    setup = Setup()
    tranche = force(setup.tranche(1), T.REQUESTED)
    for outsider in (setup.beneficiary, instructor()):
        with pytest.raises(PermissionDenied):
            tranche_validate(tranche=tranche, actor=outsider)
    assert setup.tranche(1).status == T.REQUESTED
    tranche_validate(tranche=tranche, actor=setup.admin)
    tranche = setup.tranche(1)
    assert tranche.status == T.VALIDATED and tranche.validated_by == setup.admin


# --- payment ------------------------------------------------------------------------------------


def test_paying_a_tranche_not_validated_is_refused():
    setup = Setup()
    tranche = force(setup.tranche(1), T.REQUESTED)
    with pytest.raises(ValidationError) as error:
        tranche_pay(
            tranche=tranche, paid_on=timezone.localdate(), payment_reference="VIR-1", actor=setup.admin
        )
    assert "Seule une tranche validée peut être versée" in error.value.messages[0]
    tranche = setup.tranche(1)
    assert tranche.status == T.REQUESTED and tranche.paid_on is None and tranche.payment_reference == ""


def test_a_second_payment_of_the_same_tranche_is_refused():
    setup = Setup()
    tranche = force(setup.tranche(1), T.VALIDATED)
    tranche_pay(tranche=tranche, paid_on=timezone.localdate(), payment_reference="VIR-1", actor=setup.admin)
    with pytest.raises(ValidationError) as error:
        tranche_pay(
            tranche=tranche, paid_on=timezone.localdate(), payment_reference="VIR-2", actor=setup.admin
        )
    assert "un second versement est refusé" in error.value.messages[0]
    assert "VIR-1" in error.value.messages[0]
    tranche = setup.tranche(1)
    assert (tranche.status, tranche.payment_reference) == (T.PAID, "VIR-1")


def test_a_payment_needs_a_reference_and_a_date_not_in_the_future():
    setup = Setup()
    tranche = force(setup.tranche(1), T.VALIDATED)
    with pytest.raises(ValidationError) as error:
        tranche_pay(
            tranche=tranche,
            paid_on=timezone.localdate() + timedelta(days=1),
            payment_reference="  ",
            actor=setup.admin,
        )
    assert set(error.value.message_dict) == {"paid_on", "payment_reference"}
    assert setup.tranche(1).status == T.VALIDATED


def test_only_an_admin_pays_or_cancels():
    setup = Setup()
    tranche = force(setup.tranche(1), T.VALIDATED)
    for outsider in (setup.beneficiary, setup.reviewer):
        with pytest.raises(PermissionDenied):
            tranche_pay(tranche=tranche, paid_on=timezone.localdate(), payment_reference="V", actor=outsider)
        with pytest.raises(PermissionDenied):
            tranche_cancel(tranche=tranche, reason="Non.", actor=outsider)
    assert setup.tranche(1).status == T.VALIDATED


def test_the_last_payment_completes_the_agreement_in_force_and_audits_it():
    from accounts.models import AuditEvent

    setup = Setup(agreement_status="active")
    force(setup.tranche(1), T.PAID)
    force(setup.tranche(2), T.PAID)
    tranche = force(setup.tranche(3), T.VALIDATED)
    assert setup.agreement is not None
    tranche_pay(tranche=tranche, paid_on=timezone.localdate(), payment_reference="VIR-3", actor=setup.admin)
    setup.agreement.refresh_from_db()
    assert setup.agreement.status == Agreement.Status.COMPLETED
    assert AuditEvent.objects.filter(action="agreement.complete", actor=setup.admin).exists()


def test_cancelling_the_last_open_tranche_settles_the_agreement_and_says_so(client):
    setup = Setup(agreement_status="active")
    force(setup.tranche(1), T.PAID)
    force(setup.tranche(2), T.PAID)
    # The recap says it before the act.
    client.force_login(setup.admin)
    recap = client.post(
        reverse("grants:tranche-cancel", args=[setup.application.reference, 3]),
        {"annulation-3-reason": "Activité arrêtée"},
    ).content.decode()
    assert "Plus aucune tranche ne reste à verser : la convention sera soldée." in recap
    tranche_cancel(tranche=setup.tranche(3), reason="Activité arrêtée", actor=setup.admin)
    assert setup.agreement is not None
    setup.agreement.refresh_from_db()
    assert setup.agreement.status == Agreement.Status.COMPLETED
    email = OutgoingEmail.objects.get(key=f"tranche:{setup.tranche(3).pk}:cancel-email")
    assert "Plus aucune tranche n'est à verser : la convention est soldée." in email.body

    # A cancellation that leaves a tranche to pay says nothing of the kind.
    other = Setup(agreement_status="active")
    client.force_login(other.admin)
    recap = client.post(
        reverse("grants:tranche-cancel", args=[other.application.reference, 3]),
        {"annulation-3-reason": "Activité réduite"},
    ).content.decode()
    assert "Confirmer l&#x27;annulation" in recap and "la convention sera soldée" not in recap
    tranche_cancel(tranche=other.tranche(3), reason="Activité réduite", actor=other.admin)
    assert other.agreement is not None
    other.agreement.refresh_from_db()
    assert other.agreement.status == Agreement.Status.ACTIVE
    email = OutgoingEmail.objects.get(key=f"tranche:{other.tranche(3).pk}:cancel-email")
    assert "soldée" not in email.body


def test_a_payment_before_the_last_leaves_the_agreement_open():
    setup = Setup()
    tranche = force(setup.tranche(1), T.VALIDATED)
    tranche_pay(tranche=tranche, paid_on=timezone.localdate(), payment_reference="VIR-1", actor=setup.admin)
    assert setup.agreement is not None
    setup.agreement.refresh_from_db()
    assert setup.agreement.status == Agreement.Status.SIGNED


def test_a_cancelled_tranche_goes_back_to_the_envelope():
    from applications.models import Call

    setup = Setup()
    before = Call.objects.get(pk=setup.application.call_id).committed_amount
    tranche_cancel(tranche=setup.tranche(3), reason="Activité arrêtée", actor=setup.admin)
    assert Call.objects.get(pk=setup.application.call_id).committed_amount == before - Decimal("50000")
    assert setup.tranche(3).status == T.CANCELLED


def test_a_cancellation_needs_a_reason():
    setup = Setup()
    with pytest.raises(ValidationError) as error:
        tranche_cancel(tranche=setup.tranche(1), reason=" ", actor=setup.admin)
    assert "reason" in error.value.message_dict
    assert setup.tranche(1).status == T.SCHEDULED


# --- the schedule -------------------------------------------------------------------------------


def test_an_admin_changes_the_scheduled_tranches():
    setup = Setup(amount="120000")
    today = timezone.localdate()
    dates = [today, today + timedelta(days=200), today + timedelta(days=500)]
    schedule_update(
        grant=setup.grant,
        parts=[Decimal("50000"), Decimal("40000"), Decimal("30000")],
        due_dates=dates,
        actor=setup.admin,
    )
    assert [row[1:3] for row in snapshot(setup.grant)] == [
        (Decimal("50000"), dates[0]),
        (Decimal("40000"), dates[1]),
        (Decimal("30000"), dates[2]),
    ]


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (["40000", "40000", "30000"], "ne correspond pas au montant de la subvention"),
        (["60000", "30000", "30000"], "dépasse le plafond annuel"),
        (["40000", "40000"], "une tranche par année"),
    ],
)
def test_a_schedule_that_does_not_add_up_or_breaks_the_cap_is_refused_and_nothing_is_written(parts, message):
    setup = Setup(amount="120000")
    before = snapshot(setup.grant)
    today = timezone.localdate()
    with pytest.raises(ValidationError) as error:
        schedule_update(
            grant=setup.grant,
            parts=[Decimal(part) for part in parts],
            due_dates=[today + timedelta(days=365 * i) for i in range(len(parts))],
            actor=setup.admin,
        )
    assert message in " ".join(error.value.messages)
    assert snapshot(setup.grant) == before


def test_a_paid_tranche_keeps_its_amount_and_a_due_date_stays_within_the_agreement():
    setup = Setup(amount="120000")
    assert setup.agreement is not None
    today = timezone.localdate()
    Agreement.objects.filter(pk=setup.agreement.pk).update(
        starts_on=today, ends_on=today + timedelta(days=3 * 365)
    )
    paid = force(setup.tranche(1), T.PAID)
    before = snapshot(setup.grant)
    with pytest.raises(ValidationError) as error:
        schedule_update(
            grant=setup.grant,
            parts=[Decimal("30000"), Decimal("45000"), Decimal("45000")],
            due_dates=[paid.due_date, today + timedelta(days=365), today + timedelta(days=365)],
            actor=setup.admin,
        )
    assert "son montant et son échéance ne changent plus" in " ".join(error.value.message_dict["part_1"])
    with pytest.raises(ValidationError) as error:
        schedule_update(
            grant=setup.grant,
            parts=[Decimal("40000"), Decimal("40000"), Decimal("40000")],
            due_dates=[paid.due_date, today - timedelta(days=1), today + timedelta(days=4 * 365)],
            actor=setup.admin,
        )
    assert "précède le début de la convention" in error.value.message_dict["due_date_2"][0]
    assert "dépasse la fin de la convention" in error.value.message_dict["due_date_3"][0]
    assert snapshot(setup.grant) == before


def test_only_an_admin_changes_the_schedule():
    setup = Setup(amount="120000")
    with pytest.raises(PermissionDenied):
        schedule_update(
            grant=setup.grant,
            parts=[Decimal("40000")] * 3,
            due_dates=[timezone.localdate()] * 3,
            actor=setup.reviewer,
        )


# --- the pages ----------------------------------------------------------------------------------


def grant_url(setup: Setup) -> str:
    return reverse("grants:tranche-grant", args=[setup.application.reference])


def manage_url(setup: Setup) -> str:
    return reverse("grants:tranche-manage", args=[setup.application.reference])


def test_the_beneficiary_sees_the_tranches_and_requests_the_first_one(client):
    setup = Setup()
    client.force_login(setup.beneficiary)
    page = client.get(grant_url(setup))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Les tranches" in body and "Les rapports annuels" in body
    assert 'name="demande-1-iban"' in body
    assert 'name="demande-2-iban"' not in body
    assert 'name="rapport-1-activity-file"' in body

    refused = client.post(
        reverse("grants:tranche-request", args=[setup.application.reference, 1]),
        {"demande-1-iban": "FR00 1234"},
    )
    assert refused.status_code == 200
    assert "IBAN n&#x27;est pas valide" in refused.content.decode()
    assert setup.tranche(1).status == T.SCHEDULED

    done = client.post(
        reverse("grants:tranche-request", args=[setup.application.reference, 1]), {"demande-1-iban": IBAN}
    )
    assert done.status_code == 302
    assert setup.tranche(1).status == T.REQUESTED
    body = client.get(grant_url(setup)).content.decode()
    assert iban_masked(IBAN) in body and iban_masked(IBAN).endswith("0189")
    assert IBAN not in body and IBAN_COMPACT not in body


def test_the_request_is_explained_when_the_agreement_is_missing(client):
    setup = Setup(agreement_status=None)
    client.force_login(setup.beneficiary)
    body = client.get(grant_url(setup)).content.decode()
    assert 'name="demande-1-iban"' not in body
    assert "doit être signée avant toute demande de versement" in body


def test_a_tranche_past_its_sixty_days_shows_en_retard(client):
    setup = Setup()
    force(setup.tranche(1), T.REQUESTED, requested_days_ago=59)
    client.force_login(setup.beneficiary)
    assert "en retard" not in client.get(grant_url(setup)).content.decode()

    force(setup.tranche(1), T.REQUESTED, requested_days_ago=61)
    assert setup.tranche(1).is_late
    assert "en retard" in client.get(grant_url(setup)).content.decode()
    client.force_login(setup.admin)
    assert "en retard" in client.get(manage_url(setup)).content.decode()


def test_another_applicant_gets_a_404(client):
    setup = Setup()
    client.force_login(applicant())
    assert client.get(grant_url(setup)).status_code == 404
    response = client.post(
        reverse("grants:tranche-request", args=[setup.application.reference, 1]), {"demande-1-iban": IBAN}
    )
    assert response.status_code == 404
    assert setup.tranche(1).status == T.SCHEDULED


def test_an_applicant_gets_a_403_on_instruction_and_admin_actions(client):
    setup = Setup()
    force(setup.tranche(1), T.VALIDATED)
    reference = setup.application.reference
    client.force_login(setup.beneficiary)
    assert client.get(manage_url(setup)).status_code == 403
    assert client.post(reverse("grants:tranche-validate", args=[reference, 1])).status_code == 403
    paid = client.post(
        reverse("grants:tranche-pay", args=[reference, 1]),
        {"versement-1-paid_on": timezone.localdate().isoformat(), "versement-1-payment_reference": "VIR"},
    )
    assert paid.status_code == 403
    assert (
        client.post(
            reverse("grants:tranche-cancel", args=[reference, 1]), {"annulation-1-reason": "x"}
        ).status_code
        == 403
    )
    assert client.post(reverse("grants:tranche-schedule", args=[reference])).status_code == 403
    assert setup.tranche(1).status == T.VALIDATED


def test_an_instructor_validates_but_does_not_pay(client):
    setup = Setup()
    force(setup.tranche(1), T.REQUESTED)
    reference = setup.application.reference
    client.force_login(setup.reviewer)
    page = client.get(manage_url(setup))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Valider la demande de l'année 1" in body
    assert "Enregistrer le versement" not in body and "Modifier l'échéancier" not in body
    assert client.post(reverse("grants:tranche-validate", args=[reference, 1])).status_code == 302
    assert setup.tranche(1).status == T.VALIDATED
    paid = client.post(
        reverse("grants:tranche-pay", args=[reference, 1]),
        {"versement-1-paid_on": timezone.localdate().isoformat(), "versement-1-payment_reference": "VIR"},
    )
    assert paid.status_code == 403
    client.force_login(instructor())
    assert client.get(manage_url(setup)).status_code == 404


def test_an_admin_pays_cancels_and_edits_the_schedule_from_the_page(client):
    setup = Setup(amount="120000")
    force(setup.tranche(1), T.VALIDATED)
    reference = setup.application.reference
    client.force_login(setup.admin)
    body = client.get(manage_url(setup)).content.decode()
    assert "Enregistrer le versement" in body and "Modifier l'échéancier" in body

    data = {
        "versement-1-paid_on": timezone.localdate().isoformat(),
        "versement-1-payment_reference": "VIR-77",
    }
    # The recap first: nothing is recorded until « Confirmer ».
    recap = client.post(reverse("grants:tranche-pay", args=[reference, 1]), data)
    assert recap.status_code == 200
    assert "Confirmer le versement de" in recap.content.decode()
    assert setup.tranche(1).status == T.VALIDATED
    paid = client.post(reverse("grants:tranche-pay", args=[reference, 1]), {**data, "confirmer": "1"})
    assert paid.status_code == 302
    assert (setup.tranche(1).status, setup.tranche(1).payment_reference) == (T.PAID, "VIR-77")

    before = snapshot(setup.grant)
    today = timezone.localdate().isoformat()
    refused = client.post(
        reverse("grants:tranche-schedule", args=[reference]),
        {
            "echeancier-part_2": "45 000",
            "echeancier-due_date_2": today,
            "echeancier-part_3": "45 000",
            "echeancier-due_date_3": today,
        },
    )
    assert refused.status_code == 200
    assert "ne correspond pas au montant de la subvention" in refused.content.decode()
    assert snapshot(setup.grant) == before

    done = client.post(
        reverse("grants:tranche-schedule", args=[reference]),
        {
            "echeancier-part_2": "50 000",
            "echeancier-due_date_2": today,
            "echeancier-part_3": "30 000",
            "echeancier-due_date_3": today,
        },
    )
    assert done.status_code == 302
    assert [row[1] for row in snapshot(setup.grant)] == [Decimal("40000"), Decimal("50000"), Decimal("30000")]

    # Without the confirmation, the recap only; then the cancellation.
    recap = client.post(
        reverse("grants:tranche-cancel", args=[reference, 3]), {"annulation-3-reason": "Fin du projet."}
    )
    assert recap.status_code == 200 and "Confirmer l&#x27;annulation" in recap.content.decode()
    assert setup.tranche(3).status == T.SCHEDULED
    cancelled = client.post(
        reverse("grants:tranche-cancel", args=[reference, 3]),
        {"annulation-3-reason": "Fin du projet.", "confirmer": "1"},
    )
    assert cancelled.status_code == 302
    assert setup.tranche(3).status == T.CANCELLED


def test_the_payment_request_pdf_is_downloaded_by_the_dossier_s_users_only(
    client, django_capture_on_commit_callbacks, task_queues
):
    setup = Setup()
    with django_capture_on_commit_callbacks(execute=True):
        tranche_request(tranche=setup.tranche(1), iban=IBAN, actor=setup.beneficiary)
    task_queues.drain()
    url = reverse("grants:tranche-request-pdf", args=[setup.application.reference, 1])
    client.force_login(setup.beneficiary)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    client.force_login(applicant())
    assert client.get(url).status_code == 404


def test_a_payment_request_pdf_not_rendered_yet_or_failed_sends_each_side_back_with_why(client):
    setup = Setup()
    # Commit callbacks are not run: the request's PDF stays pending, as before a worker renders it.
    tranche_request(tranche=setup.tranche(1), iban=IBAN, actor=setup.beneficiary)
    document = setup.tranche(1).payment_request
    assert document is not None and document.status == Status.PENDING
    url = reverse("grants:tranche-request-pdf", args=[setup.application.reference, 1])
    client.force_login(setup.beneficiary)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == reverse("grants:tranche-grant", args=[setup.application.reference])
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "La demande de versement est en cours de production, réessayez dans un instant."
    ]
    Document.objects.filter(pk=document.pk).update(status=Status.FAILED)
    reviewer = Client()
    reviewer.force_login(setup.reviewer)
    response = reviewer.get(url)
    assert response.status_code == 302
    assert response.url == reverse("grants:tranche-manage", args=[setup.application.reference])
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "La demande de versement n'a pas pu être produite. Réessayez plus tard ; si le problème "
        "persiste, contactez l'équipe du programme."
    ]


# --- reminders ----------------------------------------------------------------------------------


def test_reminders_count_late_tranches_and_missing_reports_once_a_day():
    late = Setup()
    force(late.tranche(1), T.REQUESTED, requested_days_ago=61)
    due = Setup()
    paid = force(due.tranche(1), T.PAID)
    Tranche.objects.filter(pk=paid.pk).update(due_date=timezone.localdate() - timedelta(days=400))
    accept_reports(due, 1, kinds=("activity",))
    on_time = Setup()
    force(on_time.tranche(1), T.REQUESTED, requested_days_ago=59)
    today = timezone.localdate()

    counts = reminders_send(today=today)
    assert counts == {"late_tranches": 1, "missing_reports": 1, "emails_queued": 2}
    to_admins = OutgoingEmail.objects.get(key=f"reminder:tranches-late:{today.isoformat()}")
    assert set(to_admins.to) >= {late.admin.email, due.admin.email}
    assert late.application.reference in to_admins.body
    assert on_time.application.reference not in to_admins.body
    to_beneficiary = OutgoingEmail.objects.get(key=f"reminder:reports-due:{due.grant.pk}:{today.isoformat()}")
    assert due.beneficiary.email in to_beneficiary.to
    assert "Compte rendu financier de l'année 1" in to_beneficiary.body
    assert "Rapport d'activité" not in to_beneficiary.body

    emails = OutgoingEmail.objects.count()
    assert reminders_send(today=today) == {"late_tranches": 1, "missing_reports": 1, "emails_queued": 0}
    assert OutgoingEmail.objects.count() == emails

    assert reminders_send(today=today + timedelta(days=1))["emails_queued"] == 2


def test_reports_are_not_due_before_the_year_ends_nor_for_an_unpaid_year():
    setup = Setup()
    force(setup.tranche(1), T.PAID)  # due date: the award day, so year 1 ends in a year
    assert reminders_send(today=timezone.localdate()) == {
        "late_tranches": 0,
        "missing_reports": 0,
        "emails_queued": 0,
    }
    assert reminders_send(today=timezone.localdate() + timedelta(days=366))["missing_reports"] == 2


def test_the_beat_task_runs_the_reminders(task_queues):
    from grants.tasks import tranches_reminders_task

    setup = Setup()
    force(setup.tranche(1), T.VALIDATED, requested_days_ago=70)
    tranches_reminders_task.delay()
    (run, *_emails) = task_queues.drain()
    assert (run.message.task, run.message.queue) == (tranches_reminders_task.name, "default")
    assert run.result["late_tranches"] == 1


def test_a_report_row_is_never_needed_for_year_one():
    setup = Setup()
    assert not Report.objects.exists()
    tranche_request(tranche=setup.tranche(1), iban=IBAN, actor=setup.beneficiary)
    assert setup.tranche(1).status == T.REQUESTED


def test_a_payment_request_waits_for_the_commitment_number():
    setup = Setup()
    Agreement.objects.filter(pk=setup.agreement.pk).update(commitment_number="")
    with pytest.raises(ValidationError) as error:
        tranche_request(tranche=setup.tranche(1), iban=IBAN, actor=setup.beneficiary)
    assert "numéro d'engagement juridique" in " ".join(error.value.messages)
    assert setup.tranche(1).status == T.SCHEDULED


def test_the_grant_page_links_to_its_agreement(client):
    from django.urls import reverse

    setup = Setup()
    client.force_login(setup.beneficiary)
    page = client.get(reverse("grants:tranche-grant", args=[setup.application.reference])).content.decode()
    assert reverse("grants:agreement-detail", args=[setup.agreement.number]) in page
