"""The programme admins' steering home: the accounts, the calls and their to-do."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.permissions import can_use_admin_space, role_required
from applications.next_steps import staff_todo
from core.page_cache import cached_page
from grants.selectors.envelope import accounts_overview, calls_with_dossier_counts


@role_required(can_use_admin_space)
@cached_page
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
