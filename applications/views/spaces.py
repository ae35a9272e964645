from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.permissions import can_use_applicant_space, can_use_instructor_space, role_required
from applications.selectors import application_list_for_applicant
from fabriques.selectors import departements_in_scope, instructor_scopes, organisations_of


@role_required(can_use_applicant_space)
def applicant_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "applications/applicant_home.html",
        {
            "title": _("Mon espace porteur"),
            "applications": application_list_for_applicant(user)[:10],  # type: ignore[arg-type]
            "organisations": organisations_of(user=user),  # type: ignore[arg-type]
        },
    )


@role_required(can_use_instructor_space)
def instructor_home(request: HttpRequest) -> HttpResponse:
    scopes = list(instructor_scopes(instructor=request.user))  # type: ignore[arg-type]
    departements = list(departements_in_scope(instructor=request.user))  # type: ignore[arg-type]
    return render(
        request,
        "applications/instructor_home.html",
        {"title": _("Instruction"), "scopes": scopes, "departements": departements},
    )
