"""ProConnect in a browser, end to end, against a REAL OpenID Connect provider started for the tests.

ProConnect itself cannot be reached from here (no internet): it is stood in for by
django-oidc-provider, an existing implementation of the protocol, run as a separate Django project
(tests/oidc_provider/: its own settings, SQLite database in a temporary directory, RSA signing
key, the portal registered as a confidential client with its redirect and post-logout addresses,
and users with their e-mail) in a `runserver` subprocess on a free port, once per module. The
portal (pytest-django's live server) talks to it as to ProConnect: authorisation code with PKCE
(S256), state and nonce, ID token signed RS256 and checked against the provider's JWKS, userinfo,
end-session. The provider's login page stands for the agent's identity provider.

The tampered-token case puts a small proxy of the test in front of the provider's token endpoint:
it forwards the request to the real provider and flips one character of the ID token's signature.
"""

import copy
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import AuditEvent
from tests.factories import applicant, instructor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "fabriques-de-territoires"
CLIENT_SECRET = "secret-du-portail-pour-les-tests"  # noqa: S105
AGENT = {
    "username": "claire",
    "password": "mot-de-passe-du-fi-1",
    "email": "Claire.Agent@Territoires.gouv.fr",
}
# Known to the portal as an applicant only: an agent's login is refused all the same.
STRANGER = {"username": "paul", "password": "mot-de-passe-du-fi-2", "email": "paul.porteur@exemple.fr"}
CALLBACK_PATH = "/compte/connexion/proconnect/retour/"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Provider:
    url: str
    database: Path

    @property
    def issuer(self) -> str:
        return f"{self.url}/openid"

    def expire_codes(self) -> None:
        """Age every authorisation code not yet exchanged past its expiry, in the provider's own database."""
        with sqlite3.connect(self.database) as db:
            db.execute("UPDATE oidc_provider_code SET expires_at = '2000-01-01 00:00:00'")


@pytest.fixture(scope="module")
def provider(live_server, tmp_path_factory) -> Iterator[Provider]:  # type: ignore[no-untyped-def]
    """django-oidc-provider in a subprocess, with the portal (the live server) as its client."""
    folder = tmp_path_factory.mktemp("oidc-provider")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
        "OIDC_PROVIDER_DB": str(folder / "provider.sqlite3"),
        "OIDC_PROVIDER_SITE_URL": url,
        "PYTHONPATH": str(ROOT),
    }
    user_fields = ("username", "password", "email")
    config = {
        "users": [
            {**{k: AGENT[k] for k in user_fields}, "first_name": "Claire", "last_name": "Agent"},
            {**{k: STRANGER[k] for k in user_fields}, "first_name": "Paul", "last_name": "Porteur"},
        ],
        "client": {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": f"{live_server.url}{CALLBACK_PATH}",
            "post_logout_redirect_uri": f"{live_server.url}/compte/deconnexion/proconnect/retour/",
        },
    }
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tests.oidc_provider.prepare", json.dumps(config)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    log = (folder / "provider.log").open("wb")
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/openid/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(
                    f"the test provider did not start: {(folder / 'provider.log').read_text()}"
                )
            time.sleep(0.2)
        yield Provider(url=url, database=folder / "provider.sqlite3")
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


class _TamperingProxy(BaseHTTPRequestHandler):
    """Forwards the token request to the real provider and alters the ID token's signature."""

    target = ""
    calls: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {"Content-Type": self.headers.get("Content-Type", "")}
        if self.headers.get("Authorization"):
            headers["Authorization"] = self.headers["Authorization"]
        answer = requests.post(self.target, data=body, headers=headers, timeout=10)
        payload = answer.json()
        header, claims, signature = payload["id_token"].split(".")
        middle = len(signature) // 2
        flipped = "A" if signature[middle] != "A" else "B"
        payload["id_token"] = ".".join(
            [header, claims, signature[:middle] + flipped + signature[middle + 1 :]]
        )
        type(self).calls.append(payload["id_token"])
        data = json.dumps(payload).encode()
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture(scope="module")
def tampering_proxy(provider) -> Iterator[str]:  # type: ignore[no-untyped-def]
    _TamperingProxy.target = f"{provider.issuer}/token"
    _TamperingProxy.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TamperingProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()
    server.server_close()


@pytest.fixture
def proconnect(settings, provider) -> Provider:  # type: ignore[no-untyped-def]
    """The portal configured with the test provider as its ProConnect."""
    settings.PROCONNECT_ENABLED = True
    settings.PROCONNECT_ISSUER = provider.issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{provider.issuer}/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{provider.issuer}/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{provider.issuer}/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{provider.issuer}/jwks"
    settings.PROCONNECT_LOGOUT_ENDPOINT = f"{provider.issuer}/end-session"
    settings.PROGRAMME_CONTACT_EMAIL = "equipe-programme@fabriques.example.gouv.fr"
    # As config/settings/base.py does when PROCONNECT_ENABLED is set at start-up.
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["form-action"] = ["'self'", provider.url]
    settings.CONTENT_SECURITY_POLICY = policy
    return provider


def _start(page, journey=None) -> None:  # type: ignore[no-untyped-def]
    """From the portal's login page to the provider, with the ProConnect button."""
    page.goto("/compte/connexion/")
    button = page.get_by_role("button", name="S’identifier avec ProConnect")
    expect(button).to_be_visible()
    if journey is not None:
        journey.step(page, "connexion avec le bouton ProConnect")
    with page.expect_navigation():
        button.click()


def _provider_login(page, person: dict[str, str] | None) -> None:  # type: ignore[no-untyped-def]
    """At the provider: log in (unless its session is open already), then consent."""
    if person is not None:
        expect(page.get_by_role("heading", name="Fournisseur d'identité de test")).to_be_visible()
        page.locator("#id_username").fill(person["username"])
        page.locator("#id_password").fill(person["password"])
        with page.expect_navigation():
            page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Transmettre votre identité")).to_be_visible()
    page.get_by_role("button", name="Autoriser").click()


def _captured_callback(page, person: dict[str, str] | None) -> str:  # type: ignore[no-untyped-def]
    """Run the flow up to the provider's redirect to the portal, and keep that address unopened.

    The consent form's request is held (Playwright routes a page's requests, not the redirects
    that follow them): sent to the provider by the test, its answer (a redirect to the portal's
    callback, with code and state) is kept, and the browser shows a placeholder instead.
    """
    captured: list[str] = []

    def hold(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.method != "POST":
            route.continue_()
            return
        response = route.fetch(max_redirects=0)
        captured.append(urljoin(route.request.url, response.headers["location"]))
        route.fulfill(status=200, content_type="text/html", body="<p>retenu par le test</p>")

    def pattern(url: str) -> bool:
        return urlsplit(url).path.rstrip("/") == "/openid/authorize"

    page.route(pattern, hold)
    _start(page)
    _provider_login(page, person)
    expect(page.get_by_text("retenu par le test")).to_be_visible()
    page.unroute(pattern, hold)
    assert len(captured) == 1 and CALLBACK_PATH in captured[0]
    return captured[0]


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _assert_not_logged_in(page) -> None:  # type: ignore[no-untyped-def]
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_count(0)
    page.goto(reverse("applications:instructor-home"))
    assert "/compte/connexion/" in page.url


def test_an_agent_logs_in_with_proconnect_lands_verified_and_logs_out_at_the_provider(
    proconnect, new_page, journey, site
):
    agent = instructor(email=AGENT["email"].lower())  # the portal's spelling differs in case
    page = new_page()
    _start(page, journey)
    assert page.url.startswith(f"{proconnect.issuer}/authorize") or "/login/" in page.url
    _provider_login(page, AGENT)

    # No code asked: the instructor (who never enrolled an authenticator) lands on the workspace.
    page.wait_for_url(f"**{reverse('applications:instructor-home')}")
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    assert "double-authentification" not in page.url
    journey.step(page, "espace instructeur apres ProConnect")
    login = AuditEvent.objects.get(action="account.login", target_id=str(agent.pk))
    assert login.actor == agent
    assert login.data["method"] == "proconnect"
    assert login.data["sub"]

    # Out of the portal, through the provider's end-session endpoint, and back with the state.
    with page.expect_navigation():
        page.get_by_role("button", name="Se déconnecter").click()
    assert page.url == f"{site}/"
    expect(page.get_by_text("Vous êtes déconnecté du portail et de ProConnect.")).to_be_visible()
    _assert_not_logged_in(page)

    # The provider's session ended too: the button leads to its login page again.
    _start(page)
    expect(page.get_by_role("heading", name="Fournisseur d'identité de test")).to_be_visible()
    journey.assert_accessible()


def test_an_address_without_an_agent_account_is_refused_and_told_whom_to_ask(proconnect, new_page, journey):
    instructor(email=AGENT["email"])
    # The portal knows this address, but as an applicant's: ProConnect is for agents only.
    applicant(email=STRANGER["email"])
    page = new_page()
    _start(page)
    _provider_login(page, STRANGER)
    page.wait_for_url(f"**{CALLBACK_PATH}**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion avec ProConnect refusée")
    expect(page.locator("main")).to_contain_text(f"ProConnect vous a identifié comme {STRANGER['email']}")
    expect(page.get_by_role("link", name="equipe-programme@fabriques.example.gouv.fr")).to_have_attribute(
        "href", "mailto:equipe-programme@fabriques.example.gouv.fr"
    )
    journey.step(page, "refus adresse inconnue")
    refusal = AuditEvent.objects.get(action="account.login_refused")
    assert refusal.data == {"method": "proconnect", "reason": "unknown_agent", "email": STRANGER["email"]}
    assert not AuditEvent.objects.filter(action="account.login").exists()
    _assert_not_logged_in(page)
    journey.assert_accessible()


def test_a_callback_with_another_state_is_refused(proconnect, new_page):
    instructor(email=AGENT["email"])
    page = new_page()
    callback = _captured_callback(page, AGENT)
    response = page.goto(_with_query(callback, state="un-etat-que-ce-navigateur-n-a-jamais-recu-0123"))
    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("La connexion avec ProConnect n'a pas abouti")
    assert not AuditEvent.objects.filter(action="account.login").exists()
    _assert_not_logged_in(page)


def test_an_expired_or_already_used_code_is_refused(proconnect, new_page):
    instructor(email=AGENT["email"])
    page = new_page()

    # Expired: the provider refuses to exchange it (invalid_grant).
    expired = _captured_callback(page, AGENT)
    proconnect.expire_codes()
    response = page.goto(expired)
    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("La connexion avec ProConnect n'a pas abouti")
    _assert_not_logged_in(page)

    # Used once (a login), then replayed by another browser with a state of its own.
    used = _captured_callback(page, None)  # the provider's session answers at once
    page.goto(used)
    page.wait_for_url(f"**{reverse('applications:instructor-home')}")
    other = new_page()
    fresh = _captured_callback(other, AGENT)
    replayed = _with_query(fresh, code=parse_qs(urlsplit(used).query)["code"][0])
    response = other.goto(replayed)
    assert response is not None and response.status == 400
    expect(other.get_by_role("heading", level=1)).to_have_text("La connexion avec ProConnect n'a pas abouti")
    _assert_not_logged_in(other)
    assert AuditEvent.objects.filter(action="account.login").count() == 1


def test_an_id_token_whose_signature_was_altered_is_refused(proconnect, tampering_proxy, settings, new_page):
    settings.OIDC_OP_TOKEN_ENDPOINT = tampering_proxy
    instructor(email=AGENT["email"])
    page = new_page()
    _start(page)
    _provider_login(page, AGENT)
    page.wait_for_url(f"**{CALLBACK_PATH}**")
    expect(page.get_by_role("heading", level=1)).to_have_text("La connexion avec ProConnect n'a pas abouti")
    # The real provider answered and the proxy altered its token: the portal refused that one.
    assert len(_TamperingProxy.calls) == 1
    assert not AuditEvent.objects.filter(action="account.login").exists()
    _assert_not_logged_in(page)
