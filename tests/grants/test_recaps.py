"""The recaps of the acts that cannot be undone after a decision (reopening, terminating,
completing, cancelling a tranche, bulk awards) and the e-mails they promise: a post without the
confirmation writes nothing and names the real amounts and recipients; the confirmation acts and
writes the e-mails. Decisions and agreements are refused while the call's letterhead is incomplete."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import AuditEvent
from applications.models import Application, Call
from applications.services.review import assignment_attest_no_conflict, assignment_create, eligibility_record
from core.formatting import format_money
from grants.models import Agreement, Grant, Tranche
from grants.services import application_award, application_close, application_refuse
from grants.services.agreements import agreement_create
from grants.services.bulk_decisions import decisions_bulk
from grants.services.envelope import add_years
from notifications.models import OutgoingEmail
from tests.factories import in_review_application, programme_admin, submitted_application
from tests.grants.test_payments import Setup, force
from tests.pages import logged, text

pytestmark = pytest.mark.django_db
S = Application.Status
T = Tranche.Status
A = Agreement.Status


def money(value: str) -> str:
    return format_money(Decimal(value))


def representative_email(application: Application) -> str:
    # The factories' lead structure declares the dossier's author as its legal representative.
    return application.created_by.email


# --- reopening -----------------------------------------------------------------------------------


def test_reopening_recaps_what_is_cancelled_and_who_is_told_then_writes_the_emails():
    application, reviewer = in_review_application()
    Application.objects.filter(pk=application.pk).update(kind=Application.Kind.FNT)
    application.refresh_from_db()
    grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    agreement = Agreement.objects.get(grant=grant)
    call = Call.objects.get(pk=application.call_id)
    admin = logged(programme_admin())
    url = reverse("grants:review-reopen", args=[application.reference])
    data = {"reopen-reason": "Erreur sur le caractère numérique du lieu."}

    response = admin.post(url, data)

    assert response.status_code == 200
    page = text(response)
    assert f"Confirmer la réouverture – {application.reference}" in page
    assert money("150000") in page  # the grant cancelled
    assert "Bonus « fabrique numérique de territoire » annulé" in page and money("100000") in page
    assert agreement.number in page and "annulée" in page
    # The tranches not paid: 150 000 € (with the bonus), then 50 000 € twice; all go back.
    assert page.count(money("50000")) >= 2
    assert "Rendu à l'enveloppe de l'appel" in page
    assert money("250000") in page
    assert money(str(call.remaining_amount + Decimal("250000"))) in page
    assert representative_email(application) in page
    assert reviewer.email in page
    assert "Erreur sur le caractère numérique du lieu." in page
    # Nothing written.
    application.refresh_from_db()
    assert application.status == S.AWARDED
    assert Grant.objects.get(pk=grant.pk).status == Grant.Status.ACTIVE
    assert Call.objects.get(pk=call.pk).committed_amount == call.committed_amount
    assert not OutgoingEmail.objects.filter(key__contains="reopen").exists()
    assert not AuditEvent.objects.filter(action="decision.reopen").exists()

    response = admin.post(url, {**data, "confirmer": "1"})

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW
    assert Call.objects.get(pk=call.pk).committed_amount == call.committed_amount - Decimal("250000")
    beneficiary = OutgoingEmail.objects.get(key__contains=":reopen-email:")
    assert beneficiary.to == [representative_email(application)]
    assert application.reference in beneficiary.subject
    assert "Erreur sur le caractère numérique du lieu." in beneficiary.body
    assert money("150000") in beneficiary.body and money("100000") in beneficiary.body
    assert agreement.number in beneficiary.body
    instructors = OutgoingEmail.objects.get(key__contains=":reopen-instructors-email:")
    assert instructors.to == [reviewer.email]
    assert "Erreur sur le caractère numérique du lieu." in instructors.body
    assert reverse("applications:review-detail", args=[application.reference]) in instructors.body


def test_reopening_a_refusal_recaps_no_money_and_still_tells_both_sides():
    application, reviewer = in_review_application()
    application_refuse(application=application, reasons="Hors champ.", actor=reviewer)
    admin = logged(programme_admin())
    url = reverse("grants:review-reopen", args=[application.reference])

    page = text(admin.post(url, {"reopen-reason": "Motifs de refus erronés."}))

    assert "Confirmer la réouverture" in page
    assert "Refusé" in page and "Motifs de refus erronés." in page
    assert "Subvention annulée" not in page and "Tranches annulées" not in page
    assert representative_email(application) in page and reviewer.email in page
    application.refresh_from_db()
    assert application.status == S.REFUSED

    admin.post(url, {"reopen-reason": "Motifs de refus erronés.", "confirmer": "1"})

    application.refresh_from_db()
    assert application.status == S.IN_REVIEW
    email = OutgoingEmail.objects.get(key__contains=":reopen-email:")
    assert "Motifs de refus erronés." in email.body and "subvention" not in email.body.lower()


def test_the_reopening_recap_refuses_what_the_reopening_refuses():
    setup = Setup()
    force(setup.tranche(1), T.PAID)
    response = logged(setup.admin).post(
        reverse("grants:review-reopen", args=[setup.application.reference]),
        {"reopen-reason": "Erreur."},
        follow=True,
    )
    assert "déjà versée : la décision ne se rouvre pas" in text(response)
    assert "Confirmer la réouverture" not in text(response)
    setup.application.refresh_from_db()
    assert setup.application.status == S.AWARDED


# --- termination, completion, cancellation -------------------------------------------------------


def test_termination_recaps_clawback_release_and_what_stays_committed():
    setup = Setup(agreement_status=A.ACTIVE)
    force(setup.tranche(1), T.PAID)
    call = Call.objects.get(pk=setup.application.call_id)
    client = logged(setup.admin)
    url = reverse("grants:agreement-terminate", args=[setup.agreement_number])
    data = {"reason": "Activité arrêtée.", "clawback_amount": "10 000"}

    page = text(client.post(url, data))

    assert f"Confirmer la résiliation – convention {setup.agreement_number}" in page
    assert "Déjà versé" in page and money("50000") in page
    assert "Montant à reverser par le bénéficiaire" in page and money("10000") in page
    assert "Rendu à l'enveloppe de l'appel (tranches non versées)" in page and money("100000") in page
    assert "Montant qui reste engagé pour cette subvention" in page
    assert representative_email(setup.application) in page
    assert Agreement.objects.get(pk=setup.agreement.pk).status == A.ACTIVE  # type: ignore[union-attr]
    assert setup.tranche(2).status == T.SCHEDULED
    assert Call.objects.get(pk=call.pk).committed_amount == call.committed_amount
    assert not OutgoingEmail.objects.filter(key__contains="termination").exists()
    # « Modifier »: the form again, filled in, nothing written.
    edit = text(client.post(url, {**data, "modifier": "1"}))
    assert "Activité arrêtée." in edit and "Confirmer la résiliation" not in edit
    assert Agreement.objects.get(pk=setup.agreement.pk).status == A.ACTIVE  # type: ignore[union-attr]

    response = client.post(url, {**data, "confirmer": "1"})

    assert response.status_code == 302
    agreement = Agreement.objects.get(pk=setup.agreement.pk)  # type: ignore[union-attr]
    assert (agreement.status, agreement.clawback_amount) == (A.TERMINATED, Decimal("10000"))
    assert Call.objects.get(pk=call.pk).committed_amount == call.committed_amount - Decimal("100000")
    email = OutgoingEmail.objects.get(key__contains="termination-email")
    assert representative_email(setup.application) in email.to


def test_a_termination_recap_says_an_excessive_clawback_next_to_its_field():
    setup = Setup(agreement_status=A.ACTIVE)
    response = logged(setup.admin).post(
        reverse("grants:agreement-terminate", args=[setup.agreement_number]),
        {"reason": "Activité arrêtée.", "clawback_amount": "1"},
    )
    assert "dépasse ce qui a été versé" in text(response)
    assert "Confirmer la résiliation" not in text(response)


def test_completion_recaps_what_was_paid_and_tells_the_representative():
    setup = Setup(agreement_status=A.ACTIVE)
    for year in (1, 2, 3):
        force(setup.tranche(year), T.PAID)
    client = logged(setup.admin)
    url = reverse("grants:agreement-complete", args=[setup.agreement_number])

    page = text(client.post(url))

    assert "Confirmer le solde de la convention" in page
    assert "Total versé" in page and money("150000") in page
    assert "Rendu à l'enveloppe par le solde" in page
    assert representative_email(setup.application) in page
    assert Agreement.objects.get(pk=setup.agreement.pk).status == A.ACTIVE  # type: ignore[union-attr]
    assert not OutgoingEmail.objects.filter(key__contains="completion").exists()

    assert client.post(url, {"confirmer": "1"}).status_code == 302

    assert Agreement.objects.get(pk=setup.agreement.pk).status == A.COMPLETED  # type: ignore[union-attr]
    email = OutgoingEmail.objects.get(key__contains="completion-email")
    assert email.to == [representative_email(setup.application)]
    assert setup.agreement_number in email.subject and money("150000") in email.body


def test_completion_of_an_agreement_with_unpaid_tranches_gets_no_recap():
    setup = Setup(agreement_status=A.ACTIVE)
    response = logged(setup.admin).post(
        reverse("grants:agreement-complete", args=[setup.agreement_number]), follow=True
    )
    assert "ne sont pas versées" in text(response)
    assert "Confirmer le solde" not in text(response)


def test_a_tranche_cancellation_recaps_release_and_what_stays_committed_then_tells_the_beneficiary():
    setup = Setup(agreement_status=A.ACTIVE)
    call = Call.objects.get(pk=setup.application.call_id)
    client = logged(setup.admin)
    url = reverse("grants:tranche-cancel", args=[setup.application.reference, 3])
    data = {"annulation-3-reason": "Fin anticipée du projet."}

    page = text(client.post(url, data))

    assert "Confirmer l'annulation – tranche de l'année 3" in page
    assert "Montant annulé" in page and money("50000") in page
    assert "Montant qui reste engagé pour cette subvention" in page and money("100000") in page
    assert representative_email(setup.application) in page
    assert setup.tranche(3).status == T.SCHEDULED
    assert Call.objects.get(pk=call.pk).committed_amount == call.committed_amount

    assert client.post(url, {**data, "confirmer": "1"}).status_code == 302

    assert setup.tranche(3).status == T.CANCELLED
    assert Call.objects.get(pk=call.pk).committed_amount == call.committed_amount - Decimal("50000")
    email = OutgoingEmail.objects.get(key__contains="cancel-email")
    assert email.to == [representative_email(setup.application)]
    assert "Fin anticipée du projet." in email.body and money("50000") in email.body


# --- activation, payment, closing: the e-mails their recaps promise ------------------------------


def test_activation_tells_the_legal_representative_as_its_recap_says():
    setup = Setup(agreement_status=A.SIGNED)
    client = logged(setup.admin)
    url = reverse("grants:agreement-activate", args=[setup.agreement_number])

    page = text(client.post(url, {"commitment_number": "2100123"}))
    assert "Aucun courriel n'est envoyé" not in page
    assert representative_email(setup.application) in page
    assert not OutgoingEmail.objects.filter(key__contains="activation-email").exists()

    client.post(url, {"commitment_number": "2100123", "confirmer": "1"})

    email = OutgoingEmail.objects.get(key__contains="activation-email")
    assert email.to == [representative_email(setup.application)]
    assert "2100123" in email.body and "première tranche" in email.body
    assert reverse("grants:tranche-grant", args=[setup.application.reference]) in email.body
    assert money("50000") in email.body


def test_a_recorded_payment_tells_the_legal_representative_amount_date_and_reference():
    setup = Setup(agreement_status=A.ACTIVE)
    force(setup.tranche(1), T.VALIDATED)
    client = logged(setup.admin)
    url = reverse("grants:tranche-pay", args=[setup.application.reference, 1])
    paid_on = timezone.localdate() - timedelta(days=2)
    data = {"versement-1-paid_on": paid_on.isoformat(), "versement-1-payment_reference": "VIR-2026-42"}

    page = text(client.post(url, data))
    assert "Aucun courriel n'est envoyé" not in page
    assert representative_email(setup.application) in page
    assert not OutgoingEmail.objects.filter(key__contains="paid-email").exists()

    client.post(url, {**data, "confirmer": "1"})

    email = OutgoingEmail.objects.get(key__contains="paid-email")
    assert email.to == [representative_email(setup.application)]
    assert money("50000") in email.body
    assert date_format(paid_on, "j F Y") in email.body
    assert "VIR-2026-42" in email.body
    assert "la convention est soldée" not in email.body  # two tranches are still to be paid


def test_the_last_payment_says_the_agreement_is_completed():
    setup = Setup(agreement_status=A.ACTIVE)
    force(setup.tranche(1), T.PAID)
    force(setup.tranche(2), T.PAID)
    force(setup.tranche(3), T.VALIDATED)
    logged(setup.admin).post(
        reverse("grants:tranche-pay", args=[setup.application.reference, 3]),
        {
            "versement-3-paid_on": timezone.localdate().isoformat(),
            "versement-3-payment_reference": "VIR-3",
            "confirmer": "1",
        },
    )
    assert Agreement.objects.get(pk=setup.agreement.pk).status == A.COMPLETED  # type: ignore[union-attr]
    email = OutgoingEmail.objects.get(key__contains="paid-email")
    assert "C'était la dernière tranche : la convention est soldée." in email.body


def test_closing_tells_the_applicant_with_the_reason():
    application, reviewer = in_review_application()
    application_close(application=application, reason="Dossier abandonné par le porteur.", actor=reviewer)
    # The reason is in the letter the e-mail carries (tests/grants/test_letters.py renders it).
    email = OutgoingEmail.objects.get(key__contains="closing-letter-email")
    assert application.created_by.email in email.to
    letter = email.attachments.get()
    assert letter.kind == "closing-letter"
    assert letter.context["reasons"] == ["Dossier abandonné par le porteur."]


# --- bulk awards ---------------------------------------------------------------------------------


def eligible_in_review(call: Call, reviewer) -> Application:  # type: ignore[no-untyped-def]
    application = submitted_application(call=call)
    assignment = assignment_create(application=application, instructor=reviewer, actor=reviewer)
    assignment_attest_no_conflict(assignment=assignment, actor=reviewer)
    eligibility_record(
        application=application,
        answers={check.pk: (True, "") for check in call.eligibility_checks.all()},
        actor=reviewer,
    )
    return application


def test_the_bulk_award_recap_gives_each_dossier_its_figures_and_lists_the_one_refused():
    first, reviewer = in_review_application()
    call = Call.objects.get(pk=first.call_id)
    Application.objects.filter(pk=first.pk).update(kind=Application.Kind.FNT)
    second = eligible_in_review(call, reviewer)
    third = eligible_in_review(call, reviewer)
    # Room for the FNT award (150 000 € + 100 000 € of bonus) and one more, not a third.
    Call.objects.filter(pk=call.pk).update(envelope=call.committed_amount + Decimal("400000"))
    client = logged(reviewer)
    data = {
        "references": [first.reference, second.reference, third.reference],
        "decision": "award",
        "amount": "",
    }

    page = text(client.post(reverse("grants:review-bulk"), data))

    start = timezone.localdate()
    years = [add_years(start, index).year for index in range(3)]
    # The FNT dossier: its amount, its bonus, the bonus on the first tranche, the remainder after it.
    assert f"{years[0]} : {money('150000')} (dont bonus {money('100000')})" in page
    assert f"{years[1]} : {money('50000')}" in page and f"{years[2]} : {money('50000')}" in page
    rows = page.split('<th scope="row">')
    first_row = next(row for row in rows if row.startswith(first.reference))
    second_row = next(row for row in rows if row.startswith(second.reference))
    third_row = next(row for row in rows if row.startswith(third.reference))
    assert money("150000") in first_row and money("100000") in first_row
    assert f"<td>{money('150000')}</td>" in first_row  # the remainder after it: 400 000 − 250 000
    assert "Sera décidé" in first_row
    assert f"<td>{money('0')}</td>" in second_row and "Sera décidé" in second_row
    assert "Sera refusé : L'enveloppe de l'appel n'a plus que" in third_row
    assert "Total engagé (bonus compris)" in page and money("400000") in page
    assert "après toutes ces attributions" in page
    assert "Dossiers qui seront refusés (motif dans le tableau)" in page
    assert not Grant.objects.exists()

    response = client.post(reverse("grants:review-bulk"), {**data, "confirmer": "1"})

    assert "2 décisions enregistrées sur 3." in text(response)
    assert Call.objects.get(pk=call.pk).remaining_amount == Decimal("0")
    assert not Grant.objects.filter(application=third).exists()


def test_the_bulk_refusal_recap_lists_a_dossier_not_in_review_as_refused():
    first, reviewer = in_review_application()
    second = eligible_in_review(first.call, reviewer)
    application_refuse(application=second, reasons="Déjà refusé.", actor=reviewer)
    page = text(
        logged(reviewer).post(
            reverse("grants:review-bulk"),
            {
                "references": [first.reference, second.reference],
                "decision": "refuse",
                "reasons": "Hors champ.",
            },
        )
    )
    first_row = next(row for row in page.split('<th scope="row">') if row.startswith(first.reference))
    second_row = next(row for row in page.split('<th scope="row">') if row.startswith(second.reference))
    assert "Sera décidé" in first_row
    assert "Sera refusé : Seul un dossier en instruction peut être décidé" in second_row
    first.refresh_from_db()
    assert first.status == S.IN_REVIEW


# --- the call's letterhead -----------------------------------------------------------------------

SETTINGS = [
    ("signatory_name", "Renseignez le nom du signataire de l'appel dans l'administration avant de"),
    ("signatory_title", "Renseignez la qualité du signataire de l'appel dans l'administration avant de"),
    ("signature_place", "Renseignez le lieu de signature de l'appel dans l'administration avant de"),
    ("grantor_name", "Renseignez l'autorité qui attribue de l'appel dans l'administration avant de"),
]


@pytest.mark.parametrize(("setting", "message"), SETTINGS)
def test_no_decision_goes_out_while_a_letterhead_setting_is_empty(setting, message):
    application, reviewer = in_review_application()
    call = Call.objects.get(pk=application.call_id)
    Call.objects.filter(pk=call.pk).update(**{setting: ""})
    application.refresh_from_db()
    for decide in (
        lambda: application_award(application=application, amount=Decimal("150000"), actor=reviewer),
        lambda: application_refuse(application=application, reasons="Hors champ.", actor=reviewer),
        lambda: application_close(application=application, reason="Abandon.", actor=reviewer),
    ):
        with pytest.raises(ValidationError) as error:
            decide()
        assert message in " ".join(error.value.messages)
    results = decisions_bulk(
        applications=[application], decision="refuse", reasons="Hors champ.", actor=reviewer
    )
    assert not results[0].done and message in results[0].message
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW
    assert not Grant.objects.exists()
    assert not OutgoingEmail.objects.filter(key__contains="letter").exists()
    assert not OutgoingEmail.objects.filter(key__contains="close-email").exists()


def test_the_award_recap_names_the_missing_signatory_and_writes_nothing():
    application, reviewer = in_review_application()
    Call.objects.filter(pk=application.call_id).update(signatory_name="")
    response = logged(reviewer).post(
        reverse("grants:review-decide", args=[application.reference]),
        {"decision": "award", "amount": "150 000"},
    )
    page = text(response)
    assert (
        "Renseignez le nom du signataire de l'appel dans l'administration avant de prendre une décision"
        in page
    )
    assert "signataire des décisions" in page
    assert "Confirmer l'attribution" not in page
    assert not Grant.objects.exists()


def test_no_agreement_is_drawn_up_while_the_signatory_is_empty():
    setup = Setup(agreement_status=None)
    Call.objects.filter(pk=setup.application.call_id).update(signatory_title="")
    grant = Grant.objects.get(pk=setup.grant.pk)
    with pytest.raises(ValidationError) as error:
        agreement_create(grant=grant, actor=setup.reviewer)
    assert (
        "Renseignez la qualité du signataire de l'appel dans l'administration avant d'établir une convention"
        in " ".join(error.value.messages)
    )
    assert not Agreement.objects.filter(grant=grant).exists()
