"""Exports of a call for programme admins, and the public list of its laureates.

- CSV files (tranches, grants, open data) are streamed as they are read: a StreamingHttpResponse
  over the row generators of grants.selectors.exports, one query whatever the size of the call.
- The XLSX workbook is built in the background (grants.tasks.exports); the job is an ExportJob row
  (grants.export_jobs) whose progress is shown by a fragment that htmx polls every 2 seconds, with
  a download link once ready. With the broker down, the row is still written and the page says
  the export will start once the queue is back.
- The PDF summary is a notifications.Document row rendered by the document task; same polling.
- Files are served by views that check the admin role, never from a media URL.
Every export leaves an audit row (grants.services.exports.export_record).
"""

from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.html import escape
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from applications.models import Call
from core.formatting import format_money
from core.responses import document_response, private_file_headers
from core.spreadsheets import XLSX_CONTENT_TYPE
from grants.export_jobs import export_job_create
from grants.models import ExportJob
from grants.open_data import OPEN_DATA_COLUMNS, OpenDataError, open_data_table
from grants.selectors.exports import (
    LaureateRow,
    grant_columns,
    labels,
    laureate_rows,
    report_rows_grants,
    report_rows_tranches,
    tranche_columns,
)
from grants.services.exports import (
    BUDGET_REPORT_ACTION,
    OPEN_DATA_ACTION,
    export_record,
    pdf_summary_request,
)
from grants.views.common import (
    admin_required,
    user_of,
)
from grants.writers import PDF_KIND, csv_stream
from notifications.models import Document, Status


def _dated(call: Call, name: str, extension: str) -> str:
    return f"{call.slug}-{name}-{timezone.localdate().isoformat()}.{extension}"


@admin_required
@require_GET
def export_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "grants/exports/index.html",
        {"title": _("Exports budgétaires et données ouvertes"), "calls": Call.objects.order_by("-opens_at")},
    )


# --- CSV, streamed ------------------------------------------------------------------------------


def _csv_response(chunks: Any, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    private_file_headers(response)
    return response


@admin_required
@require_GET
def export_csv(request: HttpRequest, slug: str, rows: str) -> StreamingHttpResponse:
    """The tranches (`rows="tranches"`) or the grants (`rows="subventions"`) of a call."""
    call = get_object_or_404(Call, slug=slug)
    if rows == "tranches":
        chunks = csv_stream(report_rows_tranches(call), labels(tranche_columns()))
    elif rows == "subventions":
        chunks = csv_stream(report_rows_grants(call), labels(grant_columns()))
    else:
        raise Http404
    export_record(
        actor=user_of(request),
        call=call,
        action=BUDGET_REPORT_ACTION,
        data={"format": "csv", "rows": rows},
    )
    return _csv_response(chunks, _dated(call, rows, "csv"))


@admin_required
@require_GET
def export_open_data(request: HttpRequest, slug: str) -> HttpResponse | StreamingHttpResponse:
    """The « données essentielles » of the call's agreements, in the SCDL « subventions » schema.

    A file the schema would refuse is not served: the exports page says which setting to fill in.
    """
    call = get_object_or_404(Call, slug=slug)
    try:
        table = open_data_table(call)
    except OpenDataError as error:
        messages.error(request, str(error))
        return redirect("grants:export-index")
    export_record(actor=user_of(request), call=call, action=OPEN_DATA_ACTION, data={"format": "csv"})
    chunks = csv_stream(table, OPEN_DATA_COLUMNS, delimiter=",")
    return _csv_response(chunks, _dated(call, "donnees-essentielles-subventions", "csv"))


# --- XLSX, built in the background ---------------------------------------------------------------


@admin_required
@require_POST
def export_xlsx_start(request: HttpRequest, slug: str) -> HttpResponse:
    call = get_object_or_404(Call, slug=slug)
    job = export_job_create(call=call, actor=user_of(request))
    return redirect("grants:export-job", job_id=job.pk)


def _job_or_404(request: HttpRequest, job_id: UUID) -> ExportJob:
    """Only its requester may follow a job."""
    return get_object_or_404(ExportJob.objects.select_related("call"), pk=job_id, requested_by=request.user)


def _xlsx_status_context(job: ExportJob) -> dict[str, Any]:
    ready = job.status == ExportJob.Status.DONE
    failed = job.status == ExportJob.Status.FAILED
    return {
        "status_id": f"export-job-{job.pk}",
        "ready": ready,
        "failed": failed,
        "polling": not ready and not failed,
        "waiting_for_queue": job.status == ExportJob.Status.QUEUED and job.waiting_for_queue,
        "status_url": reverse("grants:export-job-status", kwargs={"job_id": job.pk}),
        "download_url": reverse("grants:export-job-download", kwargs={"job_id": job.pk}),
        "page_url": reverse("grants:export-job", kwargs={"job_id": job.pk}),
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "file_label": _("Classeur budgétaire (XLSX)"),
    }


@admin_required
@require_GET
def export_job(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = _job_or_404(request, job_id)
    return render(
        request,
        "grants/exports/job.html",
        {"title": _("Classeur budgétaire"), **_xlsx_status_context(job)},
    )


@admin_required
@require_GET
def export_job_status(request: HttpRequest, job_id: UUID) -> HttpResponse:
    """The progress fragment that the job's page polls with htmx."""
    job = _job_or_404(request, job_id)
    response = render(request, "includes/job_status.html", _xlsx_status_context(job))
    patch_cache_control(response, no_store=True)
    return response


@admin_required
@require_GET
def export_job_download(request: HttpRequest, job_id: UUID) -> FileResponse:
    job = _job_or_404(request, job_id)
    if job.status != ExportJob.Status.DONE:
        raise Http404
    return document_response(
        job.file_name,
        filename=f"{job.call.slug}-budget-{timezone.localdate().isoformat()}.xlsx",
        content_type=XLSX_CONTENT_TYPE,
    )


# --- PDF summary, a document row -----------------------------------------------------------------


@admin_required
@require_POST
def export_pdf_start(request: HttpRequest, slug: str) -> HttpResponse:
    call = get_object_or_404(Call, slug=slug)
    document = pdf_summary_request(call=call, actor=user_of(request))
    return redirect("grants:export-pdf", document_id=document.pk)


def _pdf_status_context(document: Document) -> dict[str, Any]:
    ready = document.status == Status.DONE and bool(document.file)
    failed = document.status == Status.FAILED
    return {
        "status_id": f"export-pdf-{document.pk}",
        "ready": ready,
        "failed": failed,
        "polling": not ready and not failed,
        "waiting_for_queue": False,
        "status_url": reverse("grants:export-pdf-status", kwargs={"document_id": document.pk}),
        "download_url": reverse("grants:export-pdf-download", kwargs={"document_id": document.pk}),
        "page_url": reverse("grants:export-pdf", kwargs={"document_id": document.pk}),
        "done": 1 if ready else 0,
        "total": 1,
        "percent": 100 if ready else 0,
        "file_label": _("Synthèse budgétaire (PDF)"),
    }


def _summary_or_404(document_id: int) -> Document:
    return get_object_or_404(Document, pk=document_id, kind=PDF_KIND)


@admin_required
@require_GET
def export_pdf(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _summary_or_404(document_id)
    return render(
        request,
        "grants/exports/job.html",
        {"title": _("Synthèse budgétaire"), **_pdf_status_context(document)},
    )


@admin_required
@require_GET
def export_pdf_status(request: HttpRequest, document_id: int) -> HttpResponse:
    response = render(request, "includes/job_status.html", _pdf_status_context(_summary_or_404(document_id)))
    patch_cache_control(response, no_store=True)
    return response


@admin_required
@require_GET
def export_pdf_download(request: HttpRequest, document_id: int) -> FileResponse:
    document = _summary_or_404(document_id)
    if document.status != Status.DONE or not document.file:
        raise Http404
    return document_response(document.file, filename=document.filename, content_type="application/pdf")


# --- public -------------------------------------------------------------------------------------


def laureate_rows_html(rows: list[LaureateRow]) -> SafeString:
    """The laureates' table rows: the bytes the template's loop wrote for them, written in Python.

    A full call lists hundreds of laureates on this public page: a template loop costs about a
    tenth of a millisecond per row, this a few microseconds (issue 13; the test compares the two).
    """
    return mark_safe(  # noqa: S308 - every value is escaped here
        "".join(
            "\n          <tr>"
            f'\n            <th scope="row">{escape(row.name)}</th>'
            f"\n            <td>{escape(row.departement)}</td>"
            f"\n            <td>{escape(format_money(row.amount))}</td>"
            f'\n            <td><abbr title="{escape(row.kind_label)}">{escape(row.kind)}</abbr></td>'
            "\n          </tr>\n        "
            for row in rows
        )
    )


@require_GET
def laureates(request: HttpRequest, slug: str) -> HttpResponse:
    """Public: the laureates of a call (structure, département, amount, FT/FNT), legal persons only."""
    call = get_object_or_404(Call.objects.exclude(status=Call.Status.DRAFT), slug=slug)
    rows = laureate_rows(call)
    return render(
        request,
        "grants/exports/laureates.html",
        {
            "title": _("Lauréats — %(call)s") % {"call": call.title},
            "call": call,
            "rows": rows,
            "rows_html": laureate_rows_html(rows),
            "total": sum((row.amount for row in rows), Decimal("0")),
        },
    )
