"""A programme admin moves a submitted dossier to another département: form, recap, confirmation."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.models import User
from accounts.permissions import can_use_admin_space, role_required
from applications.forms_territory import TerritoryMoveForm
from applications.selectors import application_territory, applications_reviewable_by
from applications.services.territory import (
    application_move_territory,
    territory_move_check,
    territory_recipients,
)
from applications.views.common import error_to_form
from applications.views.review import review_detail_url


@role_required(can_use_admin_space)
@require_http_methods(["GET", "HEAD", "POST"])
def review_territory(request: HttpRequest, reference: str) -> HttpResponse:
    """GET: the form. POST: the recap of what the move does; POST with `confirm`: the move."""
    user: User = request.user  # type: ignore[assignment]
    application = get_object_or_404(
        applications_reviewable_by(user).select_related("call", "departement__region"), reference=reference
    )
    form = TerritoryMoveForm(request.POST or None)
    recap = None
    # « Modifier » from the recap posts the values back with `edit`: the form again, filled in.
    if request.method == "POST" and not request.POST.get("edit") and form.is_valid():
        departement = form.cleaned_data["departement"]
        reason = form.cleaned_data["reason"]
        if request.POST.get("confirm") == "1":
            try:
                application_move_territory(
                    application=application, departement=departement, reason=reason, actor=user
                )
            except ValidationError as error:
                error_to_form(form, error)
            else:
                messages.success(
                    request,
                    _("Le dossier %(reference)s est désormais instruit dans le département %(departement)s.")
                    % {
                        "reference": application.reference,
                        "departement": f"{departement.name} ({departement.code})",
                    },
                )
                return redirect(review_detail_url(application))
        else:
            try:
                territory_move_check(application=application, departement=departement)
            except ValidationError as error:
                error_to_form(form, error)
            else:
                incoming, outgoing = territory_recipients(old=application.departement, new=departement)
                recap = {
                    "departement": departement,
                    "reason": reason,
                    "incoming": incoming,
                    "outgoing": outgoing,
                }
    return render(
        request,
        "applications/review/territory_move.html",
        {
            "title": _("Changer le département d'instruction – %(reference)s")
            % {"reference": application.reference},
            "application": application,
            "territory": application_territory(application),
            "form": form,
            "recap": recap,
        },
    )
