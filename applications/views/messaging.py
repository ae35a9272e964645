"""The files of the dossiers' messages, and the message written to the applicants of a list.

A message's file is served to whoever sees the dossier (its applicants, its territory's
instruction, the programme admins): it is looked up among the files of the dossier's messages,
in a dossier fetched through the scoped queryset, so any other id is a 404.

« Écrire aux porteurs » takes the instructor list's filters from its query string (the same form
and the same `workspace_filtered` as the list, and the list's tab), shows the form, then a recap
(counts, first references, the text) whose confirmation joins the files and sends. The recap
writes nothing; its form carries a fresh token under which the broadcast is created once.
"""

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from accounts.confirmation import CONFIRM_FIELD, EDIT_FIELD
from accounts.models import User
from accounts.permissions import role_required
from applications.forms_messaging import BroadcastConfirmForm, BroadcastForm, file_uploads
from applications.forms_workspace import workspace_filter_choices
from applications.models import Application, MessageFile
from applications.selectors import workspace_filtered
from applications.services.messaging import broadcast_check, broadcast_preview, broadcast_send
from applications.views.common import get_visible_application
from applications.views.workspace import can_use_review_space, current_tab
from core.refusals import apply_refusal, is_page_refusal, say_refusal
from core.responses import document_response


@login_required  # applicants, and instructors/admins: the scoped lookup decides (else a 404)
def message_file_download(request: HttpRequest, reference: str, file_id: int) -> FileResponse:
    application = get_visible_application(request, reference)
    row = get_object_or_404(
        MessageFile.objects.filter(messages__application=application).distinct(), pk=file_id
    )
    return document_response(row.file, filename=row.original_name, content_type=row.content_type)


def _listed_dossiers(request: HttpRequest, user: User) -> QuerySet[Application]:
    """The instructor list's dossiers as filtered by the query string: its form with the choices
    the list offers this user (an « affectés à » filter is one of them), its tab."""
    filters = workspace_filter_choices(user).bind(request.GET).filters()  # invalid ones left out
    return workspace_filtered(user, filters).filter(status__in=current_tab(request, filters).statuses)


def _list_url(request: HttpRequest) -> str:
    query = request.GET.urlencode()
    return reverse("applications:instructor-home") + (f"?{query}" if query else "")


@role_required(can_use_review_space)
@require_http_methods(["GET", "HEAD", "POST"])
def broadcast_compose(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    dossiers = _listed_dossiers(request, user)
    context: dict[str, Any] = {
        "title": _("Écrire aux porteurs"),
        "list_url": _list_url(request),
        "query": request.GET.urlencode(),
        "confirm_field": CONFIRM_FIELD,
        "edit_field": EDIT_FIELD,
    }
    if request.method == "POST" and request.POST.get(CONFIRM_FIELD) == "1":
        confirm = BroadcastConfirmForm(request.POST, request.FILES)
        if confirm.is_valid():
            try:
                broadcast, created = broadcast_send(
                    token=confirm.cleaned_data["token"],
                    subject=confirm.cleaned_data["subject"],
                    body=confirm.cleaned_data["body"],
                    dossiers=dossiers,
                    files=file_uploads(confirm.cleaned_data["attachments"]),
                    query=request.GET.urlencode(),
                    expected=confirm.cleaned_data["fingerprint"],
                    actor=user,
                )
            except ValidationError as error:
                if is_page_refusal(error, codes=frozenset({"empty"})):
                    say_refusal(request, error)
                    return redirect(_list_url(request))
                if is_page_refusal(error, codes=frozenset({"changed"})):
                    # The recap again, on the list as it is now (the files are to be joined again).
                    say_refusal(request, error)
                    fresh = BroadcastConfirmForm(
                        initial={
                            "subject": confirm.cleaned_data["subject"],
                            "body": confirm.cleaned_data["body"],
                            "token": confirm.cleaned_data["token"],
                        }
                    )
                    return _recap(request, fresh, dossiers, user, context)
                apply_refusal(confirm, error)
            else:
                if created:
                    messages.success(
                        request, _sent_message(broadcast.dossier_count, broadcast.recipient_count)
                    )
                else:
                    messages.info(
                        request, _("Ce message était déjà envoyé : rien n'a été envoyé une seconde fois.")
                    )
                return redirect(_list_url(request))
        return _recap(request, confirm, dossiers, user, context)
    form = BroadcastForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and EDIT_FIELD not in request.POST and form.is_valid():
        try:
            broadcast_check(subject=form.cleaned_data["subject"], body=form.cleaned_data["body"])
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            confirm = BroadcastConfirmForm(
                initial={
                    "subject": form.cleaned_data["subject"],
                    "body": form.cleaned_data["body"],
                    "token": uuid.uuid4(),
                }
            )
            return _recap(request, confirm, dossiers, user, context)
    preview = broadcast_preview(dossiers=dossiers, actor=user)
    return render(
        request,
        "applications/messaging/broadcast_compose.html",
        {
            **context,
            "form": form,
            "preview": preview,
            "counts": _counts(preview.dossier_count, preview.recipient_count),
        },
    )


def _recap(
    request: HttpRequest,
    confirm: BroadcastConfirmForm,
    dossiers: QuerySet[Application],
    user: User,
    context: dict[str, Any],
) -> HttpResponse:
    preview = broadcast_preview(dossiers=dossiers, actor=user)
    if not confirm.is_bound:
        confirm.initial["fingerprint"] = preview.fingerprint
    return render(
        request,
        "applications/messaging/broadcast_recap.html",
        {
            **context,
            "title": _("Écrire aux porteurs : vérification"),
            "form": confirm,
            "preview": preview,
            "subject": confirm["subject"].value(),
            "body": confirm["body"].value(),
            "counts": _counts(preview.dossier_count, preview.recipient_count),
        },
    )


def _counts(dossiers: int, recipients: int) -> str:
    return _("%(dossiers)s, %(recipients)s") % {
        "dossiers": ngettext("%(count)d dossier", "%(count)d dossiers", dossiers) % {"count": dossiers},
        "recipients": ngettext("%(count)d destinataire", "%(count)d destinataires", recipients)
        % {"count": recipients},
    }


def _sent_message(dossiers: int, recipients: int) -> str:
    return _(
        "Votre message est écrit dans la messagerie de chaque dossier (%(counts)s prévenus par courriel)."
    ) % {"counts": _counts(dossiers, recipients)}
