"""The instructors' exports: their list as CSV or XLSX, a dossier's files as one ZIP.

- A list of up to DOSSIER_EXPORT_MAX_ROWS_AT_ONCE dossiers is served at once: the CSV streamed
  as it is read, the XLSX written to a temporary file and sent. A longer list asks first, then is
  built in the background (a DossierExport row, applications.services.exports); its page shows
  the progress, which htmx polls every 2 seconds (without JavaScript, an « Actualiser » link), and
  the download once ready. Only its author sees a job (a 404 for anyone else).
- The ZIP is streamed as it is written (core.archives), for the staff who review the dossier.
- The committee's PDF is a document row rendered by a worker (applications.services.committee),
  for those who may see the dossier's scores; its page polls it like a background export.
Every export and every archive leaves an audit row.
"""

import tempfile
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    QueryDict,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from accounts.permissions import role_required
from applications import archives, exports
from applications.models import Application, DossierExport
from applications.services.committee import (
    COMMITTEE_KIND,
    committee_key_prefix,
    committee_pdf_request,
    may_see_scores,
)
from applications.services.exports import (
    application_archive_record,
    dossier_export_create,
    dossier_export_record,
)
from applications.views.review import review_required, reviewable_application
from applications.views.workspace import TABS, TABS_BY_SLUG, can_use_review_space
from core.archives import zip_stream
from core.responses import document_response, private_file_headers
from core.spreadsheets import XLSX_CONTENT_TYPE
from notifications.models import Document, Status

workspace_required = role_required(can_use_review_space)

CONTENT_TYPES = {
    DossierExport.Format.CSV: "text/csv; charset=utf-8",
    DossierExport.Format.XLSX: XLSX_CONTENT_TYPE,
}
QUERY_MAX = 4000


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _format_or_404(file_format: str) -> str:
    if file_format not in DossierExport.Format.values:
        raise Http404
    return file_format


def _list_query(params: QueryDict) -> str:
    """The list's filters and tab, without its page: what the export reads again."""
    kept = params.copy()
    for name in ("page", "per_page"):
        kept.pop(name, None)
    return kept.urlencode()


def _statuses(query: str, filters: dict[str, Any]) -> tuple[str, ...]:
    """The states of the list's tab: that of the state filtered on, else the tab named, else the
    first (as the list chooses it)."""
    status = filters.get("status")
    if status:
        return next(tab.statuses for tab in TABS if status in tab.statuses)
    return TABS_BY_SLUG.get(QueryDict(query).get("tab", ""), TABS[0]).statuses


@workspace_required
@require_GET
def workspace_export(request: HttpRequest, file_format: str) -> HttpResponseBase:
    """The list as it is filtered, in this format: at once when short, else a page that offers
    to build it in the background."""
    file_format = _format_or_404(file_format)
    user = _user(request)
    query = _list_query(request.GET)
    if len(query) > QUERY_MAX:
        return HttpResponseBadRequest(_("Trop de filtres."))
    filters = exports.list_filters(user, query)
    statuses = _statuses(query, filters)
    table = exports.DossierTable(exports.exported_dossiers(user, filters, statuses), viewer=user)
    count = table.count()
    back = f"{reverse('applications:instructor-home')}?{query}"
    if count > settings.DOSSIER_EXPORT_MAX_ROWS_AT_ONCE:
        return render(
            request,
            "applications/exports/confirm.html",
            {
                "title": _("Exporter la liste des dossiers"),
                "count": count,
                "file_format": DossierExport.Format(file_format).label,
                "action": reverse("applications:workspace-export-start", kwargs={"file_format": file_format}),
                "query": query,
                "back": back,
            },
        )
    dossier_export_record(actor=user, file_format=file_format, query=query, statuses=statuses, rows=count)
    filename = exports.export_file_name(file_format)
    content_type = CONTENT_TYPES[DossierExport.Format(file_format)]
    if file_format == DossierExport.Format.CSV:
        response: HttpResponseBase = StreamingHttpResponse(
            exports.csv_stream(table), content_type=content_type
        )
        response["Content-Disposition"] = content_disposition_header(True, filename)
    else:
        # A workbook is a ZIP written whole: on disk, not in memory, then sent by pieces.
        handle = tempfile.TemporaryFile(suffix=".xlsx")
        exports.xlsx_write(table, handle)
        handle.seek(0)
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=filename,
            content_type=content_type,
        )
    private_file_headers(response)
    return response


@workspace_required
@require_POST
def workspace_export_start(request: HttpRequest, file_format: str) -> HttpResponse:
    """Build the list's export in the background; its page follows the progress."""
    file_format = _format_or_404(file_format)
    user = _user(request)
    query = _list_query(QueryDict(request.POST.get("query", "")))
    if len(query) > QUERY_MAX:
        return HttpResponseBadRequest(_("Trop de filtres."))
    statuses = _statuses(query, exports.list_filters(user, query))
    job = dossier_export_create(file_format=file_format, query=query, statuses=statuses, actor=user)
    return redirect("applications:export-job", export_id=job.pk)


def _job_or_404(request: HttpRequest, export_id: UUID) -> DossierExport:
    """Only its author may follow a job, or download its file."""
    return get_object_or_404(DossierExport, pk=export_id, requested_by=_user(request))


def _status_context(job: DossierExport) -> dict[str, Any]:
    ready = job.status == DossierExport.Status.DONE
    failed = job.status == DossierExport.Status.FAILED
    return {
        "status_id": f"export-dossiers-{job.pk}",
        "ready": ready,
        "failed": failed,
        "polling": not ready and not failed,
        "waiting_for_queue": job.status == DossierExport.Status.QUEUED and job.waiting_for_queue,
        "page_url": reverse("applications:export-job", kwargs={"export_id": job.pk}),
        "status_url": reverse("applications:export-job-status", kwargs={"export_id": job.pk}),
        "download_url": reverse("applications:export-job-download", kwargs={"export_id": job.pk}),
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "file_label": _("Liste des dossiers (%(format)s)") % {"format": job.get_file_format_display()},
    }


@workspace_required
@require_GET
def export_job(request: HttpRequest, export_id: UUID) -> HttpResponse:
    job = _job_or_404(request, export_id)
    response = render(
        request,
        "applications/exports/job.html",
        {
            "title": _("Export de la liste des dossiers"),
            "back": f"{reverse('applications:instructor-home')}?{job.query}",
            **_status_context(job),
        },
    )
    patch_cache_control(response, no_store=True)
    return response


@workspace_required
@require_GET
def export_job_status(request: HttpRequest, export_id: UUID) -> HttpResponse:
    """The progress fragment that the job's page polls with htmx."""
    response = render(request, "includes/job_status.html", _status_context(_job_or_404(request, export_id)))
    patch_cache_control(response, no_store=True)
    return response


@workspace_required
@require_GET
def export_job_download(request: HttpRequest, export_id: UUID) -> FileResponse:
    job = _job_or_404(request, export_id)
    if job.status != DossierExport.Status.DONE:
        raise Http404
    return document_response(
        job.file_name,
        filename=exports.export_file_name(job.file_format, now=job.finished_at),
        content_type=CONTENT_TYPES[DossierExport.Format(job.file_format)],
    )


@review_required
@require_GET
def review_archive(request: HttpRequest, reference: str) -> StreamingHttpResponse:
    """Every file of the dossier in one ZIP, streamed; the download is audited."""
    application = reviewable_application(request, reference)
    members = archives.archive_members(application)
    application_archive_record(
        application=application, files=[member.name for member in members], actor=_user(request)
    )
    response = StreamingHttpResponse(zip_stream(members), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(
        True, archives.archive_file_name(application)
    )
    private_file_headers(response)
    return response


# --- the committee's PDF, a document row ---------------------------------------------------------


def _committee_document(
    request: HttpRequest, reference: str, document_id: int
) -> tuple[Application, Document]:
    """The dossier's committee PDF, for those who may see its scores; anyone else: a 404."""
    application = reviewable_application(request, reference)
    if not may_see_scores(_user(request), application):
        raise Http404
    document = get_object_or_404(
        Document, pk=document_id, kind=COMMITTEE_KIND, key__startswith=committee_key_prefix(application)
    )
    return application, document


def _committee_context(application: Application, document: Document) -> dict[str, Any]:
    ready = document.status == Status.DONE and bool(document.file)
    failed = document.status == Status.FAILED
    kwargs = {"reference": application.reference, "document_id": document.pk}
    return {
        "status_id": f"dossier-comite-{document.pk}",
        "ready": ready,
        "failed": failed,
        "polling": not ready and not failed,
        "waiting_for_queue": False,
        "page_url": reverse("applications:review-committee-document", kwargs=kwargs),
        "status_url": reverse("applications:review-committee-status", kwargs=kwargs),
        "download_url": reverse("applications:review-committee-download", kwargs=kwargs),
        "done": 1 if ready else 0,
        "total": 1,
        "percent": 100 if ready else 0,
        "file_label": _("Dossier pour le comité (PDF)"),
    }


@review_required
@require_POST
def review_committee(request: HttpRequest, reference: str) -> HttpResponse:
    """« Préparer le dossier pour le comité »: a PDF rendered by a worker; its page follows it."""
    application = reviewable_application(request, reference)
    try:
        document = committee_pdf_request(application=application, actor=_user(request))
    except PermissionDenied as refusal:
        messages.error(request, " ".join(refusal.args) or _("Action non autorisée."))
        return redirect("applications:review-detail", reference=application.reference)
    return redirect(
        "applications:review-committee-document", reference=application.reference, document_id=document.pk
    )


@review_required
@require_GET
def review_committee_document(request: HttpRequest, reference: str, document_id: int) -> HttpResponse:
    application, document = _committee_document(request, reference, document_id)
    response = render(
        request,
        "applications/exports/committee.html",
        {
            "title": _("Dossier pour le comité"),
            "application": application,
            **_committee_context(application, document),
        },
    )
    patch_cache_control(response, no_store=True)
    return response


@review_required
@require_GET
def review_committee_status(request: HttpRequest, reference: str, document_id: int) -> HttpResponse:
    """The progress fragment that the document's page polls with htmx."""
    application, document = _committee_document(request, reference, document_id)
    response = render(request, "includes/job_status.html", _committee_context(application, document))
    patch_cache_control(response, no_store=True)
    return response


@review_required
@require_GET
def review_committee_download(request: HttpRequest, reference: str, document_id: int) -> FileResponse:
    _application, document = _committee_document(request, reference, document_id)
    if document.status != Status.DONE or not document.file:
        raise Http404
    return document_response(document.file, filename=document.filename, content_type="application/pdf")
