from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.permissions import can_use_applicant_space, role_required
from applications.next_steps import applicant_next_steps
from applications.selectors import application_list_for_applicant
from core.formatting import french_sorted
from fabriques.selectors import organisations_of


@role_required(can_use_applicant_space)
def applicant_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "applications/applicant_home.html",
        {
            "title": _("Mon espace porteur"),
            "applications": application_list_for_applicant(user)[:10],  # type: ignore[arg-type]
            "organisations": french_sorted(organisations_of(user=user), key=lambda o: o.name),  # type: ignore[arg-type]
            "next_steps": applicant_next_steps(user),  # type: ignore[arg-type]
        },
    )
