"""Every kind of PDF the portal issues, read back: French forms and the issuer taken from the call.

Amounts « 150 000 € » (no-break spaces between thousands and before the sign), percentages
« 60 % », never « 0€ » nor « 50000.00 »; the issuing body, the signatory, the place of signature
and the agreement's party block come from the call's settings, whatever they are: the call here
is a préfecture's in Toulouse, so a template that still says « Paris » or « ANCT » fails.
"""

import io
import re
from decimal import Decimal

import pypdf
import pytest
from django.utils import timezone

from applications.models import Application, Member
from applications.services import application_submit
from applications.services.submission import ReceiptContext
from fabriques.models import OrganisationMembership
from grants.models import Agreement, Tranche
from grants.services import application_award, application_refuse
from grants.services.agreements import (
    agreement_accept,
    agreement_activate,
    agreement_terminate,
    amendment_create,
    termination_document,
)
from grants.services.document_contexts import (
    AgreementContext,
    AmendmentContext,
    AwardLetterContext,
    PaymentRequestContext,
    RefusalLetterContext,
    TerminationContext,
)
from grants.services.payments import tranche_request
from grants.writers import pdf_summary
from notifications.models import Document, Status
from tests.factories import (
    CallFactory,
    OrganisationFactory,
    complete_application,
    grid,
    make_siret,
    occitanie_instructor,
    programme_admin,
)

pytestmark = pytest.mark.django_db

GRANTOR = "Préfecture de la région Occitanie"
GRANTOR_SIRET = make_siret(3131)
SIGNATORY_NAME = "Camille Durand"
SIGNATORY_TITLE = "Pour le préfet de région et par délégation, la secrétaire générale"
REPRESENTATIVE = "le préfet de la région Occitanie"
PLACE = "Toulouse"
IBAN = "FR76 3000 6000 0112 3456 7890 189"
NBSP = "\u00a0"


def raw_text(document: Document) -> str:
    document.refresh_from_db()
    assert document.status == Status.DONE, document.last_error
    with document.file.open("rb") as handle:
        pdf = handle.read()
    assert pdf.startswith(b"%PDF-")
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return "\n".join(page.extract_text() for page in pages).replace("\u2019", "'")


def flat(text: str) -> str:
    """Layout spaces (line breaks, repeated spaces) folded; no-break spaces kept as they are."""
    return re.sub(r"[ \n\t]+", " ", text)


def assert_french_forms(text: str, kind: str) -> None:
    """What no document may print, whatever its kind."""
    assert not re.search(r"\d ?€", text.replace(f"{NBSP}€", "")), (
        f"{kind}: an amount without a no-break space"
    )
    assert not re.search(r"\d€", text), f"{kind}: « 0€ »"
    assert not re.search(r"\d\.\d\d\b", text), f"{kind}: an English decimal (« .00 »)"
    assert not re.search(r"\d{5,} ?€", text), f"{kind}: thousands not separated"
    assert not re.search(r"\d %", text), f"{kind}: a percentage without a no-break space"
    assert " ," not in text, f"{kind}: a space before a comma"
    assert "Paris" not in text and "ANCT" not in text and "Agence nationale" not in text, kind


def assert_issuer(text: str, kind: str, *, signatory: bool = True, place: bool = True) -> None:
    assert GRANTOR in text, kind
    if signatory:
        assert SIGNATORY_NAME in text and SIGNATORY_TITLE in text, kind
    if place:
        assert f"{PLACE}, le " in text, kind


def test_every_document_prints_french_forms_and_the_calls_issuer(
    django_capture_on_commit_callbacks, task_queues
):
    call = CallFactory(
        grantor_name=GRANTOR,
        grantor_siret=GRANTOR_SIRET,
        grantor_representative=REPRESENTATIVE,
        signatory_name=SIGNATORY_NAME,
        signatory_title=SIGNATORY_TITLE,
        signature_place=PLACE,
    )
    documents: dict[str, Document] = {}
    with django_capture_on_commit_callbacks(execute=True):
        application = complete_application(call=call)
        OrganisationMembership.objects.filter(user=application.created_by).update(job_title="Présidente")
        Member.objects.filter(application=application, is_lead=True).update(share_percent=Decimal("60.00"))
        Member.objects.create(
            application=application,
            organisation=OrganisationFactory(name="Coopérative Kanopé"),
            is_lead=False,
            role="Coopérative d'activité et d'emploi",
            share_percent=Decimal("40.00"),
        )
        change = application_submit(application=application, actor=application.created_by)
        documents["receipt"] = Document.objects.get(pk=change.document_id)

        grid(call)
        reviewer = occitanie_instructor()
        from applications.services.review import assignment_create, eligibility_record

        assignment_create(application=application, instructor=reviewer, actor=reviewer)
        eligibility_record(
            application=application,
            answers={check.pk: (True, "") for check in call.eligibility_checks.all()},
            actor=reviewer,
        )
        grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
        documents["decision_award"] = Document.objects.get(
            pk=application.status_changes.get(to_status=Application.Status.AWARDED).document_id
        )
        agreement = Agreement.objects.get(grant=grant)
        documents["agreement"] = agreement.document
        admin = programme_admin()
        agreement_accept(agreement=agreement, actor=application.created_by)
        agreement_activate(agreement=agreement, commitment_number="2100123456", actor=admin)
        first = tranche_request(
            tranche=Tranche.objects.get(grant=grant, year_index=1), iban=IBAN, actor=application.created_by
        )
        documents["payment_request"] = first.payment_request
        amendment = amendment_create(
            grant=grant,
            new_amount=Decimal("120000"),
            yearly=[Decimal("50000"), Decimal("40000"), Decimal("30000")],
            reason="Projet resserré.",
            actor=admin,
        )
        documents["amendment"] = amendment.document
        agreement_terminate(
            agreement=agreement, reason="Activité arrêtée.", clawback_amount=Decimal("0"), actor=admin
        )
        documents["termination"] = termination_document(agreement)

        refused = complete_application(call=call)
        application_submit(application=refused, actor=refused.created_by)
        assignment_create(application=refused, instructor=reviewer, actor=reviewer)
        application_refuse(application=refused, reasons="Projet hors du périmètre.", actor=reviewer)
        documents["decision_refusal"] = Document.objects.get(
            pk=refused.status_changes.get(to_status=Application.Status.REFUSED).document_id
        )
    task_queues.drain()

    texts = {kind: flat(raw_text(document)) for kind, document in documents.items()}
    assert set(texts) == {
        "receipt",
        "decision_award",
        "decision_refusal",
        "agreement",
        "amendment",
        "termination",
        "payment_request",
    }
    for kind, text in texts.items():
        assert_french_forms(text, kind)

    # Each frozen context has exactly the keys of its TypedDict (what mypy checks in the services),
    # and only the payment request carries the IBAN.
    shapes = {
        "receipt": ReceiptContext,
        "decision_award": AwardLetterContext,
        "decision_refusal": RefusalLetterContext,
        "agreement": AgreementContext,
        "amendment": AmendmentContext,
        "termination": TerminationContext,
        "payment_request": PaymentRequestContext,
    }
    for kind, shape in shapes.items():
        assert set(documents[kind].context) == shape.__required_keys__, kind
        assert ("iban" in documents[kind].context) == (kind == "payment_request"), kind
        assert IBAN.replace(" ", "") not in str(documents[kind].context).replace(" ", "") or (
            kind == "payment_request"
        ), kind

    receipt = texts["receipt"]
    assert_issuer(receipt, "receipt")
    assert f"60{NBSP}%" in receipt and f"40{NBSP}%" in receipt
    assert f"50{NBSP}000{NBSP}€" in receipt

    for kind in ("decision_award", "decision_refusal", "termination"):
        assert_issuer(texts[kind], kind)
    award = texts["decision_award"]
    assert f"150{NBSP}000{NBSP}€" in award

    agreement_text = texts["agreement"]
    assert_issuer(agreement_text, "agreement")
    assert f"{GRANTOR}, SIRET" in agreement_text
    assert f"représentée par {REPRESENTATIVE}, {SIGNATORY_NAME}, ci-après désignée « l'administration »" in (
        agreement_text
    )
    assert "représenté par Pour" not in agreement_text and "représenté par pour" not in agreement_text
    assert f"150{NBSP}000{NBSP}€" in agreement_text
    assert f"40{NBSP}%" in agreement_text  # the partner's share
    assert f"Fait à {PLACE}, le " in agreement_text

    amendment_text = texts["amendment"]
    assert_issuer(amendment_text, "amendment")
    assert f"représentée par {REPRESENTATIVE}, {SIGNATORY_NAME}" in amendment_text
    assert f"120{NBSP}000{NBSP}€" in amendment_text

    # The budget summary of the call (an export, rendered on demand) follows the same forms.
    summary_pdf = pdf_summary(call)
    summary = flat("\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(summary_pdf)).pages))
    assert_french_forms(summary, "budget_summary")
    assert GRANTOR in summary

    payment = texts["payment_request"]
    assert_issuer(payment, "payment_request", signatory=False, place=False)
    assert f"50{NBSP}000{NBSP}€" in payment
    assert f"{timezone.localdate().year}" in payment


def test_the_letter_and_the_agreement_word_the_first_tranche_as_the_portal_releases_it(
    django_capture_on_commit_callbacks,
    task_queues,
):
    """A request after signature and activation, in the same words in both documents."""
    call = CallFactory(grantor_name=GRANTOR, signatory_name=SIGNATORY_NAME, signatory_title=SIGNATORY_TITLE)
    with django_capture_on_commit_callbacks(execute=True):
        application = complete_application(call=call)
        application_submit(application=application, actor=application.created_by)
        grid(call)
        reviewer = occitanie_instructor()
        from applications.services.review import assignment_create, eligibility_record

        assignment_create(application=application, instructor=reviewer, actor=reviewer)
        eligibility_record(
            application=application,
            answers={check.pk: (True, "") for check in call.eligibility_checks.all()},
            actor=reviewer,
        )
        grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    task_queues.drain()
    letter = " ".join(
        raw_text(
            Document.objects.get(
                pk=application.status_changes.get(to_status=Application.Status.AWARDED).document_id
            )
        ).split()
    )
    agreement = " ".join(raw_text(Agreement.objects.get(grant=grant).document).split())
    first = "Sur demande du bénéficiaire, une fois la convention signée et activée"
    terms = "La première tranche peut être demandée dès que la convention est signée par les deux parties"
    later = "Sur demande du bénéficiaire, après acceptation du rapport d'activité et du compte rendu financier de l'année 1"
    for text in (letter, agreement):
        assert first in text
        assert terms in text
        assert later in text
        assert "versée à la signature" not in text
        assert "À la signature de la convention" not in text
