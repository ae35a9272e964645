"""The supporting documents page, file downloads and removals, and the issued receipts."""

import html
import io
import re
from pathlib import Path

import pypdf
import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications.models import Access, Application, Attachment, RequiredDocument, StatusChange
from applications.services import application_submit, attachment_add
from notifications.models import Status
from tests.factories import PDF_BYTES, PNG_BYTES, CallFactory, applicant, complete_application

pytestmark = pytest.mark.django_db


# --- helpers -----------------------------------------------------------------------------------


def documents_url(application: Application) -> str:
    return reverse("applications:dossier-documents", args=[application.reference])


def download_url(attachment: Attachment) -> str:
    return reverse("applications:attachment-download", args=[attachment.application.reference, attachment.pk])


def remove_url(attachment: Attachment) -> str:
    return reverse("applications:attachment-remove", args=[attachment.application.reference, attachment.pk])


def issued_url(change: StatusChange) -> str:
    return reverse("applications:issued-document", args=[change.application.reference, change.pk])


def document(application: Application, code: str) -> RequiredDocument:
    return application.call.required_documents.get(code=code)


def upload(client, application: Application, doc: RequiredDocument, content: bytes, name: str, **kwargs):  # type: ignore[no-untyped-def]
    prefix = f"doc-{doc.pk}"
    return client.post(
        documents_url(application),
        {f"{prefix}-required_document": doc.pk, f"{prefix}-file": SimpleUploadedFile(name, content)},
        **kwargs,
    )


def stored_files(media: Path) -> list[Path]:
    return sorted(path for path in media.rglob("*") if path.is_file())


def file_error(page: str, doc: RequiredDocument) -> str:
    """The error text shown under the file input of one document's form."""
    match = re.search(rf'<div id="id_doc-{doc.pk}-file-erreurs">(.*?)</div>', page, re.S)
    assert match, f"no error under the file input of {doc.code}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content)


def owner_client(client, application: Application):  # type: ignore[no-untyped-def]
    client.force_login(application.created_by)
    return client


def submitted(django_capture_on_commit_callbacks, task_queues) -> tuple[Application, StatusChange]:  # type: ignore[no-untyped-def]
    """A submitted dossier, its receipt rendered and sent by the workers."""
    application = complete_application()
    with django_capture_on_commit_callbacks(execute=True):
        change = application_submit(application=application, actor=application.created_by)
    task_queues.drain()
    application.refresh_from_db()
    return application, change


# --- the page --------------------------------------------------------------------------------


def test_the_page_lists_the_documents_of_the_lead_family_with_their_rules_and_files(client):
    application = complete_application()
    response = owner_client(client, application).get(documents_url(application))
    assert response.status_code == 200
    page = response.content.decode()
    # An association gives its Contrat d'engagement républicain, not a council decision.
    assert "Contrat d&#x27;engagement républicain" in page
    assert "Délibération" not in page
    assert "Lettres de soutien" in page
    assert "obligatoire" in page
    assert "facultative" in page
    assert "Formats acceptés : PDF, JPG, PNG. Taille maximale : 10 Mo." in page
    rib = document(application, "rib")
    assert 'accept=".pdf,.jpg,.png"' in page
    assert 'class="fr-upload-group' in page
    assert 'enctype="multipart/form-data"' in page
    assert f'name="doc-{rib.pk}-required_document"' in page
    attachment = application.attachments.get(required_document=rib)
    assert "rib.pdf" in page
    assert download_url(attachment) in page
    assert attachment.sha256[:12] in page
    assert attachment.sha256 in page
    assert "octets" in page or "Ko" in page
    assert remove_url(attachment) in page
    assert "Supprimer" in page


def test_a_small_pdf_is_stored_and_shown(client, _media_root):
    application = complete_application()
    soutiens = document(application, "soutiens")
    response = upload(owner_client(client, application), application, soutiens, PDF_BYTES, "soutien.pdf")
    assert response.status_code == 302
    assert response.url == documents_url(application)
    attachment = Attachment.objects.get(application=application, required_document=soutiens)
    assert attachment.original_name == "soutien.pdf"
    assert attachment.content_type == "application/pdf"
    assert Path(attachment.file.path).read_bytes() == PDF_BYTES
    assert Path(attachment.file.path).is_relative_to(_media_root)
    page = client.get(documents_url(application)).content.decode()
    assert "soutien.pdf" in page
    assert "a été ajouté à la pièce « Lettres de soutien »" in page
    assert download_url(attachment) in page


@pytest.mark.parametrize(
    ("code", "content", "name", "message"),
    [
        (
            "soutiens",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200,
            "lettre.pdf",
            "n'est pas un document accepté pour cette pièce (formats acceptés : PDF)",
        ),
        ("soutiens", b"", "vide.pdf", "Le fichier « vide.pdf » est vide."),
        (
            "statuts",
            PNG_BYTES,
            "statuts.png",
            "n'est pas un document accepté pour cette pièce (formats acceptés : PDF)",
        ),
        ("statuts", PNG_BYTES, "statuts.pdf", "son contenu a été vérifié, pas seulement son nom"),
    ],
    ids=["exe-renamed-pdf", "empty", "png-for-pdf-only", "png-renamed-pdf"],
)
def test_a_refused_file_gets_its_error_next_to_its_own_input_and_nothing_is_saved(
    client, _media_root, code, content, name, message
):
    application = complete_application()
    doc = document(application, code)
    before = (Attachment.objects.count(), stored_files(_media_root))
    response = upload(owner_client(client, application), application, doc, content, name)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in file_error(page, doc)
    # The error summary of that form links to that form's file input, and only that form has an error.
    assert f'href="#id_doc-{doc.pk}-file"' in page
    assert page.count("fr-upload-group--error") == 1
    assert f'id="id_doc-{doc.pk}-file-groupe"' in page
    assert (Attachment.objects.count(), stored_files(_media_root)) == before


def test_a_file_over_the_size_limit_is_refused(client, _media_root):
    application = complete_application()
    soutiens = document(application, "soutiens")
    RequiredDocument.objects.filter(pk=soutiens.pk).update(max_size_mb=1)
    before = (Attachment.objects.count(), stored_files(_media_root))
    too_big = PDF_BYTES + b"%" * (1024 * 1024 + 1 - len(PDF_BYTES))
    assert len(too_big) == 1024 * 1024 + 1
    response = upload(owner_client(client, application), application, soutiens, too_big, "gros.pdf")
    assert response.status_code == 200
    assert "Le fichier « gros.pdf » dépasse la taille maximale de 1 Mo." in file_error(
        response.content.decode(), soutiens
    )
    assert (Attachment.objects.count(), stored_files(_media_root)) == before


def test_a_document_not_asked_of_this_dossier_is_refused(client, _media_root):
    application = complete_application()
    foreign = CallFactory().required_documents.get(code="soutiens")
    deliberation = document(application, "deliberation")  # for local authorities only
    owner_client(client, application)
    before = (Attachment.objects.count(), stored_files(_media_root))
    for doc in (foreign, deliberation):
        response = upload(client, application, doc, PDF_BYTES, "piece.pdf")
        assert response.status_code == 200
        assert (
            "Cette pièce n&#x27;est pas demandée par l&#x27;appel de ce dossier." in response.content.decode()
        )
    assert (Attachment.objects.count(), stored_files(_media_root)) == before


def test_a_file_name_with_html_is_sanitised_and_escaped(client):
    application = complete_application()
    soutiens = document(application, "soutiens")
    owner_client(client, application)
    upload(client, application, soutiens, PDF_BYTES, "<script>alert(1)<script>.pdf")
    attachment = Attachment.objects.get(required_document=soutiens)
    assert "<" not in attachment.original_name
    assert attachment.original_name.endswith(".pdf")
    page = client.get(documents_url(application)).content.decode()
    assert "<script>alert" not in page
    assert attachment.original_name in page


def test_the_documents_page_runs_a_bounded_number_of_queries(client):
    application = complete_application()
    soutiens = document(application, "soutiens")
    owner = application.created_by
    owner_client(client, application)

    def add(count: int) -> None:
        for index in range(count):
            attachment_add(
                application=application,
                required_document=soutiens,
                file=io.BytesIO(PDF_BYTES),
                filename=f"soutien-{index}.pdf",
                actor=owner,
            )

    add(1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(documents_url(application)).status_code == 200
    add(4)
    with CaptureQueriesContext(connection) as five:
        response = client.get(documents_url(application))
    assert response.content.decode().count("soutien-") >= 5
    assert len(five) == len(one)


# --- downloads -------------------------------------------------------------------------------


def test_downloading_returns_the_exact_bytes_as_an_attachment(client):
    application = complete_application()
    attachment = application.attachments.get(required_document__code="statuts")
    response = owner_client(client, application).get(download_url(attachment))
    assert response.status_code == 200
    assert body(response) == PDF_BYTES
    assert response["Content-Disposition"] == 'attachment; filename="statuts.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_files_are_never_served_by_the_media_url(client, settings):
    application = complete_application()
    attachment = application.attachments.first()
    owner_client(client, application)
    assert client.get(f"{settings.MEDIA_URL}{attachment.file.name}").status_code == 404


def test_two_applicants_never_reach_each_other_documents(client, _media_root):
    application = complete_application()
    other_application = complete_application()
    attachment = application.attachments.get(required_document__code="statuts")
    soutiens = document(application, "soutiens")
    stranger = other_application.created_by
    client.force_login(stranger)
    before = (Attachment.objects.count(), stored_files(_media_root))

    assert client.get(documents_url(application)).status_code == 404
    assert upload(client, application, soutiens, PDF_BYTES, "intrus.pdf").status_code == 404
    assert client.get(download_url(attachment)).status_code == 404
    assert client.post(remove_url(attachment)).status_code == 404
    # Nor through their own dossier's address.
    own_address = reverse(
        "applications:attachment-download", args=[other_application.reference, attachment.pk]
    )
    assert client.get(own_address).status_code == 404
    own_remove = reverse("applications:attachment-remove", args=[other_application.reference, attachment.pk])
    assert client.post(own_remove).status_code == 404
    assert (Attachment.objects.count(), stored_files(_media_root)) == before
    # Their own page lists their files only.
    own_page = client.get(documents_url(other_application)).content.decode()
    assert download_url(attachment) not in own_page


def test_an_invited_reader_sees_and_downloads_but_cannot_change(client, _media_root):
    application = complete_application()
    reader = applicant()
    Access.objects.create(
        application=application,
        email=reader.email,
        permission=Access.Permission.VIEW,
        token="jeton-de-lecture",
        invited_by=application.created_by,
        user=reader,
        accepted_at=timezone.now(),
    )
    attachment = application.attachments.get(required_document__code="statuts")
    client.force_login(reader)
    before = (Attachment.objects.count(), stored_files(_media_root))
    page = client.get(documents_url(application)).content.decode()
    assert download_url(attachment) in page
    assert "fr-upload" not in page
    assert remove_url(attachment) not in page
    assert body(client.get(download_url(attachment))) == PDF_BYTES
    assert (
        upload(client, application, document(application, "soutiens"), PDF_BYTES, "x.pdf").status_code == 404
    )
    assert client.post(remove_url(attachment)).status_code == 404
    assert (Attachment.objects.count(), stored_files(_media_root)) == before


def test_an_applicant_without_a_dossier_gets_a_404(client):
    application = complete_application()
    client.force_login(applicant())
    assert client.get(documents_url(application)).status_code == 404


# --- removal ---------------------------------------------------------------------------------


def test_removing_a_file_deletes_the_row_and_the_stored_file_after_commit(
    client, django_capture_on_commit_callbacks
):
    application = complete_application()
    attachment = application.attachments.get(required_document__code="statuts")
    path = Path(attachment.file.path)
    assert path.exists()
    owner_client(client, application)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(remove_url(attachment))
    assert response.status_code == 302
    assert response.url == documents_url(application)
    assert not Attachment.objects.filter(pk=attachment.pk).exists()
    assert not path.exists()
    page = client.get(documents_url(application)).content.decode()
    assert "a été retiré de la pièce « Statuts »" in page
    assert "Pièce manquante : Statuts." in page


def test_removing_needs_a_post(client):
    application = complete_application()
    attachment = application.attachments.first()
    response = owner_client(client, application).get(remove_url(attachment))
    assert response.status_code == 405
    assert Attachment.objects.filter(pk=attachment.pk).exists()


# --- after submission ------------------------------------------------------------------------


def test_a_submitted_dossier_refuses_uploads_and_removals(
    client, django_capture_on_commit_callbacks, task_queues, _media_root
):
    application, _change = submitted(django_capture_on_commit_callbacks, task_queues)
    attachment = application.attachments.get(required_document__code="statuts")
    soutiens = document(application, "soutiens")
    owner_client(client, application)
    before = (Attachment.objects.count(), stored_files(_media_root))

    page = client.get(documents_url(application)).content.decode()
    assert "fr-upload" not in page
    assert remove_url(attachment) not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, application, soutiens, PDF_BYTES, "tardive.pdf", follow=True)
    assert response.status_code == 200
    assert "ne peut plus être modifié" in response.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(remove_url(attachment), follow=True)
    assert response.status_code == 200
    assert "ne peut plus être modifié" in response.content.decode()

    assert Attachment.objects.filter(pk=attachment.pk).exists()
    assert (Attachment.objects.count(), stored_files(_media_root)) == before


# --- issued documents ------------------------------------------------------------------------


def test_the_receipt_is_downloadable_by_its_owner_only(
    client, django_capture_on_commit_callbacks, task_queues
):
    application, change = submitted(django_capture_on_commit_callbacks, task_queues)
    owner_client(client, application)
    response = client.get(issued_url(change))
    assert response.status_code == 200
    content = body(response)
    assert content.startswith(b"%PDF")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="accuse-reception-{application.reference}-1.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)
    assert application.reference in text

    other_application, _other_change = submitted(django_capture_on_commit_callbacks, task_queues)
    client.force_login(other_application.created_by)
    assert client.get(issued_url(change)).status_code == 404
    # Nor through their own dossier's address.
    assert (
        client.get(
            reverse("applications:issued-document", args=[other_application.reference, change.pk])
        ).status_code
        == 404
    )


def test_a_status_change_without_a_document_is_a_404(client, django_capture_on_commit_callbacks, task_queues):
    application, change = submitted(django_capture_on_commit_callbacks, task_queues)
    bare = StatusChange.objects.create(
        application=application, from_status="submitted", to_status="submitted", actor=application.created_by
    )
    owner_client(client, application)
    assert client.get(issued_url(bare)).status_code == 404


def test_a_receipt_still_being_produced_gives_a_french_message(client):
    application = complete_application()
    # Commit callbacks are not run: the receipt stays pending, as before a worker renders it.
    change = application_submit(application=application, actor=application.created_by)
    assert change.document.status == Status.PENDING
    response = owner_client(client, application).get(issued_url(change))
    assert response.status_code == 302
    assert response.url == reverse("applications:dossier-detail", args=[application.reference])
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "Le document est en cours de production, réessayez dans quelques instants."
    ]
