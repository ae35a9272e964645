from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.permissions import can_use_admin_space, role_required
from grants.selectors import programme_overview


@role_required(can_use_admin_space)
def admin_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "grants/admin_home.html",
        {"title": _("Pilotage du programme"), "overview": programme_overview()},
    )
