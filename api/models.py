"""The read API's tokens and the log of the calls made with them."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    """A named, expiring, revocable bearer token, issued by a programme admin to one user.

    The token sees what its user sees (the same scoped querysets as the pages). Only the SHA-256
    of the secret is kept: the secret is 256 random bits, so a fast hash cannot be reversed by
    guessing (a password hasher's slowness protects low-entropy secrets, not these), and the
    lookup at each call is one indexed equality. The secret is shown once, when issued.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.PROTECT,
        related_name="api_tokens",
    )
    name = models.CharField(_("nom"), max_length=100)
    # The first characters of the secret, shown in lists so that a user can tell their tokens apart.
    prefix = models.CharField(_("début du jeton"), max_length=12)
    secret_hash = models.CharField(_("empreinte du jeton"), max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    expires_at = models.DateTimeField(_("expire le"))
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True)

    class Meta:
        verbose_name = _("jeton d'API")
        verbose_name_plural = _("jetons d'API")
        ordering = ("-created_at", "-pk")
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="api_token_expires_after_creation",
                violation_error_message=_("Un jeton expire après sa création."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class ApiCall(models.Model):
    """One call made with a token: a narrow, append-only row (no JSON, no text beyond the path).

    The API may be called tens of thousands of times a day by a script, so its calls are not
    AuditEvent rows (which carry a JSON payload and an actor index read by the admin's log): this
    table is read by token and date only, and pruned after API_CALL_RETENTION_DAYS by a beat task.
    """

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="calls")
    at = models.DateTimeField(_("date"), default=timezone.now)
    method = models.CharField(_("méthode"), max_length=8)
    path = models.CharField(_("adresse"), max_length=255)
    status = models.PositiveSmallIntegerField(_("code de réponse"))

    class Meta:
        verbose_name = _("appel à l'API")
        verbose_name_plural = _("appels à l'API")
        ordering = ("-at", "-pk")
        indexes = [
            models.Index(fields=["token", "at"], name="api_call_token_at"),
            models.Index(fields=["at"], name="api_call_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.method} {self.path} {self.status}"
