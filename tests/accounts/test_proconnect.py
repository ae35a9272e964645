"""ProConnect without a browser nor a provider: the settings' switch, the authorisation request
(PKCE, state, nonce, scopes), which accounts it may open, the second factor it stands for, and
the logout at the provider. The whole flow against a real provider is in
tests/browser/test_proconnect.py.
"""

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent
from accounts.proconnect import (
    ID_TOKEN_SESSION_KEY,
    LOGOUT_STATE_SESSION_KEY,
    METHOD_PROCONNECT,
    METHOD_SESSION_KEY,
    USER_SESSION_KEY,
    agents_with_email,
)
from tests.factories import PASSWORD, UserFactory, applicant, instructor, programme_admin

pytestmark = [pytest.mark.django_db, pytest.mark.password_only]

PROVIDER = "https://proconnect.example.gouv.fr/api/v2"
LOGIN = reverse("accounts:login")
START = reverse("accounts:proconnect-login")
WORKSPACE = reverse("applications:instructor-home")


@pytest.fixture
def enabled(settings):  # type: ignore[no-untyped-def]
    settings.PROCONNECT_ENABLED = True
    settings.PROCONNECT_ISSUER = PROVIDER
    settings.OIDC_RP_CLIENT_ID = "portail"
    settings.OIDC_RP_CLIENT_SECRET = "secret"  # noqa: S105
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{PROVIDER}/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{PROVIDER}/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{PROVIDER}/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{PROVIDER}/jwks"
    settings.PROCONNECT_LOGOUT_ENDPOINT = f"{PROVIDER}/session/end"
    return settings


def proconnect_session(client: Client, user: object) -> None:
    """What the callback leaves in the session after a ProConnect login."""
    client.force_login(user, backend="accounts.proconnect.ProConnectBackend")  # type: ignore[arg-type]
    session = client.session
    session[METHOD_SESSION_KEY] = METHOD_PROCONNECT
    session[USER_SESSION_KEY] = user.pk  # type: ignore[attr-defined]
    session[ID_TOKEN_SESSION_KEY] = "en-tete.charge.signature"
    session.save()


def test_off_by_default_no_button_and_every_address_answers_404():
    page = Client().get(LOGIN).content.decode()
    assert "ProConnect" not in page
    for name in (
        "accounts:proconnect-login",
        "accounts:proconnect-callback",
        "accounts:proconnect-logged-out",
    ):
        assert Client().get(reverse(name)).status_code == 404
    assert Client().post(reverse("accounts:proconnect-logout")).status_code == 404


def test_configured_the_login_page_shows_the_proconnect_button(enabled):
    page = Client().get(LOGIN).content.decode()
    assert f'action="{START}"' in page
    assert '<span class="fr-connect__brand">ProConnect</span>' in page
    assert "Qu’est-ce que ProConnect ?" in page


def test_the_authorisation_request_carries_pkce_state_nonce_and_proconnect_scopes(enabled):
    client = Client()
    response = client.get(START, {"next": WORKSPACE})
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{PROVIDER}/authorize"
    params = {key: values[0] for key, values in parse_qs(target.query).items()}
    assert params["response_type"] == "code"
    assert params["client_id"] == "portail"
    assert params["scope"] == "openid email given_name usual_name"
    assert params["redirect_uri"] == "http://testserver/compte/connexion/proconnect/retour/"
    assert params["code_challenge_method"] == "S256"
    assert '"acr"' in params["claims"]
    # The session keeps what the callback checks: the state, its nonce and the PKCE verifier.
    stored = client.session["oidc_states"][params["state"]]
    assert stored["nonce"] == params["nonce"] and len(params["nonce"]) >= 32
    digest = hashlib.sha256(stored["code_verifier"].encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert client.session["oidc_login_next"] == WORKSPACE


def test_a_callback_without_a_login_under_way_is_refused_with_a_french_page(enabled):
    response = Client().get(reverse("accounts:proconnect-callback"), {"code": "abc", "state": "xyz"})
    assert response.status_code == 400
    assert "La connexion avec ProConnect n&#x27;a pas abouti" in response.content.decode()


def test_only_active_instructors_and_admins_are_found_by_email_whatever_its_case():
    agent = instructor(email="claire.agent@territoires.gouv.fr")
    admin = programme_admin(email="ADMIN@anct.gouv.fr")
    applicant(email="porteur@exemple.fr")
    instructor(email="parti@territoires.gouv.fr", is_active=False)
    UserFactory(email="sans-role@territoires.gouv.fr")
    assert list(agents_with_email("Claire.Agent@Territoires.GOUV.fr")) == [agent]
    assert list(agents_with_email("admin@anct.gouv.fr")) == [admin]
    for email in ("porteur@exemple.fr", "parti@territoires.gouv.fr", "sans-role@territoires.gouv.fr"):
        assert not agents_with_email(email).exists()


def test_a_proconnect_session_has_given_the_second_factor_a_password_one_has_not(enabled):
    agent = instructor()
    TOTPDevice.objects.create(user=agent, name="Téléphone", confirmed=True)
    by_password = Client()
    by_password.force_login(agent, backend="django.contrib.auth.backends.ModelBackend")
    assert by_password.get(WORKSPACE)["Location"].startswith(reverse("accounts:two-factor-verify"))

    by_proconnect = Client()
    proconnect_session(by_proconnect, agent)
    assert by_proconnect.get(WORKSPACE).status_code == 200
    # Not once ProConnect is switched off (an emergency stop ends its sessions' exemption).
    enabled.PROCONNECT_ENABLED = False
    assert by_proconnect.get(WORKSPACE).status_code == 302


def test_logging_out_of_a_proconnect_session_ends_it_at_the_provider_with_a_state(enabled):
    agent = instructor()
    client = Client()
    proconnect_session(client, agent)
    response = client.post(reverse("accounts:logout"))
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{PROVIDER}/session/end"
    params = {key: values[0] for key, values in parse_qs(target.query).items()}
    assert params["id_token_hint"] == "en-tete.charge.signature"
    assert params["post_logout_redirect_uri"] == "http://testserver/compte/deconnexion/proconnect/retour/"
    # Logged out here already; the state waits in the new session for the way back.
    assert "_auth_user_id" not in client.session
    assert client.session[LOGOUT_STATE_SESSION_KEY] == params["state"]

    back = client.get(reverse("accounts:proconnect-logged-out"), {"state": params["state"]}, follow=True)
    assert "Vous êtes déconnecté du portail et de ProConnect." in back.content.decode()
    forged = client.get(reverse("accounts:proconnect-logged-out"), {"state": params["state"]}, follow=True)
    assert "ne correspond à aucune déconnexion demandée" in forged.content.decode()


def test_logging_out_of_a_password_session_stays_on_the_portal(enabled):
    client = Client()
    client.force_login(instructor(), backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("core:home")
    assert Client().post(reverse("accounts:proconnect-logout"))["Location"] == reverse("core:home")


def test_a_password_login_is_audited_with_its_method_too():
    agent = instructor()
    client = Client()
    response = client.post(LOGIN, {"username": agent.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert client.session[METHOD_SESSION_KEY] == "password"
    event = AuditEvent.objects.get(action="account.login", target_id=str(agent.pk))
    assert event.actor == agent and event.data == {"method": "password"}


def test_an_id_token_for_another_client_from_another_issuer_or_with_another_nonce_is_refused(enabled, rf):
    """The library checks the signature, the expiry and the nonce; the portal adds audience and issuer."""
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.exceptions import SuspiciousOperation

    from accounts.proconnect import ProConnectBackend

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # A key given in the settings instead of the provider's JWKS (same check, no server needed).
    enabled.OIDC_RP_IDP_SIGN_KEY = key.public_key()
    backend = ProConnectBackend()
    backend.request = rf.get("/")
    backend.request.session = SessionStore()

    def token(**claims: object) -> str:
        base = {
            "iss": PROVIDER,
            "aud": "portail",
            "nonce": "n" * 32,
            "sub": "agent-1",
            "exp": time.time() + 60,
        }
        return jwt.encode({**base, **claims}, key, algorithm="RS256")

    assert backend.verify_token(token(acr="eidas1"), nonce="n" * 32)["sub"] == "agent-1"
    assert backend.request.session["proconnect_claims"] == {"acr": "eidas1", "sub": "agent-1"}
    for claims in ({"aud": "un-autre-service"}, {"iss": "https://ailleurs.example"}, {"nonce": "m" * 32}):
        with pytest.raises(SuspiciousOperation):
            backend.verify_token(token(**claims), nonce="n" * 32)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({"iss": PROVIDER, "aud": "portail", "nonce": "n" * 32}, other_key, algorithm="RS256")
    with pytest.raises(SuspiciousOperation, match="JWS token verification failed"):
        backend.verify_token(forged, nonce="n" * 32)
