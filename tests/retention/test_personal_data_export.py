"""« Mon compte » : a person downloads what the portal holds about them, and nothing of anyone else."""

import io
import json
import zipfile

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from applications.models import Application, Attachment
from applications.services.messaging import FileUpload
from applications.services.review import message_post
from tests.factories import PDF_BYTES, complete_application, pdf_variant

pytestmark = pytest.mark.django_db


def test_the_export_zip_holds_the_persons_data_and_files_and_nobody_elses(client: Client):
    mine = complete_application()
    theirs = complete_application()
    Application.objects.filter(pk=theirs.pk).update(title="Le tiers-lieu de Lozère")
    me, other = mine.created_by, theirs.created_by
    message_post(
        application=mine,
        body="Notre budget est joint.",
        files=[FileUpload(file=io.BytesIO(pdf_variant("mine")), name="budget-gers.pdf")],
        actor=me,
    )
    message_post(
        application=theirs,
        body="Message de l'autre porteur.",
        files=[FileUpload(file=io.BytesIO(PDF_BYTES), name="budget-lozere.pdf")],
        actor=other,
    )
    client.force_login(me)

    response = client.post(reverse("retention:personal-data-download"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    data = json.loads(archive.read("donnees.json"))
    assert data["compte"]["adresse_email"] == me.email
    assert [dossier["reference"] for dossier in data["dossiers"]] == [mine.reference]
    assert [message["texte"] for message in data["messages_ecrits"]] == ["Notre budget est joint."]
    text = archive.read("donnees.json").decode()
    for foreign in (other.email, theirs.reference, "Lozère", "Message de l'autre porteur"):
        assert foreign not in text
    files = [name for name in archive.namelist() if name.startswith("fichiers/")]
    my_attachments = Attachment.objects.filter(uploaded_by=me)
    assert len(files) == my_attachments.count() + 1
    assert all(
        name.startswith(f"fichiers/{mine.reference}/") or name.startswith("fichiers/messages/")
        for name in files
    )
    assert any(name.endswith("budget-gers.pdf") for name in files)
    assert not any("lozere" in name for name in files)
    attachment = my_attachments.first()
    assert attachment is not None
    with attachment.file.open("rb") as handle:
        assert (
            archive.read(f"fichiers/{mine.reference}/{attachment.pk}-{attachment.original_name}")
            == handle.read()
        )
    assert (
        AuditEvent.objects.filter(action="personal_data.export", actor=me, target_id=str(me.pk)).count() == 1
    )


def test_the_export_needs_a_login_and_a_post(client: Client):
    url = reverse("retention:personal-data-download")
    response = client.post(url)
    assert response.status_code == 302
    assert "/compte/connexion/" in response["Location"]
    assert not AuditEvent.objects.filter(action="personal_data.export").exists()
    client.force_login(complete_application().created_by)
    assert client.get(url).status_code == 405


def test_the_security_page_offers_the_download(client: Client):
    client.force_login(complete_application().created_by)
    content = client.get(reverse("accounts:security")).content.decode()
    assert reverse("retention:personal-data-download") in content
    assert "Télécharger mes données" in content
