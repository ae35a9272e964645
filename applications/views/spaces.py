from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.permissions import can_use_applicant_space, role_required
from applications.next_steps import applicant_next_steps
from applications.selectors import application_list_for_applicant
from core.formatting import french_sorted
from core.page_cache import cached_page
from fabriques.selectors import organisations_of


@role_required(can_use_applicant_space)
@cached_page
def applicant_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "applications/applicant_home.html",
        {
            "title": _("Mon espace porteur"),
            # Reference, title and status: no call, wave or lead to read with them.
            "applications": list(application_list_for_applicant(user, with_leads=False)[:10]),  # type: ignore[arg-type]
            # Name and SIRET only: without the joins of their category and département.
            "organisations": french_sorted(
                organisations_of(user=user).select_related(None),  # type: ignore[arg-type]
                key=lambda o: o.name,
            ),
            "next_steps": applicant_next_steps(user),  # type: ignore[arg-type]
        },
    )
