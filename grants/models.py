"""Grants: what an award commits, paid in yearly tranches."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.models import Application, Call


class Grant(models.Model):
    """The grant an award creates: one per dossier, its amount committed against the call."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("En cours")
        CANCELLED = "cancelled", _("Annulée")

    application = models.ForeignKey(
        Application, verbose_name=_("dossier"), on_delete=models.PROTECT, related_name="grants"
    )
    call = models.ForeignKey(Call, verbose_name=_("appel"), on_delete=models.PROTECT, related_name="grants")
    amount = models.DecimalField(_("subvention de fonctionnement"), max_digits=14, decimal_places=2)
    bonus = models.DecimalField(
        _("bonus fabrique numérique"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    awarded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    awarded_at = models.DateTimeField(_("attribuée le"), default=timezone.now)

    class Meta:
        verbose_name = _("subvention")
        verbose_name_plural = _("subventions")
        ordering = ("-awarded_at",)
        constraints = [
            # One grant per dossier; a cancelled one (dossier reopened) stays on record beside it.
            models.UniqueConstraint(
                fields=["application"],
                condition=Q(status="active"),
                name="grants_one_active_grant_per_dossier",
                violation_error_message=_("Ce dossier a déjà une subvention."),
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(bonus__gte=0),
                name="grants_grant_positive_amount",
                violation_error_message=_("Le montant de la subvention doit être positif."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application.reference} – {self.amount} €"

    @property
    def committed(self) -> Decimal:
        """What the grant takes from the envelope: the operating grant and the FNT bonus."""
        return self.amount + self.bonus


class Tranche(models.Model):
    """One yearly instalment of a grant."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Programmée")
        REQUESTED = "requested", _("Demandée")
        VALIDATED = "validated", _("Validée")
        PAID = "paid", _("Versée")
        CANCELLED = "cancelled", _("Annulée")

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="tranches")
    year_index = models.PositiveSmallIntegerField(_("année"))
    amount = models.DecimalField(_("montant"), max_digits=14, decimal_places=2)
    due_date = models.DateField(_("échéance prévue"), null=True, blank=True)
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)

    class Meta:
        verbose_name = _("tranche")
        verbose_name_plural = _("tranches")
        ordering = ("grant", "year_index")
        constraints = [
            models.UniqueConstraint(fields=["grant", "year_index"], name="grants_one_tranche_per_year"),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(year_index__gte=1),
                name="grants_tranche_valid",
                violation_error_message=_("Une tranche a un montant positif et une année à partir de 1."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grant.application.reference} – année {self.year_index}"
