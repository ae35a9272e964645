"""The instructors' exports of their dossier list built in the background (applications.exports)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DossierExport(models.Model):
    """A list of dossiers (CSV or XLSX) too long to stream at once, built by a worker.

    It keeps what the list showed (its query string and the states of its tab), never the dossiers:
    the worker reads them again within its author's scope of the moment. States move only through
    applications.export_jobs.transition; the sweep queues again a job left queued or running.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("en attente")
        RUNNING = "running", _("en cours")
        DONE = "done", _("prêt")
        FAILED = "failed", _("échoué")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("demandé par"), on_delete=models.CASCADE, related_name="+"
    )
    file_format = models.CharField(_("format"), max_length=4, choices=Format.choices)
    # The list's filters as its address carried them, read again by the same form in the worker.
    query = models.TextField(_("filtres de la liste"), blank=True, max_length=4000)
    statuses = models.JSONField(_("états de l'onglet"), default=list)
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(_("lignes écrites"), default=0)
    total = models.PositiveIntegerField(_("lignes à écrire"), default=0)
    # Set when the task could not be handed to the broker; cleared once the sweep has queued it.
    waiting_for_queue = models.BooleanField(_("en attente de la file des tâches"), default=False)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    file_name = models.CharField(_("fichier"), max_length=200, blank=True)
    error = models.TextField(_("erreur"), blank=True)
    created_at = models.DateTimeField(_("demandé le"), default=timezone.now)
    started_at = models.DateTimeField(_("commencé le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("export de dossiers")
        verbose_name_plural = _("exports de dossiers")
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["status", "created_at"], name="applications_export_pending")]
        constraints = [
            models.CheckConstraint(
                condition=Q(done__lte=models.F("total")) | Q(total=0),
                name="applications_export_progress_within_total",
                violation_error_message=_("La progression ne peut pas dépasser le total."),
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | ~Q(file_name=""),
                name="applications_export_done_has_a_file",
                violation_error_message=_("Un export prêt a un fichier."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_file_format_display()} – {self.get_status_display()} ({self.pk})"

    @property
    def percent(self) -> int:
        return min(100, self.done * 100 // self.total) if self.total else 0


class DossierExportChange(models.Model):
    """The log of a dossier export's states: from which to which, when, and the error if any."""

    job = models.ForeignKey(DossierExport, on_delete=models.CASCADE, related_name="changes")
    from_status = models.CharField(_("état précédent"), max_length=10, choices=DossierExport.Status.choices)
    to_status = models.CharField(_("nouvel état"), max_length=10, choices=DossierExport.Status.choices)
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
        verbose_name = _("changement d'état d'un export de dossiers")
        verbose_name_plural = _("historique des exports de dossiers")
        ordering = ("job", "at", "pk")

    def __str__(self) -> str:
        return f"{self.job_id}: {self.from_status} → {self.to_status}"
