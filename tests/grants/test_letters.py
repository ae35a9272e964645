"""The decision letters, end to end with tasks run in process: decision → row → PDF → e-mail.

What a letter must say is the law's (see DOMAIN.md, « Legal outputs »): the amount and its
schedule, the grant agreement that follows, the reasons of a refusal, and the routes and time
limits of appeal, without which the time limit does not run. Each PDF is read back with pypdf.
"""

import io
from decimal import Decimal

import pypdf
import pytest
from django.core import mail

from applications.models import Application
from grants.services import application_award, application_close, application_refuse
from notifications.models import Document, OutgoingEmail, Status
from tests.factories import CallFactory, in_review_application

pytestmark = pytest.mark.django_db

SIGNATORY_NAME = "Claire Dupont-Lefèvre"
SIGNATORY_TITLE = "La directrice générale déléguée aux programmes"
APPEAL = ("recours gracieux", "tribunal administratif", "deux mois", "Télérecours", "www.telerecours.fr")


def dossier_in_review(**call_fields: object) -> tuple[Application, object]:
    call = CallFactory(signatory_name=SIGNATORY_NAME, signatory_title=SIGNATORY_TITLE, **call_fields)
    return in_review_application(call=call)


def flat(text: str) -> str:
    """One line, single spaces: no-break spaces and the line breaks of the PDF are only layout."""
    return " ".join(text.split())


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    return flat("\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages))


def letter_of(application: Application, kind: str) -> Document:
    """The letter of the dossier's decision, rendered."""
    change = application.status_changes.filter(document__kind=kind).get()
    letter = Document.objects.get(pk=change.document_id)
    assert letter.status == Status.DONE, letter.last_error
    assert letter.key == f"application:{application.pk}:{kind}:{change.pk}"
    return letter


def stored(document: Document) -> bytes:
    with document.file.open("rb") as handle:
        return handle.read()


def decision_emails(application: Application) -> list[mail.EmailMessage]:
    return [message for message in mail.outbox if application.reference in message.subject]


def assert_sent_once_with(application: Application, letter: Document, suffix: str) -> None:
    """Exactly one e-mail for the decision (one row, one message), carrying the letter's PDF."""
    rows = OutgoingEmail.objects.filter(key=letter.key.replace(f":{suffix}:", f":{suffix}-email:"))
    assert [row.status for row in rows] == [Status.DONE]
    assert list(rows[0].attachments.all()) == [letter]
    messages = decision_emails(application)
    assert len(messages) == 1
    message = messages[0]
    assert "Décision sur votre dossier" in message.subject
    assert application.created_by.email in message.to
    assert len(message.attachments) == 1
    filename, content, mimetype = message.attachments[0]
    assert (filename, mimetype) == (letter.filename, "application/pdf")
    assert content == stored(letter)


def test_an_award_letter_gives_the_amount_the_schedule_the_agreement_and_the_appeal_routes(
    django_capture_on_commit_callbacks,
    task_queues,
):
    application, reviewer = dossier_in_review()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    task_queues.drain()

    letter = letter_of(application, "award-letter")
    text = pdf_text(stored(letter))
    lead = application.members.select_related("organisation").get(is_lead=True).organisation
    for expected in (
        "Agence nationale de la cohésion des territoires",
        application.call.title,
        application.reference,
        application.title,
        lead.name,
        f"SIRET : {flat(lead.siret_display)}",
        "Objet :",
        "150 000 € sur une durée de 3 ans",
        # The first tranche is requested once the agreement is signed and activated (the portal's rule).
        "Année 1 50 000 € Sur demande du bénéficiaire, une fois la convention signée et activée",
        "Année 2 50 000 € Sur demande du bénéficiaire, après acceptation du rapport d’activité et du compte "
        "rendu financier de l’année 1",
        "Année 3 50 000 € Sur demande du bénéficiaire, après acceptation du rapport d’activité et du compte "
        "rendu financier de l’année 2",
        "Total 150 000 €",
        "23 000 €",
        "loi n° 2000-321 du 12 avril 2000",
        "décret n° 2001-495",
        "convention",
        f"{SIGNATORY_TITLE} {SIGNATORY_NAME}",
        *APPEAL,
    ):
        assert expected in text, expected
    assert "bonus" not in text
    assert text.index(SIGNATORY_NAME) < text.index("Voies et délais de recours")
    assert_sent_once_with(application, letter, "award-letter")


def test_an_fnt_award_letter_shows_the_bonus(django_capture_on_commit_callbacks, task_queues):
    application, reviewer = dossier_in_review(fnt_bonus=Decimal("100000"))
    Application.objects.filter(pk=application.pk).update(kind=Application.Kind.FNT)
    application.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    task_queues.drain()

    text = pdf_text(stored(letter_of(application, "award-letter")))
    assert "un bonus de 100 000 €" in text
    assert "Total 150 000 €" in text


def test_a_refusal_letter_prints_each_reason_on_its_own_and_the_appeal_routes(
    django_capture_on_commit_callbacks,
    task_queues,
):
    application, reviewer = dossier_in_review()
    reasons = (
        "Le modèle économique repose sur une seule subvention.\n"
        "\n"
        "La gouvernance ne réunit pas les usagers du lieu.\n"
        "Le territoire est déjà couvert par une fabrique labellisée."
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        application_refuse(application=application, reasons=reasons, actor=reviewer)
    task_queues.drain()

    letter = letter_of(application, "refusal-letter")
    text = pdf_text(stored(letter))
    lines = [line for line in reasons.splitlines() if line]
    for line in lines:
        assert line in text, line
    assert text.index(lines[0]) < text.index(lines[1]) < text.index(lines[2])
    for expected in (
        application.reference,
        "n’a pas été retenu",
        "Motifs de la décision",
        "nouvelle candidature lors d’une prochaine vague",
        f"{SIGNATORY_TITLE} {SIGNATORY_NAME}",
        *APPEAL,
    ):
        assert expected in text, expected
    assert "150 000 €" not in text
    assert_sent_once_with(application, letter, "refusal-letter")


def test_a_closing_is_notified_by_a_letter_with_its_reason_and_the_appeal_routes(
    django_capture_on_commit_callbacks, task_queues
):
    application, reviewer = dossier_in_review()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        application_close(application=application, reason="Le porteur a renoncé au projet.", actor=reviewer)
    task_queues.drain()

    letter = letter_of(application, "closing-letter")
    assert letter.template_name == "pdf/decision_closed.html"
    assert letter.context["corrections_due_on"] == ""  # closed from review, no corrections pending
    text = pdf_text(stored(letter))
    for expected in (
        application.reference,
        "classement sans suite de votre demande de subvention",
        "est classé sans suite",
        "sans décision sur le fond",
        "Motif du classement",
        "Le porteur a renoncé au projet.",
        f"{SIGNATORY_TITLE} {SIGNATORY_NAME}",
        *APPEAL,
    ):
        assert expected in text, expected
    assert "Des compléments vous ont été demandés" not in text
    title = pypdf.PdfReader(io.BytesIO(stored(letter))).metadata.title
    assert title == f"Classement sans suite – dossier {application.reference}"
    assert_sent_once_with(application, letter, "closing-letter")


def test_markup_in_the_reasons_is_printed_as_text_not_interpreted(
    django_capture_on_commit_callbacks, task_queues
):
    application, reviewer = dossier_in_review()
    reasons = (
        "Le budget <b>n'est pas</b> équilibré & les cofinancements manquent.\n"
        '<img src="https://exemple.fr/pixel.png"><script>alert("x")</script>'
    )

    with django_capture_on_commit_callbacks(execute=True):
        application_refuse(application=application, reasons=reasons, actor=reviewer)
    task_queues.drain()

    letter = letter_of(application, "refusal-letter")
    text = pdf_text(stored(letter))
    assert "Le budget <b>n'est pas</b> équilibré & les cofinancements manquent." in text
    assert '<img src="https://exemple.fr/pixel.png"><script>alert("x")</script>' in text
    assert "&lt;" not in text and "&amp;" not in text and "&#x27;" not in text
    assert len(decision_emails(application)) == 1


def test_each_decision_sends_exactly_one_email(django_capture_on_commit_callbacks, task_queues):
    awarded, reviewer = dossier_in_review()
    refused, other_reviewer = dossier_in_review()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        application_award(application=awarded, amount=Decimal("120000"), actor=reviewer)
    task_queues.drain()
    with django_capture_on_commit_callbacks(execute=True):
        application_refuse(
            application=refused, reasons="Projet hors du champ de l'appel.", actor=other_reviewer
        )
    task_queues.drain()

    assert len(mail.outbox) == 2
    assert [len(decision_emails(awarded)), len(decision_emails(refused))] == [1, 1]
    assert OutgoingEmail.objects.filter(status=Status.DONE, key__contains="-letter-email:").count() == 2
    assert Document.objects.filter(status=Status.DONE, kind__endswith="-letter").count() == 2
    award_text = pdf_text(stored(letter_of(awarded, "award-letter")))
    assert "120 000 € sur une durée de 3 ans" in award_text
    assert "Année 3 40 000 €" in award_text
