"""Writes of the read API: tokens issued and revoked (audited), calls logged."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from api.models import ApiCall, ApiToken
from api.selectors import secret_hash

# The secret's visible mark: a leaked token found in a repository or a log is recognisable.
TOKEN_PREFIX = "fdt_"  # noqa: S105 (a marker, not a secret)
# last_used_at is written at most this often per token: a script calling in a loop would
# otherwise update the same row at every call.
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    # Shown once, to the admin who issued it (or printed by the command), never stored.
    secret: str


@transaction.atomic
def api_token_create(*, user: User, name: str, days: int, actor: User | None) -> IssuedToken:
    """Issue a token to `user`, valid `days` days; the secret is returned once, only its hash kept."""
    name = name.strip()
    errors: dict[str, str] = {}
    if not user.is_active:
        errors["user"] = _("Ce compte est désactivé : il ne peut pas recevoir de jeton.")
    if not name:
        errors["name"] = _("Donnez un nom au jeton (l'usage qui en sera fait).")
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        errors["days"] = _("La durée de validité va de 1 à %(max)d jours.") % {
            "max": settings.API_TOKEN_MAX_DAYS
        }
    if errors:
        raise ValidationError(errors)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken(
        user=user,
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        secret_hash=secret_hash(secret),
        created_by=actor,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    token.full_clean()
    token.save()
    audit_record(
        actor=actor,
        action="api_token.create",
        target=token,
        data={"user": user.pk, "name": name, "expires_at": token.expires_at.isoformat()},
    )
    return IssuedToken(token=token, secret=secret)


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None) -> ApiToken:
    """Revoke a token at once; revoking it again changes nothing and writes nothing."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.revoked_by = actor
    token.full_clean()
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(actor=actor, action="api_token.revoke", target=token, data={"user": token.user_id})
    return token


@transaction.atomic
def api_call_record(*, token: ApiToken, method: str, path: str, status: int) -> ApiCall:
    """Log one call made with `token` and note its last use.

    The log row is the audit of the call (api.ApiCall, not AuditEvent: see its docstring). The
    last use is a conditional UPDATE, never a row lock: concurrent calls of one token never wait
    on each other, and at most one write a minute reaches the token's row.
    """
    now = timezone.now()
    call = ApiCall(token=token, at=now, method=method[:8], path=path[:255], status=status)
    call.full_clean(exclude=["token"])
    call.save()
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_GRANULARITY)
    ).update(last_used_at=now)
    return call


@transaction.atomic
def api_calls_prune(*, before: datetime | None = None) -> int:
    """Delete the log rows older than the retention; returns how many went."""
    before = before or timezone.now() - timedelta(days=settings.API_CALL_RETENTION_DAYS)
    deleted, _detail = ApiCall.objects.filter(at__lt=before).delete()
    return deleted
