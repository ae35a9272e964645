"""Security headers: a Content-Security-Policy with nonces on every page, and the others.

Every page of a representative list (anonymous, applicant, instructor, admin) is fetched; each
must carry a Content-Security-Policy without 'unsafe-inline' nor 'unsafe-eval', each <script> of
its HTML must carry that header's nonce, and the HTML must hold no `style` attribute, no <style>
element and no inline event handler (`onclick=`, `hx-on…`), which the policy would block.

The production settings are built in a subprocess (they refuse to start without their secrets)
and their security values replayed on the test client with `secure=True`.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import User
from applications.models import Application
from grants.models import Agreement, Grant
from grants.services import application_award
from tests.factories import PASSWORD, UserFactory, applicant, in_review_application, programme_admin

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_DIRECTIVES = {
    "default-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "font-src": {"'self'"},
    "connect-src": {"'self'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
    "base-uri": {"'self'"},
    "object-src": {"'none'"},
}


# --- reading a page -----------------------------------------------------------------------------


def parse_policy(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def header_nonce(policy: dict[str, list[str]]) -> str | None:
    nonces = [
        word[len("'nonce-") : -1] for word in policy.get("script-src", []) if word.startswith("'nonce-")
    ]
    assert len(nonces) <= 1, policy
    return nonces[0] if nonces else None


class PageScan(HTMLParser):
    """The <script> tags, the style attributes, <style> elements and inline handlers of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict[str, str | None]] = []
        self.style_attributes: list[str] = []
        self.style_elements = 0
        self.handlers: list[str] = []
        self._in_script = False
        self.inline_script_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if tag == "style":
            self.style_elements += 1
        for name, value in attrs:
            if name == "style":
                self.style_attributes.append(f"<{tag} style={value!r}>")
            if re.fullmatch(r"on[a-z]+", name) or name.startswith(("hx-on", "data-hx-on")):
                self.handlers.append(f"<{tag} {name}={value!r}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script_text.append(data.strip()[:80])


def scan(html: str) -> PageScan:
    parser = PageScan()
    parser.feed(html)
    parser.close()
    return parser


def assert_strict_policy(response: Any) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.wsgi_request.path}"
    assert "unsafe-inline" not in header, header
    assert "unsafe-eval" not in header, header
    assert "unsafe-hashes" not in header, header
    policy = parse_policy(header)
    for directive, sources in EXPECTED_DIRECTIVES.items():
        assert set(policy.get(directive, [])) == sources, (directive, header)
    script_sources = [word for word in policy["script-src"] if not word.startswith("'nonce-")]
    assert script_sources == ["'self'"], header
    return policy


def assert_page_obeys_its_policy(response: Any, *, own_templates: bool = True) -> None:
    """The header is strict and the HTML needs nothing it forbids."""
    policy = assert_strict_policy(response)
    nonce = header_nonce(policy)
    page = scan(response.content.decode())
    where = response.wsgi_request.path
    for script in page.scripts:
        if own_templates or script.get("src") is None:
            assert nonce is not None, f"{where}: a <script> but no nonce in the header"
            assert script.get("nonce") == nonce, f"{where}: {script} lacks the nonce {nonce}"
    assert not page.inline_script_text or nonce is not None, where
    assert not page.handlers, f"{where}: inline event handlers {page.handlers}"
    if own_templates:
        assert page.scripts, f"{where}: the page should load the theme's and the portal's scripts"
        assert not page.style_attributes, f"{where}: style attributes {page.style_attributes}"
        assert page.style_elements == 0, f"{where}: a <style> element"
        assert 'style="' not in response.content.decode(), where


# --- the pages ----------------------------------------------------------------------------------


@dataclass
class World:
    application: Application
    grant: Grant
    agreement: Agreement
    beneficiary: User
    reviewer: User
    admin: User
    superuser: User


@pytest.fixture
def world() -> World:
    application, reviewer = in_review_application()
    grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    application.refresh_from_db()
    superuser = UserFactory(is_superuser=True, is_staff=True)
    return World(
        application=application,
        grant=grant,
        agreement=Agreement.objects.get(grant=grant),
        beneficiary=application.created_by,
        reviewer=reviewer,
        admin=programme_admin(),
        superuser=superuser,
    )


def _anonymous_pages(world: World) -> list[str]:
    slug = world.application.call.slug
    return [
        reverse("core:home"),
        reverse("core:legal-notice"),
        reverse("core:personal-data"),
        reverse("core:accessibility"),
        reverse("accounts:login"),
        reverse("accounts:sign-up"),
        reverse("accounts:sign-up-done"),
        reverse("accounts:password-reset"),
        reverse("accounts:password-reset-done"),
        reverse("grants:public-summary", args=[slug]),
        reverse("grants:export-laureates", args=[slug]),
    ]


def _applicant_pages(world: World) -> list[str]:
    reference = world.application.reference
    organisation = world.application.members.get(is_lead=True).organisation
    return [
        reverse("applications:applicant-home"),
        reverse("applications:dossier-list"),
        reverse("applications:dossier-create"),
        *(
            reverse(f"applications:{name}", args=[reference])
            for name in (
                "dossier-detail",
                "dossier-project",
                "dossier-places",
                "dossier-budget",
                "dossier-consortium",
                "dossier-documents",
                "dossier-access",
                "dossier-messages",
            )
        ),
        reverse("fabriques:organisation-list"),
        reverse("fabriques:organisation-create"),
        reverse("fabriques:organisation-detail", args=[organisation.pk]),
        reverse("grants:tranche-grant", args=[reference]),
        reverse("grants:agreement-list"),
        reverse("grants:agreement-detail", args=[world.agreement.number]),
    ]


def _instructor_pages(world: World) -> list[str]:
    reference = world.application.reference
    return [
        reverse("applications:instructor-home"),
        reverse("applications:review-detail", args=[reference]),
        reverse("grants:tranche-manage", args=[reference]),
        reverse("grants:review-bulk"),
    ]


def _admin_pages(world: World) -> list[str]:
    slug = world.application.call.slug
    number = world.agreement.number
    return [
        reverse("grants:admin-home"),
        reverse("grants:dashboard", args=[slug]),
        reverse("grants:export-index"),
        reverse("grants:agreement-list"),
        reverse("grants:agreement-detail", args=[number]),
        reverse("grants:agreement-terminate", args=[number]),
        reverse("grants:agreement-amend", args=[number]),
        reverse("applications:review-detail", args=[world.application.reference]),
    ]


def _fetch_all(client: Client, urls: list[str], *, own_templates: bool = True) -> None:
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert_page_obeys_its_policy(response, own_templates=own_templates)


def test_anonymous_pages_have_a_strict_policy_and_obey_it(client: Client, world: World) -> None:
    _fetch_all(client, _anonymous_pages(world))


def test_applicant_pages_have_a_strict_policy_and_obey_it(client: Client, world: World) -> None:
    client.force_login(world.beneficiary)
    _fetch_all(client, _applicant_pages(world))


def test_instructor_pages_have_a_strict_policy_and_obey_it(client: Client, world: World) -> None:
    client.force_login(world.reviewer)
    _fetch_all(client, _instructor_pages(world))


def test_admin_pages_have_a_strict_policy_and_obey_it(client: Client, world: World) -> None:
    client.force_login(world.admin)
    _fetch_all(client, _admin_pages(world))


def test_the_dashboard_draws_its_charts_without_style_attributes(client: Client, world: World) -> None:
    client.force_login(world.admin)
    response = client.get(reverse("grants:dashboard", args=[world.application.call.slug]))
    html = response.content.decode()
    assert 'class="portal-chart"' in html  # the charts are there, sized by portal.css
    assert "style=" not in html


def test_pages_with_form_errors_obey_the_policy(client: Client, world: World) -> None:
    # Error summaries and error texts are drawn by the crispy pack: no inline style there either.
    response = client.post(reverse("accounts:sign-up"), {"email": "pas-une-adresse"})
    assert response.status_code == 200
    assert "fr-error-text" in response.content.decode()
    assert_page_obeys_its_policy(response)
    client.force_login(world.beneficiary)
    response = client.post(
        reverse("applications:dossier-budget", args=[world.application.reference]),
        {"requested_1": "beaucoup"},
    )
    assert response.status_code == 200
    assert_page_obeys_its_policy(response)


def test_the_technical_admin_site_gets_the_policy_too(client: Client, world: World) -> None:
    # Django's own admin templates: their scripts are files of our origin ('self'), not inline.
    client.force_login(world.superuser)
    _fetch_all(
        client,
        [reverse("admin:index"), reverse("admin:applications_application_changelist")],
        own_templates=False,
    )


def test_each_response_has_its_own_nonce(client: Client) -> None:
    first = header_nonce(parse_policy(client.get("/").headers["Content-Security-Policy"]))
    second = header_nonce(parse_policy(client.get("/").headers["Content-Security-Policy"]))
    assert first and second and first != second
    assert len(first) >= 22  # 16 random bytes, base64


def test_error_pages_and_redirects_carry_the_policy(client: Client) -> None:
    missing = client.get("/cette-page-n-existe-pas/")
    assert missing.status_code == 404
    assert_strict_policy(missing)
    redirect = client.get(reverse("applications:applicant-home"))
    assert redirect.status_code == 302
    assert_strict_policy(redirect)


def test_htmx_is_configured_for_the_policy(client: Client) -> None:
    # htmx would otherwise inject an inline <style> for its indicators, which the policy refuses.
    html = client.get("/").content.decode()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
    assert config is not None
    # Nor copy an element's `style` attribute onto its swapped copy while settling (tests/browser/test_csp.py).
    assert json.loads(config.group(1)) == {
        "includeIndicatorStyles": False,
        "attributesToSettle": ["class", "width", "height"],
        "allowEval": False,
    }
    assert ".htmx-indicator" in (ROOT / "static" / "css" / "portal.css").read_text(encoding="utf-8")


# --- the other headers, in every environment ----------------------------------------------------


def test_every_environment_sends_the_basic_security_headers(client: Client) -> None:
    response = client.get("/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


# --- production ---------------------------------------------------------------------------------

PRODUCTION_SETTINGS = (
    "DEBUG",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "X_FRAME_OPTIONS",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_NAME",
    "CSRF_COOKIE_DOMAIN",
    "CSRF_COOKIE_PATH",
    "STAFF_SESSION_IDLE_SECONDS",
)
DUMP = f"""
import json
import django
from django.conf import settings
django.setup()
values = {{name: getattr(settings, name) for name in {PRODUCTION_SETTINGS!r}}}
values["CONTENT_SECURITY_POLICY"] = repr(settings.CONTENT_SECURITY_POLICY)
values["MIDDLEWARE"] = settings.MIDDLEWARE
print(json.dumps(values))
"""
# Names the settings read from the environment: none of the caller's may leak into the subprocess.
CONFIG_PREFIXES = ("DJANGO_", "DATABASE_", "CELERY_", "EMAIL_", "CACHE_", "AXES_", "STAFF_")


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(CONFIG_PREFIXES)}
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/x",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "EMAIL_URL": "smtp+tls://u:p@smtp.example.org:587",
            # Explicit, so that a developer's .env cannot change what is tested.
            "DJANGO_SECURE_SSL_REDIRECT": "true",
            "DJANGO_SECURE_HSTS_SECONDS": "31536000",
            "STAFF_SESSION_IDLE_SECONDS": "3600",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", DUMP],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _replayed(production: dict[str, Any]) -> dict[str, Any]:
    values = {name: production[name] for name in PRODUCTION_SETTINGS if name != "DEBUG"}
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


def test_production_keeps_the_policy_and_the_middleware(production: dict[str, Any]) -> None:
    assert production["DEBUG"] is False
    assert production["CONTENT_SECURITY_POLICY"] == repr(settings.CONTENT_SECURITY_POLICY)
    assert production["MIDDLEWARE"] == settings.MIDDLEWARE
    assert production["STAFF_SESSION_IDLE_SECONDS"] == 3600


def test_production_cookies_are_host_only_and_secure(production: dict[str, Any]) -> None:
    # The __Host- prefix is honoured by browsers only with Secure, Path=/ and no Domain.
    for kind in ("SESSION", "CSRF"):
        assert production[f"{kind}_COOKIE_NAME"].startswith("__Host-")
        assert production[f"{kind}_COOKIE_SECURE"] is True
        assert production[f"{kind}_COOKIE_HTTPONLY"] is True
        assert production[f"{kind}_COOKIE_DOMAIN"] is None
        assert production[f"{kind}_COOKIE_PATH"] == "/"


def test_production_headers_on_a_page(client: Client, production: dict[str, Any]) -> None:
    with override_settings(**_replayed(production)):
        response = client.get("/", secure=True)
        assert response.status_code == 200
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert_page_obeys_its_policy(response)
        csrf = response.cookies["__Host-csrftoken"]
        assert csrf["secure"] and csrf["httponly"] and csrf["path"] == "/" and not csrf["domain"]


def test_production_redirects_plain_http(client: Client, production: dict[str, Any]) -> None:
    with override_settings(**_replayed(production)):
        response = client.get("/mentions-legales/")
        assert response.status_code == 301
        assert response.headers["Location"] == "https://testserver/mentions-legales/"
        # Behind the TLS proxy, X-Forwarded-Proto says the request was HTTPS.
        forwarded = client.get("/mentions-legales/", headers={"X-Forwarded-Proto": "https"})
        assert forwarded.status_code == 200
        assert "Strict-Transport-Security" in forwarded.headers


def test_production_session_cookie_after_login(client: Client, production: dict[str, Any]) -> None:
    user = applicant()
    with override_settings(**_replayed(production)):
        response = client.post(
            reverse("accounts:login"), {"username": user.email, "password": PASSWORD}, secure=True
        )
        assert response.status_code == 302
        session = response.cookies["__Host-sessionid"]
        assert session["secure"] and session["httponly"]
        assert session["path"] == "/" and not session["domain"]
        assert session["samesite"] == "Lax"
        assert "sessionid" not in response.cookies
        page = client.get(reverse("applications:applicant-home"), secure=True)
        assert page.status_code == 200
        assert_page_obeys_its_policy(page)


@override_settings(PORTAL_THEME="neutral")
def test_the_neutral_theme_obeys_the_policy_too(client: Client, world: World) -> None:
    _fetch_all(client, [reverse("core:home"), reverse("accounts:login")])
    client.force_login(world.beneficiary)
    _fetch_all(client, [reverse("applications:dossier-detail", args=[world.application.reference])])
