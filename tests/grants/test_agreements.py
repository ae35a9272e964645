"""Grant agreements and amendments: the convention's PDF, its signature, the envelope they move.

What the agreement must say is the law's (DOMAIN.md, « Legal outputs »): parties with their SIRET
and representative, purpose, duration, yearly amounts and their conditions, the compte rendu
financier within six months, controls, clawback with the contrat d'engagement républicain,
amendments, termination and signatures. PDFs are rendered in process and read back with pypdf.
"""

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pypdf
import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import include, path, reverse
from django.utils import timezone

import config.urls
from accounts.models import AuditEvent, User
from applications.models import Application, Call, Member
from core.formatting import format_money
from fabriques.models import Organisation, OrganisationMembership
from grants import urls as grants_urls
from grants.models import Agreement, Amendment, Grant, Tranche
from grants.services import application_award
from grants.services.agreements import (
    agreement_accept,
    agreement_activate,
    agreement_complete,
    agreement_create,
    agreement_terminate,
    agreement_upload_signed_copy,
    amendment_create,
    termination_document,
)
from notifications.models import Document, OutgoingEmail, Status
from tests.factories import (
    PDF_BYTES,
    CallFactory,
    OrganisationFactory,
    applicant,
    close_response,
    in_review_application,
    instructor,
    make_siret,
    member_of,
    programme_admin,
)

# The agreements' URLs are in grants/urls.py, in the grants namespace; this test urlconf includes
# that module as config.urls does.
urlpatterns = [
    path("", include((list(grants_urls.urlpatterns), "grants"))),
    *[pattern for pattern in config.urls.urlpatterns if getattr(pattern, "namespace", None) != "grants"],
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

GRANTOR = "Agence nationale de la cohésion des territoires"
GRANTOR_SIRET = make_siret(4242)
SIGNATORY_NAME = "Claire Dupont-Lefèvre"
SIGNATORY_TITLE = "La directrice générale déléguée aux programmes"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
ENVELOPE_MESSAGE = "L'enveloppe de l'appel n'a plus que"


@dataclass
class Laureate:
    application: Application
    call: Call
    grant: Grant
    agreement: Agreement
    reviewer: User
    representative: User  # applicant A: the lead structure's legal representative
    lead: Organisation
    partner: Organisation


def laureate(*, amount: str = "150000", **call_fields: object) -> Laureate:
    """An awarded dossier (a lead and one partner) and its agreement, awaiting signature."""
    call = CallFactory(
        grantor_name=GRANTOR,
        grantor_siret=GRANTOR_SIRET,
        signatory_name=SIGNATORY_NAME,
        signatory_title=SIGNATORY_TITLE,
        **call_fields,
    )
    application, reviewer = in_review_application(call=call)
    representative = application.created_by
    OrganisationMembership.objects.filter(user=representative).update(job_title="Présidente")
    lead = application.members.get(is_lead=True).organisation
    partner = OrganisationFactory(name="Coopérative Kanopé")
    Member.objects.create(
        application=application,
        organisation=partner,
        is_lead=False,
        role="Coopérative d'activité et d'emploi",
        share_percent=Decimal("30"),
    )
    grant = application_award(application=application, amount=Decimal(amount), actor=reviewer)
    # Once application_award creates the agreement itself, the test takes that one.
    agreement = Agreement.objects.filter(grant=grant).first() or agreement_create(grant=grant, actor=reviewer)
    call.refresh_from_db()
    return Laureate(application, call, grant, agreement, reviewer, representative, lead, partner)


def signed(case: Laureate) -> Agreement:
    return agreement_accept(agreement=case.agreement, actor=case.representative)


def active(case: Laureate, admin: User) -> Agreement:
    signed(case)
    return agreement_activate(agreement=case.agreement, commitment_number="2100123456", actor=admin)


def pay(grant: Grant, *years: int) -> None:
    Tranche.objects.filter(grant=grant, year_index__in=years).update(
        status=Tranche.Status.PAID,
        requested_at=timezone.now(),
        paid_on=timezone.localdate(),
        payment_reference="VIR-2026-0001",
    )


def flat(text: str) -> str:
    """One line, single spaces, straight apostrophes: the PDF's layout is not its text."""
    return " ".join(text.split()).replace("\u2019", "'")


def pdf_text(document: Document) -> str:
    document.refresh_from_db()
    assert document.status == Status.DONE, document.last_error
    with document.file.open("rb") as handle:
        pdf = handle.read()
    assert pdf.startswith(b"%PDF-")
    return flat("\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages))


def state(case: Laureate) -> tuple[object, ...]:
    """Everything an action refused must leave as it was."""
    case.agreement.refresh_from_db()
    return (
        case.agreement.status,
        case.agreement.accepted_by_id,
        case.agreement.signed_at,
        case.agreement.signed_copy.name,
        case.agreement.commitment_number,
        case.agreement.clawback_amount,
        Call.objects.get(pk=case.call.pk).committed_amount,
        Grant.objects.get(pk=case.grant.pk).amount,
        list(Tranche.objects.filter(grant=case.grant).values_list("year_index", "amount", "status")),
        Amendment.objects.count(),
        Document.objects.count(),
        OutgoingEmail.objects.count(),
    )


# --- the agreement and its PDF -------------------------------------------------------------------


def test_an_agreement_has_a_number_and_a_pdf_with_every_clause_the_law_asks_for(
    django_capture_on_commit_callbacks,
    task_queues,
):
    with django_capture_on_commit_callbacks(execute=True):
        case = laureate()
    task_queues.drain()

    agreement = case.agreement
    assert re.fullmatch(rf"CONV-{timezone.localdate().year}-\d{{5}}", agreement.number)
    assert agreement.status == Agreement.Status.AWAITING_SIGNATURE
    assert agreement.document.template_name == "pdf/agreement.html"
    assert agreement.document.key == f"agreement:{agreement.pk}:document"
    text = pdf_text(agreement.document)
    expected = (
        agreement.number,
        case.application.reference,
        case.application.title,
        GRANTOR,
        f"SIRET : {flat(Organisation(siret=GRANTOR_SIRET).siret_display)}",
        SIGNATORY_NAME,
        SIGNATORY_TITLE,
        case.lead.name,
        f"SIRET : {flat(case.lead.siret_display)}",
        case.lead.address,
        case.representative.get_full_name(),
        "Présidente",
        "Coopérative Kanopé",
        flat(case.partner.siret_display),
        "Un lieu ressource.",  # the dossier's summary: the agreement's purpose
        "durée de 3 ans",
        "montant total de 150 000 €",
        # The first tranche is requested once the agreement is signed and activated (the portal's rule).
        "Année 1 50 000 € Sur demande du bénéficiaire, une fois la convention signée et activée",
        "Année 2 50 000 € Sur demande du bénéficiaire, après acceptation du rapport d'activité et du compte "
        "rendu financier de l'année 1",
        "Année 3 50 000 € Sur demande du bénéficiaire, après acceptation du rapport d'activité et du compte "
        "rendu financier de l'année 2",
        "60 jours",
        "six mois suivant la fin de chaque exercice",
        "compte rendu financier",
        "rapport d'activité",
        "Contrôles",
        "contrat d'engagement républicain",
        "au prorata",
        "Avenants",
        "Résiliation",
        "Pour l'administration",
        "Pour le bénéficiaire",
    )
    for fragment in expected:
        assert fragment in text, fragment
    assert text.index(SIGNATORY_NAME, text.index("Pour l'administration")) > text.index("Article 9")
    assert AuditEvent.objects.filter(action="agreement.create", target_id=str(agreement.pk)).exists()


def test_agreement_numbers_follow_each_other_and_a_grant_has_one_agreement():
    first, second = laureate(), laureate()
    year = timezone.localdate().year
    one, two = (int(case.agreement.number.rsplit("-", 1)[1]) for case in (first, second))
    assert two == one + 1 and first.agreement.number.startswith(f"CONV-{year}-")
    with pytest.raises(ValidationError, match="déjà sa convention"):
        agreement_create(grant=first.grant, actor=first.reviewer)
    assert Agreement.objects.count() == 2


def test_an_applicant_cannot_create_an_agreement():
    case = laureate()
    Agreement.objects.all().delete()
    with pytest.raises(PermissionDenied):
        agreement_create(grant=case.grant, actor=case.representative)
    assert not Agreement.objects.exists()


# --- acceptance and the signed copy --------------------------------------------------------------


def test_the_legal_representative_accepts_the_agreement_which_is_then_signed():
    case = laureate()
    before = timezone.now()
    agreement = agreement_accept(agreement=case.agreement, actor=case.representative)
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.SIGNED
    assert agreement.accepted_by == case.representative
    assert before <= agreement.signed_at <= timezone.now()
    assert AuditEvent.objects.filter(action="agreement.accept", actor=case.representative).exists()
    with pytest.raises(ValidationError, match="ne peut plus être acceptée"):
        agreement_accept(agreement=case.agreement, actor=case.representative)


def test_only_a_legal_representative_of_the_lead_may_accept():
    case = laureate()
    colleague = applicant()
    member_of(case.lead, colleague)  # a member of the lead structure, not its legal representative
    partner_representative = applicant()
    member_of(case.partner, partner_representative, is_legal_representative=True)
    before = state(case)
    for user in (colleague, partner_representative, applicant(), programme_admin()):
        with pytest.raises(PermissionDenied) as error:
            agreement_accept(agreement=case.agreement, actor=user)
        assert "Seul le représentant légal de la structure chef de file" in str(error.value)
        assert state(case) == before


def test_a_signed_copy_is_checked_by_its_content_and_fingerprinted():
    case = laureate()
    colleague = applicant()
    member_of(case.lead, colleague)
    before = state(case)
    with pytest.raises(ValidationError) as error:
        agreement_upload_signed_copy(
            agreement=case.agreement, file=io.BytesIO(EXE_BYTES), filename="convention.pdf", actor=colleague
        )
    assert "n'est pas un PDF" in error.value.message_dict["file"][0]
    with pytest.raises(ValidationError, match="vide"):
        agreement_upload_signed_copy(
            agreement=case.agreement, file=io.BytesIO(b""), filename="convention.pdf", actor=colleague
        )
    with pytest.raises(PermissionDenied):
        agreement_upload_signed_copy(
            agreement=case.agreement, file=io.BytesIO(PDF_BYTES), filename="convention.pdf", actor=applicant()
        )
    assert state(case) == before

    agreement = agreement_upload_signed_copy(
        agreement=case.agreement,
        file=io.BytesIO(PDF_BYTES),
        filename="../../Convention signée.pdf",
        actor=colleague,
    )
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.SIGNED and agreement.signed_at is not None
    assert agreement.accepted_by is None
    assert agreement.signed_copy_sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert agreement.signed_copy.name.startswith("conventions/") and ".." not in agreement.signed_copy.name
    with agreement.signed_copy.open("rb") as handle:
        assert handle.read() == PDF_BYTES


# --- activation and completion -------------------------------------------------------------------


def test_only_an_admin_activates_a_signed_agreement_which_then_runs_for_the_calls_duration():
    case = laureate()
    admin = programme_admin()
    with pytest.raises(ValidationError, match="seule une convention signée"):
        agreement_activate(agreement=case.agreement, commitment_number="2100123456", actor=admin)
    signed(case)
    for user in (case.representative, case.reviewer, instructor()):
        with pytest.raises(PermissionDenied):
            agreement_activate(agreement=case.agreement, commitment_number="2100123456", actor=user)
    with pytest.raises(ValidationError) as error:
        agreement_activate(agreement=case.agreement, commitment_number="  ", actor=admin)
    assert "commitment_number" in error.value.message_dict
    assert Agreement.objects.get(pk=case.agreement.pk).status == Agreement.Status.SIGNED

    agreement = agreement_activate(agreement=case.agreement, commitment_number=" 2100123456 ", actor=admin)
    agreement.refresh_from_db()
    start = timezone.localdate(agreement.signed_at)
    assert agreement.status == Agreement.Status.ACTIVE
    assert agreement.commitment_number == "2100123456"
    assert agreement.starts_on == start
    assert agreement.ends_on == start.replace(year=start.year + 3) - timedelta(days=1)
    assert list(case.grant.tranches.values_list("due_date", flat=True))[0] == start


def test_an_agreement_is_completed_only_once_every_tranche_is_paid():
    case = laureate()
    admin = programme_admin()
    active(case, admin)
    pay(case.grant, 1, 2)
    with pytest.raises(ValidationError, match="ne sont pas versées"):
        agreement_complete(agreement=case.agreement, actor=admin)
    pay(case.grant, 3)
    with pytest.raises(PermissionDenied):
        agreement_complete(agreement=case.agreement, actor=case.representative)
    assert agreement_complete(agreement=case.agreement, actor=admin).status == Agreement.Status.COMPLETED


# --- amendments ----------------------------------------------------------------------------------


def test_an_amendment_commits_or_releases_the_difference_under_the_cap(
    django_capture_on_commit_callbacks, task_queues
):
    case = laureate(amount="120000")
    admin = programme_admin()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        amendment = amendment_create(
            grant=case.grant,
            new_amount=Decimal("150000"),
            yearly=[Decimal("50000")] * 3,
            reason="Extension du fablab à une deuxième commune.",
            actor=admin,
        )
    task_queues.drain()

    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("150000")
    assert Grant.objects.get(pk=case.grant.pk).amount == Decimal("150000")
    assert list(case.grant.tranches.values_list("amount", flat=True)) == [Decimal("50000")] * 3
    assert (amendment.number, amendment.previous_amount, amendment.new_amount) == (
        1,
        Decimal("120000"),
        Decimal("150000"),
    )
    assert amendment.yearly == ["50000", "50000", "50000"]
    text = pdf_text(amendment.document)
    for fragment in (
        f"Avenant n° 1 à la convention n° {case.agreement.number}",
        "porté de 120 000 € à 150 000 €",
        "Année 1 40 000 € 50 000 €",
        "Extension du fablab à une deuxième commune.",
        case.lead.name,
        SIGNATORY_NAME,
    ):
        assert fragment in text, fragment
    (message,) = mail.outbox
    assert f"Avenant n° 1 à la convention {case.agreement.number}" == message.subject
    assert case.representative.email in message.to
    assert [name for name, _content, _type in message.attachments] == [amendment.document.filename]

    second = amendment_create(
        grant=case.grant,
        new_amount=Decimal("100000"),
        yearly=[Decimal("50000"), Decimal("25000"), Decimal("25000")],
        reason="Le second lieu n'ouvrira pas.",
        actor=admin,
    )
    assert second.number == 2
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("100000")


def test_an_amendment_beyond_the_envelope_is_refused_and_writes_nothing():
    case = laureate(amount="120000", envelope=Decimal("130000"))
    admin = programme_admin()
    before = state(case)
    with pytest.raises(ValidationError) as error:
        amendment_create(
            grant=case.grant,
            new_amount=Decimal("150000"),
            yearly=[Decimal("50000")] * 3,
            reason="Extension.",
            actor=admin,
        )
    assert error.value.message_dict["amount"] == [
        "L'enveloppe de l'appel n'a plus que 10\u00a0000\u00a0€ disponibles : 30\u00a0000\u00a0€ ne peuvent pas "
        "être engagés."
    ]
    assert state(case) == before
    assert not AuditEvent.objects.filter(action="amendment.create").exists()


@pytest.mark.parametrize(
    ("amount", "yearly", "key", "message"),
    [
        ("150000", ["60000", "45000", "45000"], "yearly_1", "dépasse le plafond annuel"),
        ("150000", ["50000", "50000", "40000"], "yearly", "ne correspond pas au montant attribué"),
        ("160000", ["50000", "50000", "60000"], "amount", "doit être compris entre"),
        ("150000", ["75000", "75000"], "yearly", "une tranche par année"),
    ],
)
def test_an_amendment_respects_the_calls_bounds_and_yearly_cap(amount, yearly, key, message):
    case = laureate(amount="120000")
    before = state(case)
    with pytest.raises(ValidationError) as error:
        amendment_create(
            grant=case.grant,
            new_amount=Decimal(amount),
            yearly=[Decimal(part) for part in yearly],
            reason="Motif.",
            actor=programme_admin(),
        )
    assert any(message in text for text in error.value.message_dict[key]), error.value.message_dict
    assert state(case) == before


def test_paid_tranches_are_frozen_by_an_amendment():
    case = laureate(amount="120000")
    admin = programme_admin()
    active(case, admin)
    pay(case.grant, 1)
    before = state(case)
    with pytest.raises(ValidationError) as error:
        amendment_create(
            grant=case.grant,
            new_amount=Decimal("150000"),
            yearly=[Decimal("50000")] * 3,
            reason="Extension.",
            actor=admin,
        )
    assert "ne peut plus changer" in error.value.message_dict["yearly_1"][0]
    assert state(case) == before

    amendment_create(
        grant=case.grant,
        new_amount=Decimal("140000"),
        yearly=[Decimal("40000"), Decimal("50000"), Decimal("50000")],
        reason="Extension.",
        actor=admin,
    )
    assert list(case.grant.tranches.values_list("amount", "status")) == [
        (Decimal("40000"), "paid"),
        (Decimal("50000"), "scheduled"),
        (Decimal("50000"), "scheduled"),
    ]
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("140000")


def test_only_an_admin_amends_and_a_reason_is_required():
    case = laureate(amount="120000")
    before = state(case)
    with pytest.raises(PermissionDenied):
        amendment_create(
            grant=case.grant,
            new_amount=Decimal("150000"),
            yearly=[Decimal("50000")] * 3,
            reason="x",
            actor=case.reviewer,
        )
    with pytest.raises(ValidationError) as error:
        amendment_create(
            grant=case.grant,
            new_amount=Decimal("150000"),
            yearly=[Decimal("50000")] * 3,
            reason=" ",
            actor=programme_admin(),
        )
    assert "reason" in error.value.message_dict
    assert state(case) == before


# --- termination ---------------------------------------------------------------------------------


def test_termination_cancels_the_unpaid_tranches_releases_them_and_records_the_clawback(
    django_capture_on_commit_callbacks,
    task_queues,
):
    case = laureate()
    admin = programme_admin()
    active(case, admin)
    pay(case.grant, 1)
    Tranche.objects.filter(grant=case.grant, year_index=2).update(
        status=Tranche.Status.REQUESTED, requested_at=timezone.now()
    )
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("150000")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        agreement = agreement_terminate(
            agreement=case.agreement,
            reason="Le lieu a fermé en cours d'année.\nLes comptes n'ont pas été produits.",
            clawback_amount=Decimal("20000"),
            actor=admin,
        )
    task_queues.drain()

    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.TERMINATED and agreement.terminated_at is not None
    assert agreement.clawback_amount == Decimal("20000")
    assert list(case.grant.tranches.values_list("year_index", "status")) == [
        (1, "paid"),
        (2, "cancelled"),
        (3, "cancelled"),
    ]
    call = Call.objects.get(pk=case.call.pk)
    assert call.committed_amount == Decimal("50000")  # only what was paid stays committed
    assert call.laureate_count == 1
    text = pdf_text(termination_document(agreement))
    for fragment in (
        f"résiliation de la convention n° {agreement.number}",
        "Le lieu a fermé en cours d'année.",
        "Les comptes n'ont pas été produits.",
        "Sommes déjà versées 50 000 €",
        "Tranches non versées, annulées 100 000 €",
        "Montant à reverser 20 000 €",
        "Voies et délais de recours",
        SIGNATORY_NAME,
    ):
        assert fragment in text, fragment
    (message,) = mail.outbox
    assert message.subject == f"Résiliation de la convention {agreement.number}"
    assert case.representative.email in message.to and len(message.attachments) == 1
    assert AuditEvent.objects.filter(action="agreement.terminate").exists()


def test_a_clawback_above_what_was_paid_is_refused_and_nothing_changes():
    case = laureate()
    admin = programme_admin()
    active(case, admin)
    pay(case.grant, 1)
    before = state(case)
    with pytest.raises(ValidationError) as error:
        agreement_terminate(
            agreement=case.agreement, reason="Fermeture.", clawback_amount=Decimal("50000.01"), actor=admin
        )
    assert "dépasse ce qui a été versé" in error.value.message_dict["clawback_amount"][0]
    with pytest.raises(PermissionDenied):
        agreement_terminate(
            agreement=case.agreement, reason="Fermeture.", clawback_amount=Decimal("0"), actor=case.reviewer
        )
    with pytest.raises(ValidationError) as error:
        agreement_terminate(agreement=case.agreement, reason="", clawback_amount=Decimal("0"), actor=admin)
    assert "reason" in error.value.message_dict
    assert state(case) == before


def test_an_agreement_awaiting_signature_cannot_be_terminated():
    case = laureate()
    with pytest.raises(ValidationError, match="ne peut pas être résiliée"):
        agreement_terminate(
            agreement=case.agreement,
            reason="Fermeture.",
            clawback_amount=Decimal("0"),
            actor=programme_admin(),
        )


# --- pages ---------------------------------------------------------------------------------------


def detail_url(agreement: Agreement, name: str = "agreement-detail") -> str:
    return reverse(f"grants:{name}", kwargs={"number": agreement.number})


def test_the_lead_sees_its_agreement_and_another_applicant_gets_a_404(
    client, django_capture_on_commit_callbacks, task_queues
):
    with django_capture_on_commit_callbacks(execute=True):
        case = laureate()
    task_queues.drain()
    client.force_login(case.representative)
    response = client.get(detail_url(case.agreement))
    assert response.status_code == 200
    page = response.content.decode()
    assert case.agreement.number in page and "Accepter la convention" in page
    assert "Actions du programme" not in page

    download = client.get(detail_url(case.agreement, "agreement-download"))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    close_response(download)

    client.force_login(applicant())
    for name in ("agreement-detail", "agreement-download", "agreement-signed-copy-download"):
        assert client.get(detail_url(case.agreement, name)).status_code == 404
    assert client.post(detail_url(case.agreement, "agreement-accept"), {"confirm": "on"}).status_code == 404
    assert case.agreement.number not in client.get(reverse("grants:agreement-list")).content.decode()


def test_a_member_who_is_not_the_legal_representative_is_told_why_and_refused(client):
    case = laureate()
    colleague = applicant()
    member_of(case.lead, colleague)
    client.force_login(colleague)
    page = client.get(detail_url(case.agreement)).content.decode()
    assert "Seul le représentant légal" in page
    assert 'name="confirm"' not in page
    before = state(case)
    response = client.post(detail_url(case.agreement, "agreement-accept"), {"confirm": "on"}, follow=True)
    assert "Seul le représentant légal de la structure chef de file" in response.content.decode()
    assert state(case) == before


def test_the_legal_representative_accepts_on_the_page(client):
    case = laureate()
    client.force_login(case.representative)
    response = client.post(detail_url(case.agreement, "agreement-accept"), {})
    assert response.status_code == 200 and "Cochez la case" in response.content.decode()
    response = client.post(detail_url(case.agreement, "agreement-accept"), {"confirm": "on"})
    assert response.status_code == 302
    case.agreement.refresh_from_db()
    assert case.agreement.status == Agreement.Status.SIGNED
    assert case.agreement.accepted_by == case.representative


def test_the_signed_copy_is_uploaded_on_the_page_and_an_exe_is_refused(client):
    case = laureate()
    client.force_login(case.representative)
    url = detail_url(case.agreement, "agreement-signed-copy")
    exe = io.BytesIO(EXE_BYTES)
    exe.name = "convention.pdf"
    response = client.post(url, {"file": exe})
    assert response.status_code == 200
    assert "n&#x27;est pas un PDF" in response.content.decode()
    assert Agreement.objects.get(pk=case.agreement.pk).status == Agreement.Status.AWAITING_SIGNATURE

    pdf = io.BytesIO(PDF_BYTES)
    pdf.name = "convention-signee.pdf"
    assert client.post(url, {"file": pdf}).status_code == 302
    assert Agreement.objects.get(pk=case.agreement.pk).status == Agreement.Status.SIGNED
    download = client.get(detail_url(case.agreement, "agreement-signed-copy-download"))
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == PDF_BYTES
    close_response(download)


def test_admin_actions_are_forbidden_to_applicants_and_instructors(client):
    case = laureate()
    signed(case)
    for user in (case.representative, case.reviewer):
        client.force_login(user)
        for name in ("agreement-activate", "agreement-complete", "agreement-terminate", "agreement-amend"):
            assert (
                client.post(detail_url(case.agreement, name), {"commitment_number": "1"}).status_code == 403
            )
        for name in ("agreement-terminate", "agreement-amend"):
            assert client.get(detail_url(case.agreement, name)).status_code == 403
    assert Agreement.objects.get(pk=case.agreement.pk).status == Agreement.Status.SIGNED


def test_an_admin_activates_amends_and_terminates_on_the_pages(
    client, django_capture_on_commit_callbacks, task_queues
):
    case = laureate(amount="120000")
    signed(case)
    client.force_login(programme_admin())
    page = client.get(detail_url(case.agreement)).content.decode()
    assert "Actions du programme" in page and "Numéro d&#x27;engagement juridique" in page

    response = client.post(detail_url(case.agreement, "agreement-activate"), {"commitment_number": ""})
    assert response.status_code == 200 and "Indiquez le numéro d&#x27;engagement" in response.content.decode()
    # The recap first: nothing is activated until « Confirmer ».
    recap = client.post(detail_url(case.agreement, "agreement-activate"), {"commitment_number": "2100"})
    assert recap.status_code == 200
    assert "Confirmer l&#x27;activation de la convention" in recap.content.decode()
    assert format_money(Decimal("120000")) in recap.content.decode()
    assert Agreement.objects.get(pk=case.agreement.pk).status == Agreement.Status.SIGNED
    assert (
        client.post(
            detail_url(case.agreement, "agreement-activate"), {"commitment_number": "2100", "confirmer": "1"}
        ).status_code
        == 302
    )
    assert Agreement.objects.get(pk=case.agreement.pk).status == Agreement.Status.ACTIVE

    amend = detail_url(case.agreement, "agreement-amend")
    assert client.get(amend).status_code == 200
    response = client.post(
        amend,
        {
            "amount": "150 000",
            "yearly_1": "60 000",
            "yearly_2": "45 000",
            "yearly_3": "45 000",
            "reason": "Extension.",
        },
    )
    assert response.status_code == 200 and "dépasse le plafond annuel" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            amend,
            {
                "amount": "150 000",
                "yearly_1": "50 000",
                "yearly_2": "50 000",
                "yearly_3": "50 000",
                "reason": "Extension.",
            },
        )
    task_queues.drain()
    assert response.status_code == 302
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("150000")
    download = client.get(reverse("grants:agreement-amendment-download", args=[case.agreement.number, 1]))
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    close_response(download)

    terminate = detail_url(case.agreement, "agreement-terminate")
    assert client.get(terminate).status_code == 200
    response = client.post(terminate, {"reason": "Fermeture.", "clawback_amount": "1"})
    assert response.status_code == 200 and "dépasse ce qui a été versé" in response.content.decode()
    # Without the confirmation, the recap only; then the termination.
    response = client.post(terminate, {"reason": "Fermeture.", "clawback_amount": ""})
    assert response.status_code == 200 and "Confirmer la résiliation" in response.content.decode()
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("150000")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(terminate, {"reason": "Fermeture.", "clawback_amount": "", "confirmer": "1"})
    task_queues.drain()
    assert response.status_code == 302
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("0")
    page = client.get(detail_url(case.agreement)).content.decode()
    assert "Résiliée" in page and "Télécharger la décision de résiliation" in page


@pytest.mark.parametrize("who", ["representative", "admin"])
def test_the_agreement_page_is_query_light(client, django_assert_max_num_queries, who):
    case = laureate()
    for index in range(3):  # more partners and amendments must not cost more queries
        Member.objects.create(
            application=case.application,
            organisation=OrganisationFactory(),
            is_lead=False,
            role=f"Partenaire {index}",
            share_percent=Decimal("1"),
        )
        member_of(case.lead, applicant())
    admin = programme_admin()
    for amount in ("140000", "130000"):
        amendment_create(
            grant=case.grant,
            new_amount=Decimal(amount),
            yearly=[Decimal("50000"), Decimal("50000"), Decimal(amount) - Decimal("100000")],
            reason="Ajustement.",
            actor=admin,
        )
    client.force_login(case.representative if who == "representative" else admin)
    agreement_accept(agreement=case.agreement, actor=case.representative)
    agreement_activate(agreement=case.agreement, commitment_number="2100123456", actor=admin)
    # Twelve: the agreement's history (however many moves) is one query.
    with django_assert_max_num_queries(12):
        assert client.get(detail_url(case.agreement)).status_code == 200
    # Six: the list's count and its page are two queries (the page read from the date index).
    with django_assert_max_num_queries(6):
        assert client.get(reverse("grants:agreement-list")).status_code == 200


def test_the_agreement_list_paginates_instead_of_stopping_at_a_fixed_number(
    client, django_assert_max_num_queries, monkeypatch
):
    monkeypatch.setattr("grants.views.agreements.AGREEMENTS_PER_PAGE", 2)
    numbers = [laureate().agreement.number for _index in range(5)]  # newest last
    client.force_login(programme_admin())
    url = reverse("grants:agreement-list")
    shown: list[str] = []
    for page in (1, 2, 3):
        # The same queries on every page, whatever the number of rows: a count and the page.
        with django_assert_max_num_queries(6):
            response = client.get(url, {"page": page, "tri": "recent"})
        html = response.content.decode()
        on_page = sorted((number for number in numbers if number in html), key=html.index)
        assert len(on_page) == (2 if page < 3 else 1)
        shown += on_page
        assert response.context["page_obj"].paginator.count == 5
        # The other query parameters survive in the page links.
        assert "fr-pagination" in html and "tri=recent" in html
    assert sorted(shown) == sorted(numbers)  # every agreement on some page, none twice
    assert shown[0] == numbers[-1]  # newest first
    # A page past the end shows the last one; a page that is no number, the first.
    assert [n for n in numbers if n in client.get(url, {"page": 9}).content.decode()] == [numbers[0]]
    assert len([n for n in numbers if n in client.get(url, {"page": "x"}).content.decode()]) == 2
