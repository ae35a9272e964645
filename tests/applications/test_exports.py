"""The instructors' exports of their list (CSV, XLSX, at once or in the background) and a
dossier's files as one ZIP. Files are read back with the csv module, openpyxl and zipfile."""

import csv
import hashlib
import io
import itertools
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from kombu.exceptions import OperationalError as BrokerError
from openpyxl import load_workbook

from accounts.models import AuditEvent
from applications.exports import DossierTable
from applications.models import (
    Application,
    Assignment,
    Attachment,
    BudgetYear,
    Criterion,
    DossierExport,
    Member,
    StatusChange,
)
from applications.services.exports import TRANSITIONS, dossier_exports_sweep, transition
from applications.services.labels import application_labels_set, label_create
from applications.services.review import scores_save
from applications.tasks import dossier_export_build_task
from core.archives import safe_name, unique_names, zip_stream
from core.spreadsheets import CSV_FLUSH_BYTES
from fabriques.models import TiersLieu, Zone
from tests.factories import (
    OrganisationFactory,
    close_response,
    in_review_application,
    occitanie_instructor,
    pdf_variant,
    programme_admin,
    submitted_application,
)

pytestmark = pytest.mark.django_db

S = DossierExport.Status
CSV_URL = reverse("applications:workspace-export", kwargs={"file_format": "csv"})
XLSX_URL = reverse("applications:workspace-export", kwargs={"file_format": "xlsx"})


def body(response) -> bytes:  # type: ignore[no-untyped-def]
    data = b"".join(response.streaming_content) if response.streaming else response.content
    close_response(response)
    return data


def csv_rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:]), delimiter=";"))


def scored_dossier():  # type: ignore[no-untyped-def]
    """A dossier in review with a partner, three budget years, a rural place, scores and a label."""
    application, reviewer = in_review_application()
    partner = OrganisationFactory(name="=Partenaire malin")
    Member.objects.create(application=application, organisation=partner, role="Atelier", share_percent=0)
    for year, amount in ((1, "50000.00"), (2, "40000.00"), (3, "30000.50")):
        BudgetYear.objects.update_or_create(
            application=application,
            year_index=year,
            defaults={"requested": Decimal(amount), "total_cost": Decimal("200000"), "other_funding": 0},
        )
    TiersLieu.objects.filter(applications=application).update(zone=Zone.RURAL)
    criteria = {criterion.label: criterion for criterion in Criterion.objects.filter(call=application.call)}
    assignment = Assignment.objects.get(application=application, instructor=reviewer)
    scores_save(
        assignment=assignment,
        values={
            criteria["Gouvernance"].pk: (4, "Solide"),
            criteria["Modèle économique"].pk: (7, "Correct"),
        },
        submit=True,
        actor=reviewer,
    )
    admin = programme_admin()
    label = label_create(call=application.call, name="Prioritaire", colour="green-menthe", actor=admin)
    application_labels_set(application=application, labels=[label], actor=reviewer)
    application.refresh_from_db()
    return application, reviewer


def test_the_csv_holds_one_row_per_dossier_of_the_list_with_every_column(client):
    application, reviewer = scored_dossier()
    client.force_login(reviewer)
    response = client.get(CSV_URL, {"tab": "en-instruction"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    rows = csv_rows(response)
    assert len(rows) == 1
    row = rows[0]
    lead = Member.objects.get(application=application, is_lead=True).organisation
    assert row["Référence"] == application.reference
    assert row["Intitulé du projet"] == application.title
    assert row["Type de fabrique"] == "Fabrique de territoire"
    assert row["Appel"] == application.call.title
    assert (row["Structure chef de file"], row["SIRET du chef de file"]) == (lead.name, lead.siret)
    # A partner's name that a spreadsheet would run as a formula is neutralised.
    partner = Member.objects.get(application=application, is_lead=False).organisation
    assert row["Partenaires (SIRET)"] == f"'=Partenaire malin ({partner.siret})"
    assert (row["Région"], row["Code département"], row["Département"]) == ("Occitanie", "32", "Gers")
    assert row["Zones"] == "Zone rurale"
    # Amounts as the budget exports write them: plain decimals, a point, no unit.
    assert [row[f"Montant demandé année {year}"] for year in (1, 2, 3)] == [
        "50000.00",
        "40000.00",
        "30000.50",
    ]
    assert row["Gouvernance (sur 5)"] == "4.0"
    assert row["Modèle économique (sur 10)"] == "7.0"
    assert row["Note sur 100"] == str(application.score)
    assert row["Instructeurs"] == reviewer.get_full_name()
    assert row["Étiquettes"] == "Prioritaire"
    assert row["État"] == "En instruction"
    assert row["Déposé le"] == application.submitted_at.date().isoformat()
    assert row["Décidé le"] == ""
    event = AuditEvent.objects.get(action="export.dossiers")
    assert event.actor == reviewer
    assert (
        event.data["format"] == "csv"
        and event.data["rows"] == 1
        and event.data["filters"] == "tab=en-instruction"
    )


def test_the_export_keeps_the_lists_filters_tab_and_scope(client):
    gers, reviewer = in_review_application()
    other = submitted_application()  # in the Gers too, « à instruire »
    Application.objects.filter(pk=other.pk).update(title="Un autre projet")
    client.force_login(reviewer)
    assert [r["Référence"] for r in csv_rows(client.get(CSV_URL, {"tab": "a-instruire"}))] == [
        other.reference
    ]
    assert [r["Référence"] for r in csv_rows(client.get(CSV_URL, {"tab": "en-instruction"}))] == [
        gers.reference
    ]
    searched = csv_rows(client.get(CSV_URL, {"tab": "a-instruire", "q": "fabrique du Gers"}))
    assert searched == []
    # An instructor of another région gets the header only: never a dossier outside their scope.
    from fabriques.models import Region
    from fabriques.services import instructor_scope_set
    from tests.factories import instructor

    outsider = instructor()
    instructor_scope_set(instructor=outsider, regions=[Region.objects.get(code="11")], actor=None)
    client.force_login(outsider)
    assert csv_rows(client.get(CSV_URL, {"tab": "en-instruction"})) == []
    assert csv_rows(client.get(CSV_URL, {"tab": "a-instruire"})) == []


def test_the_export_keeps_the_assignment_filter_the_list_offers(client):
    """« Affectés à <un instructeur> » is a choice the list draws for the user: the export reads
    the query with the same choices, so it holds the list's dossiers, not every dossier of the tab."""
    mine, reviewer = in_review_application()
    theirs, colleague = in_review_application()
    assert reviewer != colleague
    admin = programme_admin()
    client.force_login(admin)
    query = {"tab": "en-instruction", "assigned": str(colleague.pk)}
    listed = client.get(reverse("applications:instructor-home"), query).content.decode()
    assert theirs.reference in listed and mine.reference not in listed
    assert [r["Référence"] for r in csv_rows(client.get(CSV_URL, query))] == [theirs.reference]
    query["assigned"] = "none"
    assert csv_rows(client.get(CSV_URL, query)) == []


def test_the_xlsx_carries_numbers_euros_and_dates(client):
    application, reviewer = scored_dossier()
    client.force_login(reviewer)
    response = client.get(XLSX_URL, {"tab": "en-instruction"})
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(body(response)))
    sheet = workbook["Dossiers"]
    header = [cell.value for cell in sheet[1]]
    values = dict(zip(header, [cell.value for cell in sheet[2]], strict=True))
    assert sheet.max_row == 2
    assert values["Référence"] == application.reference
    partner = Member.objects.get(application=application, is_lead=False).organisation
    assert values["Partenaires (SIRET)"] == f"=Partenaire malin ({partner.siret})"
    assert sheet.cell(row=2, column=header.index("Partenaires (SIRET)") + 1).data_type == "s"
    amount = sheet.cell(row=2, column=header.index("Montant demandé année 3") + 1)
    assert amount.value == pytest.approx(30000.5) and "€" in amount.number_format
    assert values["Déposé le"].date() == application.submitted_at.date()
    assert values["Gouvernance (sur 5)"] == 4


def test_the_number_of_queries_does_not_grow_with_the_rows(client, settings):
    first, reviewer = scored_dossier()

    def queries() -> int:
        table = DossierTable(Application.objects.exclude(status=Application.Status.DRAFT))
        with CaptureQueriesContext(connection) as captured:
            rows = list(table.rows())
        assert rows
        return len(captured)

    def view_queries() -> tuple[int, int]:
        client.force_login(programme_admin())
        with CaptureQueriesContext(connection) as captured:
            rows = csv_rows(client.get(CSV_URL, {"tab": "en-instruction"}))
        return len(rows), len(captured)

    once = queries()
    one_row, view_once = view_queries()
    for _ in range(4):
        application, _reviewer = scored_dossier()
    assert Application.objects.exclude(status=Application.Status.DRAFT).count() == 5
    assert queries() == once == 7  # the dossiers, members, budget, zones, scores, instructors, labels
    # The whole request too: the session, the filters' form, the count, the criteria, the audit row.
    five_rows, view_five = view_queries()
    assert (one_row, five_rows) == (1, 5)
    assert view_five == view_once


def test_a_long_list_is_built_in_the_background_and_only_its_author_downloads_it(
    client, settings, django_capture_on_commit_callbacks, task_queues
):
    settings.DOSSIER_EXPORT_MAX_ROWS_AT_ONCE = 0
    application, reviewer = scored_dossier()
    client.force_login(reviewer)
    page = client.get(XLSX_URL, {"tab": "en-instruction", "page": "2"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "préparé en arrière-plan" in html and 'value="tab=en-instruction"' in html
    assert not DossierExport.objects.exists()

    start = reverse("applications:workspace-export-start", kwargs={"file_format": "xlsx"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(start, {"query": "tab=en-instruction"})
    job = DossierExport.objects.get()
    assert response.status_code == 302 and response.url == reverse("applications:export-job", args=[job.pk])
    assert (job.status, job.requested_by, job.statuses) == (
        S.QUEUED,
        reviewer,
        ["in_review", "corrections_requested"],
    )
    assert AuditEvent.objects.filter(action="export.dossiers", data__job=str(job.pk)).exists()
    waiting = client.get(response.url).content.decode()
    assert 'hx-trigger="every 2s"' in waiting and "Actualiser" in waiting

    assert [message.queue for message in task_queues.in_queue("reports")] == ["reports"]
    task_queues.drain()
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == (S.DONE, 1, 1)
    status = client.get(reverse("applications:export-job-status", args=[job.pk])).content.decode()
    download = reverse("applications:export-job-download", args=[job.pk])
    assert download in status and "hx-trigger" not in status
    sheet = load_workbook(io.BytesIO(body(client.get(download))))["Dossiers"]
    assert sheet.cell(row=2, column=1).value == application.reference

    # Its author only: a 404 for another instructor, even one of the same territory.
    client.force_login(occitanie_instructor())
    for name in ("export-job", "export-job-status", "export-job-download"):
        assert client.get(reverse(f"applications:{name}", args=[job.pk])).status_code == 404

    # A redelivered task leaves a done job alone: one file, exactly once.
    dossier_export_build_task(str(job.pk))
    assert DossierExport.objects.get(pk=job.pk).changes.count() == 2


def test_with_the_broker_down_the_job_waits_and_the_sweep_queues_it(
    client, monkeypatch, settings, django_capture_on_commit_callbacks, task_queues
):
    settings.DOSSIER_EXPORT_MAX_ROWS_AT_ONCE = 0
    _application, reviewer = in_review_application()
    client.force_login(reviewer)

    def refuse(job_id: str) -> None:
        raise BrokerError("Connection refused.")

    start = reverse("applications:workspace-export-start", kwargs={"file_format": "csv"})
    with monkeypatch.context() as patched:
        patched.setattr(dossier_export_build_task, "delay", refuse)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(start, {"query": "tab=en-instruction"})
    job = DossierExport.objects.get()
    assert (job.status, job.waiting_for_queue) == (S.QUEUED, True)
    assert (
        "dès qu'elle sera rétablie"
        in client.get(reverse("applications:export-job", args=[job.pk])).content.decode()
    )
    assert dossier_exports_sweep() == {"queued": 1, "failed": 0}
    task_queues.drain()
    job.refresh_from_db()
    assert (job.status, job.waiting_for_queue) == (S.DONE, False)
    response = client.get(reverse("applications:export-job-download", args=[job.pk]))
    assert len(csv_rows(response)) == 1


@pytest.mark.parametrize(("from_status", "to_status"), list(itertools.product(S.values, S.values)))
def test_every_move_of_the_table_is_allowed_and_every_other_refused(from_status, to_status):
    job = DossierExport.objects.create(
        requested_by=programme_admin(), file_format="csv", statuses=["submitted"]
    )
    DossierExport.objects.filter(pk=job.pk).update(status=from_status, file_name="exports/dossiers/x.csv")
    job.refresh_from_db()
    if to_status in TRANSITIONS[from_status]:
        with transaction.atomic():
            assert transition(job=job, to_status=to_status).status == to_status
    else:
        with pytest.raises(ValidationError, match="ne peut pas passer"), transaction.atomic():
            transition(job=job, to_status=to_status)
        assert DossierExport.objects.get(pk=job.pk).status == from_status


def test_an_unknown_format_is_a_404(client):
    client.force_login(programme_admin())
    assert (
        client.get(reverse("applications:workspace-export", kwargs={"file_format": "pdf"})).status_code == 404
    )


# --- the dossier's files as one ZIP --------------------------------------------------------------


def test_the_archive_holds_the_attachments_and_the_issued_documents_under_unique_names(client):
    application, reviewer = in_review_application()
    first = Attachment.objects.filter(application=application).select_related("required_document").first()
    assert first is not None
    # A second file for the same document, and a name with a path and reserved characters.
    second = Attachment.objects.get(pk=first.pk)
    second.pk = None
    second.original_name = '../../etc/Statuts "v2".PDF'
    second.save()
    receipt = StatusChange.objects.get(application=application, to_status="submitted").document
    assert receipt is not None
    content = pdf_variant("reçu")
    receipt.file.save("recu.pdf", ContentFile(content), save=False)
    receipt.sha256, receipt.size, receipt.status = hashlib.sha256(content).hexdigest(), len(content), "done"
    receipt.save()

    client.force_login(reviewer)
    response = client.get(reverse("applications:review-archive", args=[application.reference]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    names = archive.namelist()
    label = safe_name(first.required_document.label)
    number = (
        list(
            application.call.required_documents.order_by("position", "pk").values_list("pk", flat=True)
        ).index(first.required_document_id)
        + 1
    )
    assert f"{number:02d} - {label}.pdf" in names
    assert f"{number:02d} - {label} (2).pdf" in names
    assert safe_name(receipt.filename) in names
    assert len(names) == len(set(names)) == Attachment.objects.filter(application=application).count() + 1
    with first.file.open("rb") as original:
        assert archive.read(f"{number:02d} - {label}.pdf") == original.read()
    assert archive.read(safe_name(receipt.filename)) == content
    assert archive.testzip() is None
    event = AuditEvent.objects.get(action="dossier.archive_download")
    assert (event.actor, event.target_id) == (reviewer, str(application.pk))
    assert sorted(event.data["files"]) == sorted(names)


def test_the_archive_is_refused_outside_the_scope(client):
    application, _reviewer = in_review_application()
    from fabriques.models import Region
    from fabriques.services import instructor_scope_set
    from tests.factories import instructor

    outsider = instructor()
    instructor_scope_set(instructor=outsider, regions=[Region.objects.get(code="11")], actor=None)
    client.force_login(outsider)
    url = reverse("applications:review-archive", args=[application.reference])
    assert client.get(url).status_code == 404
    client.force_login(application.created_by)
    assert client.get(url).status_code == 403
    assert not AuditEvent.objects.filter(action="dossier.archive_download").exists()


def test_names_are_sanitised_and_made_unique():
    assert safe_name("../a/b\\c:d*e?.pdf") == "c d e.pdf"
    assert safe_name("   ...  ") == "fichier"
    assert safe_name("x" * 300 + ".pdf").endswith("x.pdf") and len(safe_name("x" * 300 + ".pdf")) == 120
    assert unique_names(["Statuts.pdf", "statuts.PDF", "Statuts.pdf", "RIB"]) == [
        "Statuts.pdf",
        "statuts (2).PDF",
        "Statuts (3).pdf",
        "RIB",
    ]


def test_the_zip_is_streamed_in_pieces_as_it_is_written():
    from contextlib import AbstractContextManager
    from typing import IO

    from core.archives import PIECE, Member

    def opener(data: bytes):  # type: ignore[no-untyped-def]
        def open_it() -> AbstractContextManager[IO[bytes]]:
            return io.BytesIO(data)

        return open_it

    big = bytes(range(256)) * (PIECE // 256) * 5  # five pieces
    pieces = list(zip_stream([Member("a.bin", opener(big)), Member("b.txt", opener(b"court"))]))
    assert len(pieces) > 5 and max(len(piece) for piece in pieces) <= PIECE + 1024
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.read("a.bin") == big and archive.read("b.txt") == b"court"


# --- memory flat with size -------------------------------------------------------------------------


def clone(application: Application, reviewer, count: int, start: int) -> None:  # type: ignore[no-untyped-def]
    """`count` copies of the dossier with their lead, budget, scored assignment and label, in bulk."""
    from django.utils import timezone

    from applications.models import ApplicationLabel, Score

    lead = Member.objects.get(application=application, is_lead=True)
    copies = Application.objects.bulk_create(
        Application(
            reference=f"CLONE-{start + index:06d}",
            call=application.call,
            wave=application.wave,
            departement=application.departement,
            title=f"Projet numéro {start + index} avec un intitulé d'une longueur ordinaire",
            kind=application.kind,
            status=Application.Status.IN_REVIEW,
            submitted_at=timezone.now(),
            created_by=application.created_by,
        )
        for index in range(count)
    )
    Member.objects.bulk_create(
        Member(
            application=copy, organisation=lead.organisation, is_lead=True, role="Porteur", share_percent=100
        )
        for copy in copies
    )
    BudgetYear.objects.bulk_create(
        BudgetYear(application=copy, year_index=year, requested=Decimal("1000"), total_cost=Decimal("5000"))
        for copy in copies
        for year in (1, 2, 3)
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(application=copy, instructor=reviewer, scores_submitted_at=timezone.now())
        for copy in copies
    )
    criteria = list(Criterion.objects.filter(call=application.call))
    Score.objects.bulk_create(
        Score(assignment=assignment, criterion=criterion, value=3)
        for assignment in assignments
        for criterion in criteria
    )
    label = application.labels.get()
    ApplicationLabel.objects.bulk_create(
        ApplicationLabel(application=copy, label=label, added_by=reviewer) for copy in copies
    )


def test_memory_stays_flat_whatever_the_number_of_rows(monkeypatch):
    import tracemalloc

    from applications import exports

    # Small chunks, so that a few hundred rows already span many of them.
    monkeypatch.setattr(exports, "CHUNK_SIZE", 50)
    application, reviewer = scored_dossier()

    def peak() -> tuple[int, int]:
        table = DossierTable(Application.objects.exclude(status=Application.Status.DRAFT))
        tracemalloc.start()
        try:
            size = sum(len(chunk) for chunk in exports.csv_stream(table))
            return size, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # Enough rows for the CSV's 64 KiB buffer to fill (it is part of the flat cost), then four times more.
    clone(application, reviewer, 600, 0)
    small_size, small_peak = peak()
    clone(application, reviewer, 1800, 600)
    large_size, large_peak = peak()
    assert small_size > 2 * CSV_FLUSH_BYTES and large_size > 3.5 * small_size
    # Four times the rows (and the file), the same memory: no list of the rows, ever.
    assert large_peak < small_peak * 1.2, (small_peak, large_peak)


def test_the_archive_holds_the_award_letter_and_the_agreement_registered_by_grants(client):
    from grants.models import Agreement
    from grants.services import application_award
    from notifications.models import Document

    application, reviewer = in_review_application()
    grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    content = pdf_variant("rendu")
    for document in Document.objects.filter(status="pending"):
        document.file.save(f"document-{document.pk}.pdf", ContentFile(content), save=False)
        document.sha256, document.size, document.status = (
            hashlib.sha256(content).hexdigest(),
            len(content),
            "done",
        )
        document.save()
    agreement = Agreement.objects.select_related("document").get(grant=grant)
    letter = StatusChange.objects.get(application=application, to_status="awarded").document
    assert agreement.document is not None and letter is not None

    client.force_login(programme_admin())
    response = client.get(reverse("applications:review-archive", args=[application.reference]))
    names = zipfile.ZipFile(io.BytesIO(body(response))).namelist()
    assert safe_name(agreement.document.filename) in names
    assert safe_name(letter.filename) in names


def test_the_criteria_means_follow_the_instruction_pages_rule_on_others_scores(client):
    application, reviewer = scored_dossier()
    colleague = occitanie_instructor()  # same territory, not assigned: has handed in nothing
    client.force_login(colleague)
    (row,) = csv_rows(client.get(CSV_URL, {"tab": "en-instruction"}))
    assert (row["Gouvernance (sur 5)"], row["Modèle économique (sur 10)"]) == ("", "")
    assert row["Note sur 100"] == str(application.score)  # as the list shows it
    client.force_login(programme_admin())
    (row,) = csv_rows(client.get(CSV_URL, {"tab": "en-instruction"}))
    assert row["Gouvernance (sur 5)"] == "4.0"


# --- the committee's PDF ---------------------------------------------------------------------------


def test_the_committee_pdf_is_rendered_by_a_worker_with_the_scores_and_opinions(
    client, django_capture_on_commit_callbacks, task_queues
):
    from pypdf import PdfReader

    from applications.models import Opinion
    from notifications.models import Document

    application, reviewer = scored_dossier()
    Opinion.objects.create(
        application=application,
        email="ddt@gers.gouv.fr",
        organisation_name="DDT du Gers",
        token="jeton-comite",
        requested_by=reviewer,
        status=Opinion.Status.GIVEN,
        due_on=application.submitted_at.date(),
        verdict="favourable",
        comment="Projet bien ancré.",
        author_name="Camille Martin",
        given_at=application.submitted_at,
    )
    client.force_login(reviewer)  # handed in their scoring: sees the others'
    detail = client.get(reverse("applications:review-detail", args=[application.reference])).content.decode()
    assert reverse("applications:review-committee", args=[application.reference]) in detail
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("applications:review-committee", args=[application.reference]))
    document = Document.objects.get(kind="committee-dossier")
    assert response.url == reverse(
        "applications:review-committee-document", args=[application.reference, document.pk]
    )
    assert AuditEvent.objects.filter(action="dossier.committee_pdf", data__document=document.pk).exists()
    page = client.get(response.url).content.decode()
    assert 'hx-trigger="every 2s"' in page and "Actualiser" in page
    task_queues.drain()
    download = reverse("applications:review-committee-download", args=[application.reference, document.pk])
    status = client.get(
        reverse("applications:review-committee-status", args=[application.reference, document.pk])
    )
    assert download in status.content.decode()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(body(client.get(download)))).pages)
    for expected in (application.reference, "Gouvernance", "4 / 5", "Solide", "DDT du Gers", "Favorable"):
        assert expected in text, expected


def test_the_committee_pdf_is_refused_to_an_instructor_who_has_not_scored(client):
    from notifications.models import Document

    application, _reviewer = scored_dossier()
    colleague = occitanie_instructor()
    client.force_login(colleague)
    detail = client.get(reverse("applications:review-detail", args=[application.reference])).content.decode()
    assert reverse("applications:review-committee", args=[application.reference]) not in detail
    response = client.post(
        reverse("applications:review-committee", args=[application.reference]), follow=True
    )
    assert (
        "montre les notes de chacun : remettez d&#x27;abord votre propre notation."
        in response.content.decode()
    )
    assert not Document.objects.filter(kind="committee-dossier").exists()
    assert not AuditEvent.objects.filter(action="dossier.committee_pdf").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_csv_streams_its_side_by_side_cursors_outside_any_transaction(client):
    """As in production (no ATOMIC_REQUESTS; the body is sent after the view returned): on
    PostgreSQL the seven walks are server-side cursors held open side by side in autocommit."""
    application, reviewer = scored_dossier()
    client.force_login(reviewer)
    (row,) = csv_rows(client.get(CSV_URL, {"tab": "en-instruction"}))
    assert (row["Référence"], row["Étiquettes"], row["Zones"]) == (
        application.reference,
        "Prioritaire",
        "Zone rurale",
    )
