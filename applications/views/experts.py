"""Expert opinions: the expert's space (« Mes demandes d'avis »), the entry link of the invitation,
the files of a request both ways, and the instruction's request, reminder and cancellation.

The expert sees only the dossiers they were asked about, only while the request is open: every
page of the space fetches through `open_opinions_of_expert`, so a given or cancelled request, or
anyone else's, is a 404. Giving the answer and asking for an opinion each go through a recap
(accounts.confirmation); the files are joined on the recap, so nothing is stored before it.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.confirmation import CONFIRM_FIELD, EDIT_FIELD, is_confirmed, wants_edit
from accounts.models import User
from accounts.permissions import can_use_expert_space, role_required
from applications.forms_messaging import file_uploads
from applications.forms_opinions import (
    OpinionAnswerForm,
    OpinionCancelForm,
    OpinionFilesForm,
    OpinionRequestForm,
)
from applications.models import Opinion
from applications.rules import budget_totals
from applications.selectors_opinions import (
    expert_attachments,
    open_opinions_of_expert,
    opinion_file_for,
    opinions_of_expert,
)
from applications.services.opinions import (
    opinion_answer_check,
    opinion_cancel,
    opinion_give,
    opinion_remind,
    opinion_request,
    opinion_request_check,
)
from applications.views.review import (
    project_texts,
    refused_action_response,
    render_review_detail,
    review_detail_url,
    review_required,
    reviewable_application,
)
from core.formatting import format_date
from core.refusals import apply_refusal, say_refusal
from core.responses import document_response

expert_required = role_required(can_use_expert_space)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# --- the entry link of the invitation ----------------------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD"])
def opinion_entry(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the invitation e-mail: while the request is open, it leads its expert in (to
    choose a password first, for an account created by the invitation); anyone else gets a 404."""
    opinion = get_object_or_404(
        Opinion.objects.select_related("expert"), token=token, status=Opinion.Status.REQUESTED
    )
    expert = opinion.expert
    if expert is None:  # an open request always has its expert (a database constraint)
        raise Http404
    target = reverse("applications:expert-request", kwargs={"opinion_id": opinion.pk})
    if request.user.is_authenticated:
        if request.user.pk != expert.pk:
            raise Http404
        return redirect(target)
    if not expert.has_usable_password():
        # Django's reset link, made for this account: the e-mail carrying the token went to its
        # address, as a reset link would (a password set, this step is skipped).
        return redirect(
            "accounts:password-reset-confirm",
            uidb64=urlsafe_base64_encode(force_bytes(expert.pk)),
            token=default_token_generator.make_token(expert),
        )
    return redirect_to_login(target)


# --- the expert's space ------------------------------------------------------------------------


@expert_required
def expert_home(request: HttpRequest) -> HttpResponse:
    """« Mes demandes d'avis »: open requests first with their due dates, then those answered or
    cancelled (listed, without access to their dossier)."""
    user = _user(request)
    rows = list(opinions_of_expert(user))
    today = timezone.localdate()
    return render(
        request,
        "applications/experts/home.html",
        {
            "title": _("Mes demandes d'avis"),
            "open_requests": [row for row in rows if row.is_open],
            "closed_requests": [row for row in rows if not row.is_open],
            "today": today,
        },
    )


def _open_request(request: HttpRequest, opinion_id: int) -> Opinion:
    return get_object_or_404(
        open_opinions_of_expert(_user(request)).select_related(
            "application__call", "application__wave", "application__departement", "requested_by"
        ),
        pk=opinion_id,
    )


def _request_context(opinion: Opinion, **extra: Any) -> dict[str, Any]:
    application = opinion.application
    budget_rows = list(application.budget_years.order_by("year_index"))
    return {
        "title": _("Avis sur le dossier %(reference)s") % {"reference": application.reference},
        "opinion": opinion,
        "application": application,
        "request_files": list(opinion.request_files.order_by("pk")),
        "project_texts": project_texts(application),
        "members": list(
            application.members.select_related("organisation").order_by("-is_lead", "organisation__name")
        ),
        "places": list(
            application.places.select_related("departement__region").prefetch_related("activities")
        ),
        "budget_rows": budget_rows,
        "budget_totals": budget_totals(budget_rows),
        "attachments": list(expert_attachments(opinion)),
        "overdue": opinion.overdue_on(timezone.localdate()),
        **extra,
    }


@expert_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def expert_request(request: HttpRequest, opinion_id: int) -> HttpResponse:
    """A request: the question, its files, the dossier read-only, and the answer form. The answer
    goes through a recap, where the files sent back are joined, then « Rendre l'avis »."""
    opinion = _open_request(request, opinion_id)
    user = _user(request)
    if request.method != "POST" or wants_edit(request):
        # « Modifier » on the recap: the form again, as it was filled in.
        form = OpinionAnswerForm(request.POST if wants_edit(request) else None, opinion=opinion)
        return render(request, "applications/experts/request.html", _request_context(opinion, form=form))
    form = OpinionAnswerForm(request.POST, opinion=opinion)
    files_form = OpinionFilesForm(request.POST, request.FILES)
    if form.is_valid():
        verdict, comment = form.cleaned_data["verdict"], form.cleaned_data["comment"]
        try:
            if is_confirmed(request):
                if not files_form.is_valid():
                    return _answer_recap(request, opinion, form, files_form)
                opinion_give(
                    opinion=opinion,
                    verdict=verdict,
                    comment=comment,
                    files=file_uploads(files_form.cleaned_data["attachments"]),
                    actor=user,
                )
            else:
                opinion_answer_check(opinion=opinion, verdict=verdict, comment=comment, actor=user)
                return _answer_recap(request, opinion, form, OpinionFilesForm())
        except ValidationError as error:
            if hasattr(error, "error_dict") and "attachments" in error.error_dict:
                apply_refusal(files_form, error)
                return _answer_recap(request, opinion, form, files_form)
            apply_refusal(form, error)
        else:
            messages.success(request, _("Merci : votre avis est rendu et transmis à l'équipe d'instruction."))
            return redirect("applications:expert-home")
    return render(request, "applications/experts/request.html", _request_context(opinion, form=form))


def _answer_recap(
    request: HttpRequest, opinion: Opinion, form: OpinionAnswerForm, files_form: OpinionFilesForm
) -> HttpResponse:
    return render(
        request,
        "applications/experts/answer_recap.html",
        {
            "title": _("Vérifiez votre avis avant de le rendre"),
            "opinion": opinion,
            "application": opinion.application,
            "verdict_label": Opinion.Verdict(form.cleaned_data["verdict"]).label,
            "verdict": form.cleaned_data["verdict"],
            "comment": form.cleaned_data["comment"],
            "form": files_form,
            "confirm_field": CONFIRM_FIELD,
            "edit_field": EDIT_FIELD,
        },
    )


@expert_required
def expert_attachment(request: HttpRequest, opinion_id: int, attachment_id: int) -> FileResponse:
    """A supporting document of the dossier, for its expert while the request is open."""
    opinion = _open_request(request, opinion_id)
    attachment = get_object_or_404(expert_attachments(opinion), pk=attachment_id)
    return document_response(
        attachment.file, filename=attachment.original_name, content_type=attachment.content_type
    )


@never_cache
def opinion_file(request: HttpRequest, reference: str, opinion_id: int, file_id: int) -> HttpResponseBase:
    """A file of a request or of its answer: to the dossier's instruction, to the expert while the
    request is open, to the applicant once a shared opinion is given (selectors_opinions)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    row = opinion_file_for(_user(request), reference=reference, opinion_id=opinion_id, file_id=file_id)
    if row is None:
        raise Http404
    return document_response(row.file, filename=row.original_name, content_type=row.content_type)


# --- the instruction's side --------------------------------------------------------------------


@review_required
@require_POST
def review_opinion_request(request: HttpRequest, reference: str) -> HttpResponse:
    """The request posted from the review page: a recap (where the files for the expert are
    joined), then « Envoyer la demande »; « Modifier » shows the page's form again, filled in."""
    application = reviewable_application(request, reference)
    form = OpinionRequestForm(request.POST, call=application.call)
    if wants_edit(request) or not form.is_valid():
        return render_review_detail(request, application, opinion_form=form)
    values = {
        "email": form.cleaned_data["email"],
        "organisation_name": form.cleaned_data["organisation_name"],
        "question": form.cleaned_data["question"],
        "answer_kind": form.cleaned_data["answer_kind"],
        "due_on": form.cleaned_data["due_on"],
        "confidential": form.confidential,
    }
    files_form = OpinionFilesForm(request.POST, request.FILES)
    try:
        if not is_confirmed(request):
            ask = opinion_request_check(application=application, actor=_user(request), **values)
            return _request_recap(request, application, ask, OpinionFilesForm())
        if not files_form.is_valid():
            ask = opinion_request_check(application=application, actor=_user(request), **values)
            return _request_recap(request, application, ask, files_form)
        opinion = opinion_request(
            application=application,
            files=file_uploads(files_form.cleaned_data["attachments"]),
            actor=_user(request),
            **values,
        )
    except ValidationError as error:
        if hasattr(error, "error_dict") and "attachments" in error.error_dict:
            apply_refusal(files_form, error)
            ask = opinion_request_check(application=application, actor=_user(request), **values)
            return _request_recap(request, application, ask, files_form)
        return refused_action_response(request, application, error, opinion_form=form)
    messages.success(
        request,
        _("La demande d'avis est envoyée à %(organisation)s (%(email)s), à rendre avant le %(date)s.")
        % {
            "organisation": opinion.organisation_name,
            "email": opinion.email,
            "date": format_date(opinion.due_on),
        },
    )
    return redirect(review_detail_url(application, "avis"))


def _request_recap(
    request: HttpRequest, application: Any, ask: Any, files_form: OpinionFilesForm
) -> HttpResponse:
    posted = [
        (name, value)
        for name, values in request.POST.lists()
        if name.startswith("opinion-")
        for value in values
    ]
    return render(
        request,
        "applications/review/opinion_request_recap.html",
        {
            "title": _("Vérifiez la demande d'avis avant l'envoi"),
            "application": application,
            "ask": ask,
            "answer_kind_label": Opinion.AnswerKind(ask.answer_kind).label,
            "repeated": posted,
            "form": files_form,
            "confirm_field": CONFIRM_FIELD,
            "edit_field": EDIT_FIELD,
        },
    )


def _reviewed_opinion(request: HttpRequest, reference: str, opinion_id: int) -> Opinion:
    application = reviewable_application(request, reference)
    return get_object_or_404(application.opinions.select_related("application"), pk=opinion_id)


@review_required
@require_POST
def review_opinion_cancel(request: HttpRequest, reference: str, opinion_id: int) -> HttpResponse:
    opinion = _reviewed_opinion(request, reference, opinion_id)
    form = OpinionCancelForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, str(message))
        return redirect(review_detail_url(opinion.application, "avis"))
    try:
        opinion_cancel(opinion=opinion, reason=form.cleaned_data["reason"], actor=_user(request))
    except ValidationError as error:
        say_refusal(request, error)
    else:
        messages.success(
            request,
            _("La demande d'avis à %(organisation)s est annulée ; l'expert en est prévenu.")
            % {"organisation": opinion.organisation_name},
        )
    return redirect(review_detail_url(opinion.application, "avis"))


@review_required
@require_POST
def review_opinion_remind(request: HttpRequest, reference: str, opinion_id: int) -> HttpResponse:
    opinion = _reviewed_opinion(request, reference, opinion_id)
    try:
        opinion_remind(opinion=opinion, actor=_user(request))
    except ValidationError as error:
        say_refusal(request, error)
    else:
        messages.success(
            request, _("L'expert (%(email)s) est relancé par courriel.") % {"email": opinion.email}
        )
    return redirect(review_detail_url(opinion.application, "avis"))
