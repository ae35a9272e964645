"""The pages of the ProConnect login: off to the provider, back from it, and the logout there.

The protocol is mozilla-django-oidc's (accounts/proconnect.py says what the portal adds). Every
address answers 404 while ProConnect is not configured. A refusal is a page in French, never the
bare 400 or 500 the library would let through: the agent learns whom to ask, and the details go
to the log and, for a refused agent, to the audit log.
"""

import logging
from typing import cast

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts.models import User
from accounts.proconnect import (
    CLAIMS_SESSION_KEY,
    LOGOUT_STATE_SESSION_KEY,
    METHOD_PROCONNECT,
    METHOD_SESSION_KEY,
    REFUSED_UNKNOWN,
    USER_SESSION_KEY,
    ProConnectRefused,
    end_session,
    login_refusal_audit,
    proconnect_enabled,
    user_login_audit,
)
from accounts.roles import home_url_for

logger = logging.getLogger(__name__)


def _refusal(request: HttpRequest, *, unknown_email: str | None = None) -> HttpResponse:
    """The page of a ProConnect login that did not open a session, with what to do next."""
    return render(
        request,
        "accounts/proconnect_refused.html",
        {
            "title": _("Connexion avec ProConnect refusée")
            if unknown_email is not None
            else _("La connexion avec ProConnect n'a pas abouti"),
            "unknown_email": unknown_email,
            "contact_email": settings.PROGRAMME_CONTACT_EMAIL,
        },
        status=403 if unknown_email is not None else 400,
    )


class ProConnectLoginView(OIDCAuthenticationRequestView):  # type: ignore[misc]
    """Off to the provider: state, nonce and PKCE challenge kept in the session (the library)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not proconnect_enabled():
            raise Http404
        if request.user.is_authenticated:
            return redirect(home_url_for(request.user))
        return super().get(request)  # type: ignore[no-any-return]


class ProConnectCallbackView(OIDCAuthenticationCallbackView):  # type: ignore[misc]
    """Back from the provider: the library checks state, code, signature and nonce."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not proconnect_enabled():
            raise Http404
        try:
            return super().get(request)  # type: ignore[no-any-return]
        except ProConnectRefused as refusal:
            login_refusal_audit(
                method=METHOD_PROCONNECT, reason=refusal.reason, email=refusal.email, actor=None
            )
            return _refusal(request, unknown_email=refusal.email if refusal.reason == REFUSED_UNKNOWN else "")
        except (SuspiciousOperation, requests.RequestException, jwt.PyJWTError) as error:
            # A state that is not this browser's, a code refused by the provider (expired, used
            # twice), an ID token whose signature, audience, issuer or nonce is wrong.
            logger.warning("ProConnect login refused: %s", error)
            return _refusal(request)

    def login_failure(self) -> HttpResponse:
        # The provider's own refusal (`error=access_denied`...) or a callback without a login
        # under way in this browser.
        return _refusal(self.request)

    def login_success(self) -> HttpResponse:
        user = cast(User, self.user)
        claims = self.request.session.pop(CLAIMS_SESSION_KEY, {})
        response = super().login_success()
        # After auth.login, which keeps the session's data under a new key.
        self.request.session[METHOD_SESSION_KEY] = METHOD_PROCONNECT
        self.request.session[USER_SESSION_KEY] = user.pk
        user_login_audit(user=user, method=METHOD_PROCONNECT, details=claims, actor=user)
        return response  # type: ignore[no-any-return]


@require_POST
def proconnect_logout(request: HttpRequest) -> HttpResponse:
    """Log out here and, for a ProConnect session, at the provider too."""
    if not proconnect_enabled():
        raise Http404
    provider_url = end_session(request)
    return HttpResponseRedirect(provider_url or resolve_url(settings.LOGOUT_REDIRECT_URL))


@require_GET
def proconnect_logged_out(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the browser back after its logout, with the state we gave it."""
    if not proconnect_enabled():
        raise Http404
    expected = request.session.pop(LOGOUT_STATE_SESSION_KEY, None)
    given = request.GET.get("state", "")
    if expected and constant_time_compare(given, expected):
        messages.success(request, _("Vous êtes déconnecté du portail et de ProConnect."))
    else:
        messages.warning(
            request,
            _(
                "Cette confirmation de déconnexion ne correspond à aucune déconnexion "
                "demandée depuis ce navigateur."
            ),
        )
    return redirect(settings.LOGOUT_REDIRECT_URL)
