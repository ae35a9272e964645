"""Supporting documents of a dossier, and the documents the portal issued for it (receipts).

Files live under MEDIA_ROOT and are never served by a media URL: every download goes through
these views, which fetch the dossier through the user's scoped queryset first.
"""

import re
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.permissions import can_use_applicant_space, role_required
from applications.forms_documents import DocumentUploadForm, accepted_formats_hint, document_prefix
from applications.models import Application, Attachment, RequiredDocument, StatusChange
from applications.selectors import required_documents_for
from applications.services import attachment_add, attachment_remove
from applications.services.dossiers import ensure_editable
from applications.views.common import (
    dossier_context,
    get_editable_application,
    get_visible_application,
    issued_document_response,
)
from core.refusals import apply_refusal, say_refusal
from core.responses import document_response

POSTED_DOCUMENT = re.compile(r"^doc-(\d+)-required_document$")


@dataclass
class DocumentSlot:
    """One required document on the page: what it asks for, what was uploaded, its form."""

    document: RequiredDocument
    hint: str
    attachments: list[Attachment] = field(default_factory=list)
    form: DocumentUploadForm | None = None


def _document_slots(application: Application, documents: list[RequiredDocument]) -> list[DocumentSlot]:
    slots = {doc.pk: DocumentSlot(document=doc, hint=accepted_formats_hint(doc)) for doc in documents}
    # One query for every file of the dossier, whatever their number.
    uploaded = Attachment.objects.filter(application=application, required_document__in=list(slots)).order_by(
        "uploaded_at", "pk"
    )
    for attachment in uploaded:
        slots[attachment.required_document_id].attachments.append(attachment)
    return list(slots.values())


def _posted_prefix(request: HttpRequest) -> str | None:
    """The prefix of the form that was posted, read from its hidden field's name."""
    for key in request.POST:
        match = POSTED_DOCUMENT.match(key)
        if match:
            return document_prefix(match.group(1))
    return None


def _render_documents(
    request: HttpRequest,
    application: Application,
    *,
    bound: DocumentUploadForm | None = None,
) -> HttpResponse:
    documents = required_documents_for(application)
    slots = _document_slots(application, documents)
    context = dossier_context(request, application, "documents")
    stray_form = None
    if context["editable"]:
        for slot in slots:
            if bound is not None and bound.prefix == document_prefix(slot.document.pk):
                slot.form = bound
            else:
                slot.form = DocumentUploadForm(documents=documents, document=slot.document)
    if bound is not None and not any(slot.form is bound for slot in slots):
        stray_form = bound
    context.update(
        {
            "slots": slots,
            "stray_form": stray_form,
            "title": _("Pièces justificatives – %(reference)s") % {"reference": application.reference},
        }
    )
    return render(request, "applications/documents.html", context)


def _refused(request: HttpRequest, application: Application, error: ValidationError) -> HttpResponse:
    say_refusal(request, error)
    return redirect("applications:dossier-documents", reference=application.reference)


@role_required(can_use_applicant_space)
@require_http_methods(["GET", "HEAD", "POST"])
def dossier_documents(request: HttpRequest, reference: str) -> HttpResponse:
    if request.method != "POST":
        return _render_documents(request, get_visible_application(request, reference))

    application = get_editable_application(request, reference)
    user: User = request.user  # type: ignore[assignment]
    try:
        # Checked again under lock by the service; here so that a late form gets this answer.
        ensure_editable(application)
    except ValidationError as error:
        return _refused(request, application, error)
    documents = required_documents_for(application)
    prefix = _posted_prefix(request)
    shown = next((doc for doc in documents if document_prefix(doc.pk) == prefix), None)
    form = DocumentUploadForm(request.POST, request.FILES, documents=documents, document=shown, prefix=prefix)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            attachment = attachment_add(
                application=application,
                required_document=form.cleaned_data["required_document"],
                file=upload,
                filename=upload.name or "",
                actor=user,
            )
        except ValidationError as error:
            if getattr(error, "code", None) == "not_editable":
                return _refused(request, application, error)
            # Whatever the service refuses is about the file: said under its input.
            apply_refusal(form, error, fallback_field="file")
        else:
            messages.success(
                request,
                _("Le fichier « %(name)s » a été ajouté à la pièce « %(label)s ».")
                % {"name": attachment.original_name, "label": attachment.required_document.label},
            )
            return redirect("applications:dossier-documents", reference=application.reference)
    return _render_documents(request, application, bound=form)


@login_required  # applicants, and instructors/admins: the scoped lookup decides (else a 404)
def attachment_download(request: HttpRequest, reference: str, attachment_id: int) -> FileResponse:
    application = get_visible_application(request, reference)
    attachment = get_object_or_404(Attachment, pk=attachment_id, application=application)
    return document_response(
        attachment.file, filename=attachment.original_name, content_type=attachment.content_type
    )


@role_required(can_use_applicant_space)
@require_POST
def attachment_remove_view(request: HttpRequest, reference: str, attachment_id: int) -> HttpResponseRedirect:
    application = get_editable_application(request, reference)
    attachment = get_object_or_404(
        Attachment.objects.select_related("required_document"), pk=attachment_id, application=application
    )
    user: User = request.user  # type: ignore[assignment]
    name, label = attachment.original_name, attachment.required_document.label
    try:
        attachment_remove(attachment=attachment, actor=user)
    except ValidationError as error:
        say_refusal(request, error)
    else:
        messages.success(
            request,
            _("Le fichier « %(name)s » a été retiré de la pièce « %(label)s ».")
            % {"name": name, "label": label},
        )
    return redirect("applications:dossier-documents", reference=application.reference)


@login_required  # applicants, and instructors/admins: the scoped lookup decides (else a 404)
def issued_document_download(request: HttpRequest, reference: str, change_id: int) -> HttpResponseBase:
    """A PDF the portal issued on a change of state, such as the receipt of a submission."""
    application = get_visible_application(request, reference)
    change = get_object_or_404(
        StatusChange.objects.select_related("document"),
        pk=change_id,
        application=application,
        document__isnull=False,
    )
    document = change.document
    if document is None:  # excluded by the query; keeps the type checker informed
        raise Http404
    page = (
        "applications:dossier-detail"
        if can_use_applicant_space(request.user)
        else "applications:review-detail"
    )
    return issued_document_response(request, document, back=reverse(page, args=[application.reference]))
