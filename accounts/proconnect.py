"""ProConnect: instructors and programme admins log in with the State's identity federation.

ProConnect is an OpenID Connect provider; mozilla-django-oidc runs the authorisation code flow:
the request view stores a random `state`, `nonce` and PKCE `code_verifier` in the session and
sends the browser to the provider; the callback checks the state, exchanges the code (with the
verifier) for tokens at the token endpoint, checks the ID token's RS256 signature against the
provider's published keys (JWKS) and its nonce. This module adds what the library leaves out or
what the portal decides:

- the ID token's audience (our client id) and issuer are checked too (the library checks
  neither);
- the account is found by e-mail, case-insensitively, among ACTIVE INSTRUCTORS AND PROGRAMME ADMINS
  only; no account is ever created. Anyone else is refused (`ProConnectRefused`) and told whom to
  ask, without counting as a failed password login (there was no password);
- a ProConnect session counts as having given its second factor (`ProConnectOTPMiddleware`): the
  identity was established by the agent's administration through the State's federation, so the
  portal's TOTP code is not asked again. The method is kept in the session and in the audit row;
- logging out of a ProConnect session also ends it at the provider (`provider_logout_url`), with
  `id_token_hint`, `post_logout_redirect_uri` and a `state` checked on the way back.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.crypto import get_random_string
from django_otp.middleware import OTPMiddleware
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.models import AuditEvent, Role, User, normalise_login
from accounts.services import audit_record

METHOD_SESSION_KEY = "auth_method"
METHOD_PASSWORD = "password"  # noqa: S105 (a method's name, not a secret)
METHOD_PROCONNECT = "proconnect"
# The user the ProConnect login was for: the flag never outlives a change of user in the session.
USER_SESSION_KEY = "proconnect_user"
# The claims kept from the ID token, for the audit row (level of assurance and methods).
CLAIMS_SESSION_KEY = "proconnect_claims"
LOGOUT_STATE_SESSION_KEY = "proconnect_logout_state"
# Where mozilla-django-oidc stores it (OIDC_STORE_ID_TOKEN).
ID_TOKEN_SESSION_KEY = "oidc_id_token"  # noqa: S105 (a session key's name)

REFUSED_UNKNOWN = "unknown_agent"
REFUSED_NO_EMAIL = "no_email"


def proconnect_enabled() -> bool:
    """Configured and switched on: the button is shown and the addresses answer."""
    return bool(settings.PROCONNECT_ENABLED and settings.OIDC_RP_CLIENT_ID)


class ProConnectRefused(Exception):  # noqa: N818 (a refusal, not an error of the code)
    """The provider vouched for someone the portal does not let in with ProConnect."""

    def __init__(self, reason: str, email: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.email = email


def agents_with_email(email: str) -> QuerySet[User]:
    """Active instructors and programme admins (superusers included) with this address, any case."""
    staff = Q(groups__name__in=[Role.INSTRUCTOR.value, Role.ADMIN.value]) | Q(is_superuser=True)
    return User.objects.filter(staff, email__iexact=email, is_active=True).distinct()


class ProConnectBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """mozilla-django-oidc's backend, limited to agents' existing accounts."""

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        # Only the callback's call (nonce and verifier, no password) goes to the provider: a
        # password login whose address happens to carry `code` and `state` must not.
        if not proconnect_enabled() or "nonce" not in kwargs or "password" in kwargs:
            return None
        return super().authenticate(request, **kwargs)  # type: ignore[no-any-return]

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        if "nonce" in kwargs:
            # The ID token (the userinfo JWT comes without a nonce): the library checks its
            # signature, expiry and nonce, but neither whom it was issued to nor by whom.
            audience = payload.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if settings.OIDC_RP_CLIENT_ID not in audiences:
                raise SuspiciousOperation("ID token issued to another client.")
            if payload.get("iss") != settings.PROCONNECT_ISSUER:
                raise SuspiciousOperation("ID token issued by another provider.")
            self.request.session[CLAIMS_SESSION_KEY] = {
                name: payload[name] for name in ("acr", "amr", "sub") if name in payload
            }
        return payload

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User:
        user_info = self.get_userinfo(access_token, id_token, payload)
        email = normalise_login(user_info.get("email"))
        if not email:
            raise ProConnectRefused(REFUSED_NO_EMAIL)
        agents = list(agents_with_email(email)[:2])
        if len(agents) != 1:
            raise ProConnectRefused(REFUSED_UNKNOWN, email)
        return agents[0]


def is_proconnect_session(session: SessionBase, user: object) -> bool:
    """This session logged `user` in through ProConnect (and ProConnect is still on)."""
    return (
        proconnect_enabled()
        and isinstance(user, User)
        and session.get(METHOD_SESSION_KEY) == METHOD_PROCONNECT
        and session.get(USER_SESSION_KEY) == user.pk
    )


def _verified(user: User) -> bool:
    return True


class ProConnectOTPMiddleware(OTPMiddleware):  # type: ignore[misc]
    """django-otp's middleware: `user.is_verified()` is also true for a ProConnect session.

    django-otp decides it from the device recorded in the session at `otp_login`; a ProConnect
    login records no device (the agent's own authenticator was not used), so the answer is given
    here from the session's login method instead.
    """

    def _verify_user_sync(self, request: HttpRequest, user: Any) -> Any:
        user = super()._verify_user_sync(request, user)
        if user.otp_device is None and is_proconnect_session(request.session, user):
            user.is_verified = functools.partial(_verified, user)
        return user

    async def _verify_user_async_via_auser(self, request: HttpRequest, auser: Any) -> Any:
        user = await super()._verify_user_async_via_auser(request, auser)
        if user.otp_device is None and is_proconnect_session(request.session, user):
            user.is_verified = functools.partial(_verified, user)
        return user


def end_session(request: HttpRequest) -> str | None:
    """Log the user out; for a ProConnect session, return the provider's end-session address.

    ProConnect's session (and the identity provider's behind it) must end too, or the next click
    on the button logs the agent back in without a question. The browser goes there with the ID
    token as `id_token_hint` and a fresh `state`, kept in the session that follows the logout and
    checked when the provider sends the browser back (`accounts:proconnect-logged-out`).
    """
    from django.contrib.auth import logout

    if not is_proconnect_session(request.session, request.user):
        logout(request)
        return None
    state = get_random_string(32)
    params = {
        "id_token_hint": request.session.get(ID_TOKEN_SESSION_KEY, ""),
        "state": state,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("accounts:proconnect-logged-out")),
    }
    logout(request)
    request.session[LOGOUT_STATE_SESSION_KEY] = state
    return f"{settings.PROCONNECT_LOGOUT_ENDPOINT}?{urlencode(params)}"


@transaction.atomic
def user_login_audit(*, user: User, method: str, details: dict[str, Any], actor: User) -> AuditEvent:
    """The audit row of a login: who, by which method, and what the provider said of it."""
    return audit_record(actor=actor, action="account.login", target=user, data={"method": method, **details})


@transaction.atomic
def login_refusal_audit(*, method: str, reason: str, email: str, actor: User | None) -> AuditEvent:
    """The audit row of a login the portal refused although the provider vouched for the person."""
    return audit_record(
        actor=actor, action="account.login_refused", data={"method": method, "reason": reason, "email": email}
    )
