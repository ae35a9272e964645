from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.permissions import can_use_applicant_space, can_use_instructor_space, role_required
from fabriques.selectors import departements_in_scope, instructor_scopes


@role_required(can_use_applicant_space)
def applicant_home(request: HttpRequest) -> HttpResponse:
    return render(request, "applications/applicant_home.html", {"title": _("Mon espace porteur")})


@role_required(can_use_instructor_space)
def instructor_home(request: HttpRequest) -> HttpResponse:
    scopes = list(instructor_scopes(instructor=request.user))  # type: ignore[arg-type]
    departements = list(departements_in_scope(instructor=request.user))  # type: ignore[arg-type]
    return render(
        request,
        "applications/instructor_home.html",
        {"title": _("Instruction"), "scopes": scopes, "departements": departements},
    )
