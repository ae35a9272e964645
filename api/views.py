"""The programme admin's page of API tokens: issue one (its secret shown once), list, revoke."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.permissions import can_use_admin_space, role_required
from api.forms import TokenForm
from api.models import ApiToken
from api.selectors import token_list
from api.services import IssuedToken, api_token_create, api_token_revoke
from core.refusals import apply_refusal

admin_required = role_required(can_use_admin_space)


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _page(request: HttpRequest, form: TokenForm, issued: IssuedToken | None = None) -> HttpResponse:
    return render(
        request,
        "api/token_list.html",
        {"title": _("Jetons de l'API"), "tokens": token_list(), "form": form, "issued": issued},
    )


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_list_view(request: HttpRequest) -> HttpResponse:
    """The tokens, newest first, and the form of a new one. A token just issued is shown on the
    answer to the POST itself, never stored nor put in the session: reload, and it is gone."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = api_token_create(
                user=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
                actor=_actor(request),
            )
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            response = _page(request, TokenForm(), issued)
            # The secret is on this page only: no cache anywhere may keep it.
            response["Cache-Control"] = "no-store"
            return response
    return _page(request, form)


@admin_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id)
    api_token_revoke(token=token, actor=_actor(request))
    messages.success(request, _("Le jeton « %(name)s » est révoqué.") % {"name": token.name})
    return redirect("api-tokens:token-list")
