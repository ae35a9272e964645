"""Exports in Chromium: an instructor downloads the list as CSV, asks for a long XLSX built in the
background and watches it become ready (htmx polling), and downloads a dossier's files as a ZIP.
Every page is audited with axe-core (tests/browser/conftest.py)."""

import csv
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, in_review_application

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_instructor_exports_the_list_and_a_dossiers_files(new_page, journey, settings):  # type: ignore[no-untyped-def]
    from applications.models import DossierExport
    from applications.services.exports import dossier_export_build

    application, reviewer = in_review_application()
    page = new_page()
    log_in(page, reviewer.email, PASSWORD, journey)
    page.goto("/instruction/?tab=en-instruction")
    journey.step(page, "liste avec exports")

    with page.expect_download() as caught:
        page.get_by_role("link", name="Exporter en CSV").click()
    text = Path(caught.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [row["Référence"] for row in rows] == [application.reference]

    # A list longer than the setting: built in the background once confirmed.
    settings.DOSSIER_EXPORT_MAX_ROWS_AT_ONCE = 0
    with page.expect_navigation():
        page.get_by_role("link", name="Exporter en XLSX").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Exporter la liste des dossiers")
    journey.step(page, "export confirmation")
    with page.expect_navigation():
        page.get_by_role("button", name="Préparer l'export").click()
    expect(page.get_by_text("En attente de démarrage…")).to_be_visible()
    expect(page.get_by_role("link", name="Actualiser")).to_be_visible()
    journey.step(page, "export en attente")

    # The worker builds it; the page's polling shows the download without a reload.
    dossier_export_build(job_id=DossierExport.objects.get().pk)
    download_link = page.get_by_role("link", name="Télécharger le fichier")
    expect(download_link).to_be_visible(timeout=10_000)
    journey.step(page, "export pret")
    with page.expect_download() as caught:
        download_link.click()
    sheet = load_workbook(io.BytesIO(Path(caught.value.path()).read_bytes()))["Dossiers"]
    assert sheet.cell(row=2, column=1).value == application.reference

    page.goto(f"/instruction/dossiers/{application.reference}/")
    journey.step(page, "dossier avec archive")
    with page.expect_download() as caught:
        page.get_by_role("link", name="Télécharger le dossier (ZIP)").click()
    archive = zipfile.ZipFile(caught.value.path())
    assert archive.testzip() is None and len(archive.namelist()) >= 1

    # Once their scoring is handed in, the instructor prepares the committee's PDF.
    from applications.models import Assignment, Criterion
    from applications.services.review import scores_save

    scores_save(
        assignment=Assignment.objects.get(application=application, instructor=reviewer),
        values={
            criterion.pk: (criterion.scale_max, "Solide")
            for criterion in Criterion.objects.filter(call=application.call)
        },
        submit=True,
        actor=reviewer,
    )
    page.reload()
    with page.expect_navigation():
        page.get_by_role("button", name="Préparer le dossier pour le comité (PDF)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dossier pour le comité")
    expect(page.get_by_role("link", name="Actualiser")).to_be_visible()
    journey.step(page, "dossier pour le comite")
    journey.assert_accessible()
