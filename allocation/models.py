"""Allocation scenarios: a named selection of dossiers with their amounts, for a call and a wave.

A scenario is built by hand (from the ranked list) or computed by the solver
(`allocation.solver`); a computed scenario is a small state machine (`allocation.workflow`):
queued → running → done or failed, each move logged in `ScenarioChange`, as the background
exports are.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.models import Application, Call, Wave

OBJECTIVE_CHOICES = [
    ("coverage", _("départements couverts")),
    ("priority", _("dossiers en zone prioritaire")),
    ("score", _("total des notes")),
]


class Scenario(models.Model):
    class Kind(models.TextChoices):
        MANUAL = "manual", _("composé à la main")
        COMPUTED = "computed", _("calculé")

    class Status(models.TextChoices):
        QUEUED = "queued", _("en attente")
        RUNNING = "running", _("en cours de calcul")
        DONE = "done", _("prêt")
        FAILED = "failed", _("échoué")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    call = models.ForeignKey(Call, verbose_name=_("appel"), on_delete=models.CASCADE, related_name="+")
    wave = models.ForeignKey(
        Wave, verbose_name=_("vague"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(_("nom"), max_length=150)
    kind = models.CharField(_("nature"), max_length=10, choices=Kind.choices)
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    # The parameters of a computed scenario, as the user set them.
    objective_order = models.JSONField(_("ordre des objectifs"), default=list, blank=True)
    min_score = models.DecimalField(
        _("note minimale"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    target = models.PositiveIntegerField(_("nombre de lauréats visé"), null=True, blank=True)
    reducible = models.BooleanField(_("montants réductibles"), default=False)
    # The figures of the selection, written with its items.
    total = models.DecimalField(_("total engagé"), max_digits=14, decimal_places=2, default=Decimal("0"))
    departements_covered = models.PositiveIntegerField(_("départements couverts"), default=0)
    priority_zone_dossiers = models.PositiveIntegerField(_("dossiers en zone prioritaire"), default=0)
    score_sum = models.DecimalField(
        _("total des notes"), max_digits=10, decimal_places=1, default=Decimal("0")
    )
    optimal = models.BooleanField(_("optimum prouvé"), null=True, blank=True)
    gap = models.FloatField(_("écart à l'optimum"), null=True, blank=True)
    solve_seconds = models.FloatField(_("durée du calcul (s)"), null=True, blank=True)
    candidate_count = models.PositiveIntegerField(_("dossiers candidats"), default=0)
    error = models.TextField(_("erreur"), blank=True)
    waiting_for_queue = models.BooleanField(_("en attente de la file des tâches"), default=False)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("créé par"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    started_at = models.DateTimeField(_("commencé le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("scénario d'attribution")
        verbose_name_plural = _("scénarios d'attribution")
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["status", "created_at"], name="allocation_scenario_pending")]
        constraints = [
            models.UniqueConstraint(fields=["call", "name"], name="allocation_scenario_unique_name"),
            models.CheckConstraint(
                condition=Q(kind="computed") | Q(status="done"),
                name="allocation_scenario_manual_is_done",
                violation_error_message=_("Un scénario composé à la main est toujours prêt."),
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0) & (Q(target__isnull=True) | Q(target__gte=1)),
                name="allocation_scenario_figures",
                violation_error_message=_("Le total est positif et l'objectif d'au moins un lauréat."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def gap_percent(self) -> Decimal | None:
        """The relative gap to the optimum as a percentage, for « 1,25 % »."""
        return None if self.gap is None else Decimal(str(self.gap)) * 100


class ScenarioItem(models.Model):
    """One dossier of a scenario, with the amount it would be awarded (the FNT bonus apart)."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="items")
    application = models.ForeignKey(
        Application, verbose_name=_("dossier"), on_delete=models.CASCADE, related_name="+"
    )
    amount = models.DecimalField(_("montant"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("dossier d'un scénario")
        verbose_name_plural = _("dossiers d'un scénario")
        ordering = ("scenario", "pk")
        constraints = [
            models.UniqueConstraint(fields=["scenario", "application"], name="allocation_item_once"),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="allocation_item_amount_positive",
                violation_error_message=_("Le montant doit être positif."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scenario_id}: {self.application_id}"


class ScenarioPin(models.Model):
    """A dossier the committee has fixed in or out of a computed scenario."""

    class Choice(models.TextChoices):
        IN = "in", _("retenu d'office")
        OUT = "out", _("écarté d'office")

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="pins")
    application = models.ForeignKey(
        Application, verbose_name=_("dossier"), on_delete=models.CASCADE, related_name="+"
    )
    choice = models.CharField(_("choix"), max_length=3, choices=Choice.choices)

    class Meta:
        verbose_name = _("dossier fixé")
        verbose_name_plural = _("dossiers fixés")
        constraints = [
            models.UniqueConstraint(fields=["scenario", "application"], name="allocation_pin_once"),
        ]

    def __str__(self) -> str:
        return f"{self.scenario_id}: {self.application_id} {self.choice}"


class ScenarioChange(models.Model):
    """The log of a computed scenario's states."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="changes")
    from_status = models.CharField(_("état précédent"), max_length=10, choices=Scenario.Status.choices)
    to_status = models.CharField(_("nouvel état"), max_length=10, choices=Scenario.Status.choices)
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("date"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("changement d'état d'un scénario")
        verbose_name_plural = _("historique des scénarios")
        ordering = ("scenario", "at", "pk")

    def __str__(self) -> str:
        return f"{self.scenario_id}: {self.from_status} → {self.to_status}"
