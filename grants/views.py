"""Steering pages, and the decisions on dossiers (an award creates the grant and commits the envelope).

The decision views reuse the instruction page of applications.views.review: its scoped lookup
(a dossier out of the user's territory is a 404), its error handling and its page, re-rendered
with the bound form when a decision is refused.
"""

from dataclasses import dataclass
from typing import cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.formatting import format_money
from accounts.models import User
from accounts.permissions import can_use_admin_space, role_required
from applications.forms_review import (
    AWARD,
    CLOSE,
    REFUSE,
    AwardForm,
    BulkDecisionForm,
    CloseForm,
    RefuseForm,
    ReopenForm,
)
from applications.next_steps import staff_todo
from applications.selectors import applications_reviewable_by
from applications.views.review import (
    refused_action_response,
    render_review_detail,
    review_detail_url,
    review_required,
    reviewable_application,
)
from grants.selectors_envelope import accounts_overview, calls_with_dossier_counts
from grants.services import (
    application_award,
    application_close,
    application_refuse,
    application_reopen,
    decisions_bulk,
)


@role_required(can_use_admin_space)
def admin_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "grants/admin_home.html",
        {
            "title": _("Pilotage du programme"),
            "overview": accounts_overview(),
            "calls": calls_with_dossier_counts(),
            "todo": staff_todo(request.user),  # type: ignore[arg-type]
        },
    )


@review_required
@require_POST
def review_decide(request: HttpRequest, reference: str) -> HttpResponse:
    """Award, refuse or close, according to the posted `decision`."""
    application = reviewable_application(request, reference)
    user = cast(User, request.user)
    decision = request.POST.get("decision")
    if decision == AWARD:
        award = AwardForm(request.POST, years=application.call.duration_years)
        if not award.is_valid():
            return render_review_detail(request, application, award_form=award)
        amount = award.cleaned_data["amount"]
        try:
            application_award(application=application, amount=amount, yearly=award.yearly(), actor=user)
        except ValidationError as error:
            return refused_action_response(request, application, error, award_form=award)
        messages.success(
            request,
            _(
                "Le dossier %(reference)s est lauréat : subvention de %(amount)s attribuée. "
                "La lettre de décision est en cours de production."
            )
            % {"reference": application.reference, "amount": format_money(amount)},
        )
    elif decision == REFUSE:
        refuse = RefuseForm(request.POST)
        if not refuse.is_valid():
            return render_review_detail(request, application, refuse_form=refuse)
        try:
            application_refuse(application=application, reasons=refuse.cleaned_data["reasons"], actor=user)
        except ValidationError as error:
            return refused_action_response(request, application, error, refuse_form=refuse)
        messages.success(
            request,
            _("Le dossier %(reference)s est refusé. La lettre de décision est en cours de production.")
            % {"reference": application.reference},
        )
    elif decision == CLOSE:
        close = CloseForm(request.POST)
        if not close.is_valid():
            return render_review_detail(request, application, close_form=close)
        try:
            application_close(application=application, reason=close.cleaned_data["reason"], actor=user)
        except ValidationError as error:
            return refused_action_response(request, application, error, close_form=close)
        messages.success(
            request,
            _("Le dossier %(reference)s est classé sans suite.") % {"reference": application.reference},
        )
    else:
        messages.error(request, _("Choisissez une décision : attribuer, refuser ou classer sans suite."))
        return redirect(review_detail_url(application, "decision"))
    return redirect(review_detail_url(application))


@review_required
@require_POST
def review_reopen(request: HttpRequest, reference: str) -> HttpResponse:
    """An admin sends a decided dossier back to review, with a reason (the service refuses others)."""
    application = reviewable_application(request, reference)
    form = ReopenForm(request.POST)
    if not form.is_valid():
        return render_review_detail(request, application, reopen_form=form)
    try:
        application_reopen(
            application=application, reason=form.cleaned_data["reason"], actor=cast(User, request.user)
        )
    except ValidationError as error:
        return refused_action_response(request, application, error, reopen_form=form)
    messages.success(
        request,
        _("Le dossier %(reference)s est rouvert et revient en instruction.")
        % {"reference": application.reference},
    )
    return redirect(review_detail_url(application))


# --- bulk decisions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkRow:
    reference: str
    done: bool
    message: str


@review_required
@require_http_methods(["GET", "HEAD", "POST"])
def review_bulk(request: HttpRequest) -> HttpResponse:
    """One decision on several dossiers: each is decided or refused on its own, with its reason."""
    user = cast(User, request.user)
    form = BulkDecisionForm(request.POST or None)
    rows: list[BulkRow] | None = None
    if request.method == "POST" and form.is_valid():
        references = form.reference_list()
        found = {
            application.reference: application
            for application in applications_reviewable_by(user)
            .filter(reference__in=references)
            .select_related("call")
        }
        results = decisions_bulk(
            applications=[found[reference] for reference in references if reference in found],
            decision=form.cleaned_data["decision"],
            actor=user,
            reasons=form.cleaned_data["reasons"],
            amount=form.cleaned_data["amount"],
        )
        by_reference = {result.reference: result for result in results}
        rows = []
        for reference in references:
            result = by_reference.get(reference)
            if result is None:
                rows.append(BulkRow(reference, False, _("Dossier introuvable ou hors de votre périmètre.")))
            else:
                rows.append(BulkRow(result.reference, result.done, result.message))
    return render(
        request,
        "applications/review/bulk.html",
        {
            "title": _("Décisions groupées"),
            "form": form,
            "rows": rows,
            "done_count": sum(1 for row in rows if row.done) if rows is not None else 0,
        },
    )
