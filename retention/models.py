"""What the retention rules have done, one row per (rule, object): the idempotency key.

A monthly run finds its candidates by what has no row yet, so a run stopped half-way, or run
twice, acts on each object once. Rows hold no personal data: a rule's key, a model label, an id.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RetentionAction(models.Model):
    rule = models.CharField(_("règle"), max_length=40)
    target_type = models.CharField(_("type d'objet"), max_length=100)
    # For the inactivity warning: the account's id and the login it counts from, so that a person
    # who logs in again and later falls idle once more is warned again.
    target_id = models.CharField(_("identifiant de l'objet"), max_length=64)
    applied_at = models.DateTimeField(_("appliquée le"), default=timezone.now)

    class Meta:
        verbose_name = _("action de conservation")
        verbose_name_plural = _("actions de conservation")
        ordering = ("-applied_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["rule", "target_type", "target_id"], name="retention_action_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.target_type}#{self.target_id}"
