"""Yearly reports: upload (PDF checked by content, years of the agreement), review, pages."""

import io
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grants.models import Report
from grants.services import reports as reports_service
from grants.services.reports import report_review, report_upload
from notifications.models import OutgoingEmail
from tests.factories import PDF_BYTES, PNG_BYTES, applicant, instructor, member_of, pdf_variant
from tests.grants.test_payments import Setup

pytestmark = pytest.mark.django_db


def upload(
    setup: Setup,
    *,
    year: int = 1,
    kind: str = "activity",
    content: bytes = PDF_BYTES,
    name: str = "rapport.pdf",
    actor=None,
) -> Report:  # type: ignore[no-untyped-def]
    return report_upload(
        grant=setup.grant,
        year_index=year,
        kind=kind,
        file=io.BytesIO(content),
        filename=name,
        actor=actor or setup.beneficiary,
    )


def stored_files(media: Path) -> list[Path]:
    return (
        [path for path in (media / "rapports").rglob("*") if path.is_file()]
        if (media / "rapports").exists()
        else []
    )


def test_a_report_is_stored_under_a_random_name_with_its_fingerprint(_media_root):
    setup = Setup()
    report = upload(setup, name="../../Rapport d'activité 2026.pdf")
    assert report.status == Report.Status.SUBMITTED
    assert report.original_name == "Rapport_dactivité_2026.pdf"
    assert len(report.sha256) == 64
    assert report.file.name.startswith("rapports/") and "Rapport" not in report.file.name
    assert len(stored_files(_media_root)) == 1


@pytest.mark.parametrize("year", [0, 4, 12])
def test_a_report_for_a_year_outside_the_agreement_is_refused(year, _media_root):
    setup = Setup()
    with pytest.raises(ValidationError) as error:
        upload(setup, year=year)
    assert "Un rapport pour une année hors de la convention" in error.value.message_dict["year_index"][0]
    assert not Report.objects.exists()
    assert stored_files(_media_root) == []


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (PNG_BYTES, "rapport.pdf", "n'est pas un PDF"),
        (PDF_BYTES, "rapport.docx", "n'est pas un PDF"),
        (b"MZ\x90\x00 un programme", "rapport.pdf", "n'est pas un PDF"),
        (b"", "rapport.pdf", "est vide"),
    ],
)
def test_only_a_pdf_by_its_content_is_accepted(content, name, message, _media_root):
    setup = Setup()
    with pytest.raises(ValidationError) as error:
        upload(setup, content=content, name=name)
    assert message in error.value.message_dict["file"][0]
    assert not Report.objects.exists()
    assert stored_files(_media_root) == []


def test_a_report_over_the_size_limit_is_refused(monkeypatch):
    monkeypatch.setattr(reports_service, "REPORT_MAX_SIZE_MB", 1)
    setup = Setup()
    with pytest.raises(ValidationError) as error:
        upload(setup, content=PDF_BYTES + b"0" * (1024 * 1024))
    assert "dépasse la taille maximale de 1 Mo" in error.value.message_dict["file"][0]
    assert reports_service.REPORT_MAX_SIZE_MB == 1
    assert not Report.objects.exists()


def test_the_default_size_limit_is_twenty_megabytes():
    assert reports_service.REPORT_MAX_SIZE_MB == 20


def test_a_submitted_report_is_replaced_an_accepted_one_is_not(
    django_capture_on_commit_callbacks, _media_root
):
    setup = Setup()
    first = upload(setup)
    with django_capture_on_commit_callbacks(execute=True):
        second = upload(setup, content=pdf_variant("v2"))
    assert list(Report.objects.values_list("pk", flat=True)) == [second.pk]
    assert second.sha256 != first.sha256
    assert len(stored_files(_media_root)) == 1

    report_review(report=second, accept=True, note="", actor=setup.reviewer)
    with pytest.raises(ValidationError) as error:
        upload(setup, content=pdf_variant("v3"))
    assert "déjà accepté" in error.value.messages[0]
    assert Report.objects.count() == 1


def test_a_rejected_report_needs_a_note_and_may_be_filed_again():
    setup = Setup()
    report = upload(setup, kind="financial")
    with pytest.raises(ValidationError) as error:
        report_review(report=report, accept=False, note="  ", actor=setup.reviewer)
    assert "note" in error.value.message_dict
    report.refresh_from_db()
    assert report.status == Report.Status.SUBMITTED

    report_review(
        report=report, accept=False, note="Les charges de personnel manquent.", actor=setup.reviewer
    )
    report.refresh_from_db()
    assert report.status == Report.Status.REJECTED and report.reviewed_by == setup.reviewer
    email = OutgoingEmail.objects.get(key=f"report:{report.pk}:review")
    assert setup.beneficiary.email in email.to
    assert "à reprendre" in email.subject and "Les charges de personnel manquent." in email.body

    again = upload(setup, kind="financial", content=pdf_variant("v2"))
    assert again.status == Report.Status.SUBMITTED
    assert Report.objects.filter(kind="financial").count() == 2

    with pytest.raises(ValidationError) as error:
        report_review(report=report, accept=True, note="", actor=setup.reviewer)
    assert "déjà été examiné" in error.value.messages[0]


def test_only_the_lead_structure_files_and_only_the_territory_reviews():
    setup = Setup()
    stranger = applicant()
    with pytest.raises(PermissionDenied):
        upload(setup, actor=stranger)
    # A member of the lead structure who did not create the dossier files too.
    colleague = applicant()
    member_of(setup.lead(), colleague)
    report = upload(setup, actor=colleague)

    for outsider in (setup.beneficiary, instructor()):
        with pytest.raises(PermissionDenied):
            report_review(report=report, accept=True, note="", actor=outsider)
    report_review(report=report, accept=True, note="", actor=setup.admin)
    report.refresh_from_db()
    assert report.status == Report.Status.ACCEPTED


# --- pages --------------------------------------------------------------------------------------


def test_the_beneficiary_files_a_report_from_the_page_and_the_instructor_accepts_it(client):
    setup = Setup()
    reference = setup.application.reference
    client.force_login(setup.beneficiary)
    url = reverse("grants:report-upload", args=[reference, 1, "activity"])

    refused = client.post(url, {"rapport-1-activity-file": SimpleUploadedFile("rapport.pdf", PNG_BYTES)})
    assert refused.status_code == 200
    assert "n&#x27;est pas un PDF" in refused.content.decode()
    assert not Report.objects.exists()

    wrong_year = client.post(
        reverse("grants:report-upload", args=[reference, 5, "activity"]),
        {"rapport-5-activity-file": SimpleUploadedFile("rapport.pdf", PDF_BYTES)},
        follow=True,
    )
    assert wrong_year.redirect_chain == [(reverse("grants:tranche-grant", args=[reference]), 302)]
    assert "hors de la convention" in wrong_year.content.decode()
    assert not Report.objects.exists()

    done = client.post(url, {"rapport-1-activity-file": SimpleUploadedFile("rapport.pdf", PDF_BYTES)})
    assert done.status_code == 302
    report = Report.objects.get()
    download = client.get(reverse("grants:report-download", args=[reference, report.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF_BYTES

    client.force_login(setup.reviewer)
    manage = client.get(reverse("grants:tranche-manage", args=[reference]))
    assert f'name="examen-{report.pk}-decision"' in manage.content.decode()
    review_url = reverse("grants:report-review", args=[reference, report.pk])
    refused = client.post(
        review_url, {f"examen-{report.pk}-decision": "reject", f"examen-{report.pk}-note": ""}
    )
    assert refused.status_code == 200
    assert "un rapport à reprendre est motivé" in refused.content.decode()
    accepted = client.post(review_url, {f"examen-{report.pk}-decision": "accept"})
    assert accepted.status_code == 302
    report.refresh_from_db()
    assert report.status == Report.Status.ACCEPTED

    client.force_login(setup.beneficiary)
    page = client.get(reverse("grants:tranche-grant", args=[reference])).content.decode()
    assert "Accepté" in page
    assert 'name="rapport-1-activity-file"' not in page
    assert 'name="rapport-1-financial-file"' in page


def test_another_applicant_can_neither_see_nor_file_nor_download(client):
    setup = Setup()
    report = upload(setup)
    reference = setup.application.reference
    client.force_login(applicant())
    assert client.get(reverse("grants:tranche-grant", args=[reference])).status_code == 404
    assert client.get(reverse("grants:report-download", args=[reference, report.pk])).status_code == 404
    response = client.post(
        reverse("grants:report-upload", args=[reference, 1, "financial"]),
        {"rapport-1-financial-file": SimpleUploadedFile("rapport.pdf", PDF_BYTES)},
    )
    assert response.status_code == 404
    assert Report.objects.count() == 1


def test_an_applicant_cannot_review_a_report(client):
    setup = Setup()
    report = upload(setup)
    client.force_login(setup.beneficiary)
    response = client.post(
        reverse("grants:report-review", args=[setup.application.reference, report.pk]),
        {f"examen-{report.pk}-decision": "accept"},
    )
    assert response.status_code == 403
    report.refresh_from_db()
    assert report.status == Report.Status.SUBMITTED
