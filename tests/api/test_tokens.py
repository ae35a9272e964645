"""API tokens: issued (page, command), refused once expired or revoked, rate-limited, every call logged."""

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from api.models import ApiCall, ApiToken
from api.ratelimit import rate_limit_hit
from api.selectors import secret_hash
from api.services import api_calls_prune, api_token_create, api_token_revoke
from core.client_address import ipware_settings
from tests.factories import applicant, programme_admin

pytestmark = pytest.mark.django_db


def bearer(secret: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_the_command_prints_a_token_that_opens_the_api() -> None:
    user = applicant(email="data@exemple.fr")
    out, err = StringIO(), StringIO()
    call_command(
        "api_token_create",
        "--email",
        "DATA@exemple.fr",
        "--name",
        "Tableur",
        "--days",
        "7",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().strip()
    assert secret.startswith("fdt_")
    token = ApiToken.objects.get(user=user)
    # Only its hash is kept.
    assert token.secret_hash == secret_hash(secret) and secret not in str(token.__dict__)
    assert token.name == "Tableur"
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)
    assert "Tableur" in err.getvalue()
    assert bearer(secret).get("/api/v1/dossiers").status_code == 200
    assert AuditEvent.objects.filter(action="api_token.create", target_id=str(token.pk), actor=None).exists()


def test_the_command_refuses_an_unknown_email() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Aucun compte"):
        call_command("api_token_create", "--email", "nobody@exemple.fr", "--name", "X", stdout=StringIO())
    assert not ApiToken.objects.exists()


def test_an_expired_a_revoked_or_a_deactivated_users_token_is_refused() -> None:
    admin = programme_admin()
    expired = api_token_create(user=applicant(), name="A", days=1, actor=admin)
    ApiToken.objects.filter(pk=expired.token.pk).update(
        created_at=timezone.now() - timedelta(days=3), expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked = api_token_create(user=applicant(), name="B", days=30, actor=admin)
    assert bearer(revoked.secret).get("/api/v1/dossiers").status_code == 200
    api_token_revoke(token=revoked.token, actor=admin)
    owner = applicant()
    deactivated = api_token_create(user=owner, name="C", days=30, actor=admin)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    for secret in (expired.secret, revoked.secret, deactivated.secret, "fdt_unknown", expired.secret[:-1]):
        response = bearer(secret).get("/api/v1/dossiers")
        assert response.status_code == 401, secret
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "révoqué" in response.json()["detail"]
    assert (
        AuditEvent.objects.filter(
            action="api_token.revoke", target_id=str(revoked.token.pk), actor=admin
        ).count()
        == 1
    )
    # Revoking again changes nothing and writes no second audit row.
    api_token_revoke(token=revoked.token, actor=admin)
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1


def test_a_token_needs_a_name_and_a_life_within_the_bound(settings: Any) -> None:
    from django.core.exceptions import ValidationError

    settings.API_TOKEN_MAX_DAYS = 30
    with pytest.raises(ValidationError) as refused:
        api_token_create(user=applicant(), name="  ", days=31, actor=None)
    assert set(refused.value.error_dict) == {"name", "days"}
    assert not ApiToken.objects.exists() and not AuditEvent.objects.filter(action="api_token.create").exists()


def test_each_call_is_logged_by_token_and_its_last_use_noted() -> None:
    issued = api_token_create(user=applicant(), name="A", days=30, actor=None)
    assert issued.token.last_used_at is None
    client = bearer(issued.secret)
    assert client.get("/api/v1/dossiers").status_code == 200
    assert client.get("/api/v1/dossiers/UNKNOWN").status_code == 404
    assert client.get("/api/v1/calls").status_code == 200  # public: no token needed, none logged
    rows = list(ApiCall.objects.order_by("pk").values_list("token", "method", "path", "status"))
    assert rows == [
        (issued.token.pk, "GET", "/api/v1/dossiers", 200),
        (issued.token.pk, "GET", "/api/v1/dossiers/UNKNOWN", 404),
    ]
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None
    # Calls without a usable token are tied to no token: nothing logged.
    assert Client().get("/api/v1/dossiers").status_code == 401
    assert ApiCall.objects.count() == 2


def test_a_token_over_its_rate_gets_429_with_retry_after(settings: Any) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    issued = api_token_create(user=applicant(), name="A", days=30, actor=None)
    client = bearer(issued.secret)
    codes = [client.get("/api/v1/dossiers").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/dossiers")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "réessayez" in response.json()["detail"]
    # Another token has its own count.
    other = api_token_create(user=applicant(), name="B", days=30, actor=None)
    assert bearer(other.secret).get("/api/v1/dossiers").status_code == 200
    # The refused calls are logged too.
    assert list(
        ApiCall.objects.filter(token=issued.token).values_list("status", flat=True).order_by("pk")
    ) == [
        200,
        200,
        200,
        429,
        429,
    ]


def test_public_endpoints_count_per_client_address_read_as_the_login_lockout_reads_it(settings: Any) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    balancer = {"REMOTE_ADDR": "10.9.8.7"}

    def codes(client: Client, forwarded: str, n: int) -> list[int]:
        return [
            client.get("/api/v1/calls", HTTP_X_FORWARDED_FOR=forwarded, **balancer).status_code
            for _ in range(n)
        ]

    # No proxy declared: X-Forwarded-For is the client's own word, and ignored; the peer counts.
    settings.AXES_IPWARE_PROXY_COUNT, settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ipware_settings(0)
    client = Client()
    assert codes(client, "203.0.113.1", 2) == [200, 200]
    assert codes(client, "203.0.113.2", 1) == [429]
    # Behind one declared proxy (the balancer, which writes the client's address in the header):
    # each client it forwards has its own count.
    settings.AXES_IPWARE_PROXY_COUNT, settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ipware_settings(1)
    assert codes(client, "198.51.100.1", 3) == [200, 200, 429]
    assert codes(client, "198.51.100.2", 1) == [200]


def test_the_rate_window_turns_each_minute() -> None:
    assert rate_limit_hit("k", limit=1, now=120.0) is None
    assert rate_limit_hit("k", limit=1, now=150.0) == 30
    assert rate_limit_hit("k", limit=1, now=180.0) is None


def test_the_admin_issues_a_token_shown_once_then_revokes_it() -> None:
    admin = programme_admin()
    user = applicant(email="tableur@exemple.fr")
    client = Client()
    client.force_login(admin)
    url = reverse("api-tokens:token-list")
    response = client.post(url, {"email": "tableur@exemple.fr", "name": "Tableau régional", "days": "30"})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=user)
    page = response.content.decode()
    [secret] = re.findall(r"fdt_[A-Za-z0-9_-]{40,}", page)
    assert token.secret_hash == secret_hash(secret)
    assert "no-store" in response["Cache-Control"]
    assert "ne sera plus jamais affiché" in page
    # The list shows it, never its secret again; then its last use.
    bearer(secret).get("/api/v1/dossiers")
    listing = client.get(url).content.decode()
    assert "Tableau régional" in listing and secret not in listing and "jamais" not in listing
    response = client.post(reverse("api-tokens:token-revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == admin
    assert bearer(secret).get("/api/v1/dossiers").status_code == 401
    assert list(AuditEvent.objects.filter(target_id=str(token.pk)).values_list("action", "actor")) == [
        ("api_token.revoke", admin.pk),
        ("api_token.create", admin.pk),
    ]


def test_the_admins_form_says_what_is_wrong_and_saves_nothing() -> None:
    client = Client()
    client.force_login(programme_admin())
    response = client.post(
        reverse("api-tokens:token-list"), {"email": "inconnu@exemple.fr", "name": "", "days": "0"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Aucun compte n&#x27;a cette adresse." in page
    assert "Ce champ est obligatoire." in page
    assert not ApiToken.objects.exists()


def test_old_calls_are_pruned(settings: Any) -> None:
    settings.API_CALL_RETENTION_DAYS = 10
    issued = api_token_create(user=applicant(), name="A", days=30, actor=None)
    old = ApiCall.objects.create(token=issued.token, method="GET", path="/x", status=200)
    ApiCall.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=11))
    recent = ApiCall.objects.create(token=issued.token, method="GET", path="/y", status=200)
    assert api_calls_prune() == 1
    assert list(ApiCall.objects.values_list("pk", flat=True)) == [recent.pk]
