"""Grants: what an award commits, paid in yearly tranches."""

import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.models import Application, Call
from core.badges import Badge
from core.formatting import format_money


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
        return f"{self.application.reference} – {format_money(self.amount)}"

    @property
    def committed(self) -> Decimal:
        """What the grant takes from the envelope: the operating grant and the FNT bonus."""
        return self.amount + self.bonus


class EstablishmentCheck(models.TextChoices):
    NONE = "", _("Non demandée")
    OK = "ok", _("Établissement vérifié")
    CHANGED = "changed", _("Établissement modifié")
    CLOSED = "closed", _("Établissement fermé")
    NOT_FOUND = "not_found", _("Établissement introuvable")
    UNVERIFIED = "unverified", _("Non vérifié")

    @property
    def is_alert(self) -> bool:
        cls = type(self)
        return self in (cls.CHANGED, cls.CLOSED, cls.NOT_FOUND, cls.UNVERIFIED)


class Tranche(models.Model):
    """One yearly instalment of a grant: scheduled, requested, validated, paid (or cancelled).

    The State pays within 60 days of the request (loi 2021-875): `pay_by` is that deadline.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Programmée")
        REQUESTED = "requested", _("Demandée")
        VALIDATED = "validated", _("Validée")
        PAID = "paid", _("Versée")
        CANCELLED = "cancelled", _("Annulée")

        @property
        def badge(self) -> Badge:
            status = type(self)
            return {
                status.SCHEDULED: Badge.NEUTRAL,
                status.REQUESTED: Badge.NEW,
                status.VALIDATED: Badge.INFO,
                status.PAID: Badge.SUCCESS,
                status.CANCELLED: Badge.ERROR,
            }[self]

    PAYMENT_DELAY_DAYS = 60

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="tranches")
    year_index = models.PositiveSmallIntegerField(_("année"))
    amount = models.DecimalField(_("montant"), max_digits=14, decimal_places=2)
    due_date = models.DateField(_("échéance prévue"), null=True, blank=True)
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    requested_at = models.DateTimeField(_("demandée le"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment_request = models.ForeignKey(
        "notifications.Document",
        verbose_name=_("demande de paiement"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    validated_at = models.DateTimeField(_("validée le"), null=True, blank=True)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paid_on = models.DateField(_("versée le"), null=True, blank=True)
    payment_reference = models.CharField(_("référence du paiement"), max_length=100, blank=True)
    paid_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancel_reason = models.TextField(_("motif d'annulation"), blank=True)
    # The lead structure's establishment looked up again in the State's directory when the tranche
    # is validated (grants.services.payments.tranche_validate): kept on the tranche so that the
    # instruction page shows it for as long as the tranche lives, not just once.
    establishment_check = models.CharField(
        _("vérification de l'établissement"),
        max_length=10,
        choices=EstablishmentCheck.choices,
        blank=True,
        default="",
    )
    establishment_check_note = models.TextField(_("écarts constatés"), blank=True)
    establishment_checked_at = models.DateTimeField(_("établissement vérifié le"), null=True, blank=True)

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
            models.CheckConstraint(
                condition=~Q(status="paid") | (Q(paid_on__isnull=False) & ~Q(payment_reference="")),
                name="grants_paid_tranche_has_date_and_reference",
                violation_error_message=_("Une tranche versée a une date et une référence de paiement."),
            ),
            models.CheckConstraint(
                condition=Q(status="scheduled") | Q(status="cancelled") | Q(requested_at__isnull=False),
                name="grants_requested_tranche_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grant.application.reference} – année {self.year_index}"

    @property
    def pay_by(self) -> date | None:
        if self.requested_at is None:
            return None
        return timezone.localdate(self.requested_at) + timedelta(days=self.PAYMENT_DELAY_DAYS)

    @property
    def is_late(self) -> bool:
        deadline = self.pay_by
        return (
            deadline is not None
            and self.status in (self.Status.REQUESTED, self.Status.VALIDATED)
            and timezone.localdate() > deadline
        )


class Agreement(models.Model):
    """The grant agreement (convention), mandatory above 23 000 € a year (loi 2000-321, art. 10)."""

    class Status(models.TextChoices):
        AWAITING_SIGNATURE = "awaiting_signature", _("En attente de signature")
        SIGNED = "signed", _("Signée")
        ACTIVE = "active", _("En cours")
        COMPLETED = "completed", _("Soldée")
        TERMINATED = "terminated", _("Résiliée")
        # The award it carried out was reopened by an admin before any payment: void.
        CANCELLED = "cancelled", _("Annulée")

        @property
        def badge(self) -> Badge:
            status = type(self)
            return {
                status.AWAITING_SIGNATURE: Badge.NEW,
                status.ACTIVE: Badge.SUCCESS,
                status.TERMINATED: Badge.ERROR,
                status.CANCELLED: Badge.ERROR,
            }.get(self, Badge.INFO)

    grant = models.OneToOneField(Grant, on_delete=models.PROTECT, related_name="agreement")
    number = models.CharField(_("numéro"), max_length=30, unique=True)
    status = models.CharField(
        _("état"), max_length=20, choices=Status.choices, default=Status.AWAITING_SIGNATURE, db_index=True
    )
    document = models.ForeignKey(
        "notifications.Document",
        verbose_name=_("convention"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    commitment_number = models.CharField(
        _("numéro d'engagement juridique"), max_length=50, blank=True, help_text=_("Saisi par le programme.")
    )
    signed_copy = models.FileField(_("exemplaire signé"), upload_to="conventions/%Y/", blank=True)
    signed_copy_sha256 = models.CharField(_("empreinte de l'exemplaire signé"), max_length=64, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acceptée par"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    signed_at = models.DateTimeField(_("signée le"), null=True, blank=True)
    starts_on = models.DateField(_("début"), null=True, blank=True)
    ends_on = models.DateField(_("fin"), null=True, blank=True)
    terminated_at = models.DateTimeField(_("résiliée le"), null=True, blank=True)
    termination_reason = models.TextField(_("motif de résiliation"), blank=True)
    clawback_amount = models.DecimalField(
        _("montant à reverser"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)

    class Meta:
        verbose_name = _("convention")
        verbose_name_plural = _("conventions")
        ordering = ("-created_at",)
        indexes = [
            # The list of agreements, newest first: a page read from the index, not a sort of all.
            models.Index(fields=["-created_at", "-id"], name="grants_agreement_newest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["awaiting_signature", "cancelled"]) | Q(signed_at__isnull=False),
                name="grants_agreement_signed_has_date",
            ),
            models.CheckConstraint(condition=Q(clawback_amount__gte=0), name="grants_clawback_non_negative"),
        ]

    def __str__(self) -> str:
        return self.number


class ReportKind(models.TextChoices):
    ACTIVITY = "activity", _("Rapport d'activité")
    FINANCIAL = "financial", _("Compte rendu financier")


class Report(models.Model):
    """A yearly report of the beneficiary, accepted or sent back by the instruction team.

    Tranches after the first are requested only once the previous year's activity report and
    compte rendu financier are accepted.
    """

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Déposé")
        ACCEPTED = "accepted", _("Accepté")
        REJECTED = "rejected", _("À reprendre")

        @property
        def badge(self) -> Badge:
            status = type(self)
            return {status.ACCEPTED: Badge.SUCCESS, status.REJECTED: Badge.ERROR}.get(self, Badge.NEW)

    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="reports")
    year_index = models.PositiveSmallIntegerField(_("année"))
    kind = models.CharField(_("type"), max_length=10, choices=ReportKind.choices)
    file = models.FileField(_("fichier"), upload_to="rapports/%Y/")
    original_name = models.CharField(_("nom du fichier"), max_length=200)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("déposé le"), default=timezone.now)
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("examiné le"), null=True, blank=True)
    review_note = models.TextField(_("observation"), blank=True)

    class Meta:
        verbose_name = _("rapport annuel")
        verbose_name_plural = _("rapports annuels")
        ordering = ("grant", "year_index", "kind", "uploaded_at")
        constraints = [
            # One live report per year and kind: a rejected one may be replaced.
            models.UniqueConstraint(
                fields=["grant", "year_index", "kind"],
                condition=~Q(status="rejected"),
                name="grants_one_live_report_per_year_and_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grant.application.reference} – {self.get_kind_display()} année {self.year_index}"


class Amendment(models.Model):
    """An amendment (avenant) changing a grant's amount, under the same envelope lock as awards."""

    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="amendments")
    number = models.PositiveSmallIntegerField(_("numéro"))
    previous_amount = models.DecimalField(_("montant précédent"), max_digits=14, decimal_places=2)
    new_amount = models.DecimalField(_("nouveau montant"), max_digits=14, decimal_places=2)
    yearly = models.JSONField(_("nouvelle répartition"), default=list)
    reason = models.TextField(_("motif"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("le"), default=timezone.now)
    document = models.ForeignKey(
        "notifications.Document", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("avenant")
        verbose_name_plural = _("avenants")
        ordering = ("grant", "number")
        constraints = [
            models.UniqueConstraint(fields=["grant", "number"], name="grants_amendment_number_once"),
        ]

    def __str__(self) -> str:
        return f"{self.grant.application.reference} – avenant {self.number}"


class EnvelopeSnapshot(models.Model):
    """The envelope of a call as it stood on a day, kept by a daily beat task."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField(_("jour"))
    envelope = models.DecimalField(_("enveloppe"), max_digits=14, decimal_places=2)
    committed = models.DecimalField(_("engagé"), max_digits=14, decimal_places=2)
    paid = models.DecimalField(_("versé"), max_digits=14, decimal_places=2)
    laureates = models.PositiveIntegerField(_("lauréats"))

    class Meta:
        verbose_name = _("relevé de l'enveloppe")
        verbose_name_plural = _("relevés de l'enveloppe")
        ordering = ("call", "day")
        constraints = [models.UniqueConstraint(fields=["call", "day"], name="grants_one_snapshot_a_day")]

    def __str__(self) -> str:
        return f"{self.call} {self.day}"


class ExportJob(models.Model):
    """A budget workbook (XLSX) to build in the background, and how far its build has gone.

    A row rather than a cache entry: asking for a workbook is a write that must survive a cache or
    broker outage. States move only through grants.export_jobs.transition (its table lists the
    moves); a job left queued (the broker was down) or running (its worker died) is queued again by
    the periodic sweep.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("en attente")
        RUNNING = "running", _("en cours")
        DONE = "done", _("prêt")
        FAILED = "failed", _("échoué")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    call = models.ForeignKey(Call, verbose_name=_("appel"), on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("demandé par"), on_delete=models.PROTECT, related_name="+"
    )
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
        verbose_name = _("export en arrière-plan")
        verbose_name_plural = _("exports en arrière-plan")
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["status", "created_at"], name="grants_exportjob_pending")]
        constraints = [
            models.CheckConstraint(
                condition=Q(done__lte=models.F("total")) | Q(total=0),
                name="grants_exportjob_progress_within_total",
                violation_error_message=_("La progression ne peut pas dépasser le total."),
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | ~Q(file_name=""),
                name="grants_exportjob_done_has_a_file",
                violation_error_message=_("Un export prêt a un fichier."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call} – {self.get_status_display()} ({self.pk})"

    @property
    def percent(self) -> int:
        return min(100, self.done * 100 // self.total) if self.total else 0


class ExportJobChange(models.Model):
    """The log of an export job's states: from which to which, when, and the error if any."""

    job = models.ForeignKey(ExportJob, on_delete=models.CASCADE, related_name="changes")
    from_status = models.CharField(_("état précédent"), max_length=10, choices=ExportJob.Status.choices)
    to_status = models.CharField(_("nouvel état"), max_length=10, choices=ExportJob.Status.choices)
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("date"), default=timezone.now)
    # Who moved the job; empty when the portal did (the worker, the sweep): see `actor_label`.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("changement d'état d'un export")
        verbose_name_plural = _("historique des exports")
        ordering = ("job", "at", "pk")

    def __str__(self) -> str:
        return f"{self.job_id}: {self.from_status} → {self.to_status} ({self.actor_label})"

    @property
    def actor_label(self) -> str:
        """Who made the change: a person's e-mail, or « système » for the worker and the sweep."""
        return self.actor.email if self.actor_id and self.actor else str(_("système"))


class MoneyStatusChange(models.Model):
    """What the money machines' log rows share: who moved the row, when, from which state to which.

    Written by the funnels of `grants.workflow` alone, in the move's transaction.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("date"), default=timezone.now)

    class Meta:
        abstract = True

    @property
    def actor_label(self) -> str:
        return self.actor.email if self.actor_id and self.actor else str(_("système"))


class AgreementStatusChange(MoneyStatusChange):
    """The history of an agreement: signed, activated, completed, terminated or cancelled."""

    agreement = models.ForeignKey(
        Agreement, verbose_name=_("convention"), on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(_("état précédent"), max_length=20, choices=Agreement.Status.choices)
    to_status = models.CharField(_("nouvel état"), max_length=20, choices=Agreement.Status.choices)

    class Meta:
        verbose_name = _("changement d'état d'une convention")
        verbose_name_plural = _("historique des conventions")
        ordering = ("agreement", "at", "pk")

    def __str__(self) -> str:
        return f"{self.agreement_id}: {self.from_status} → {self.to_status}"


class TrancheStatusChange(MoneyStatusChange):
    """The history of a tranche: requested, validated, paid or cancelled."""

    tranche = models.ForeignKey(
        Tranche, verbose_name=_("tranche"), on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(_("état précédent"), max_length=10, choices=Tranche.Status.choices)
    to_status = models.CharField(_("nouvel état"), max_length=10, choices=Tranche.Status.choices)

    class Meta:
        verbose_name = _("changement d'état d'une tranche")
        verbose_name_plural = _("historique des tranches")
        ordering = ("tranche", "at", "pk")

    def __str__(self) -> str:
        return f"{self.tranche_id}: {self.from_status} → {self.to_status}"


class GrantStatusChange(MoneyStatusChange):
    """The history of a grant: cancelled when the award it carries out is reopened."""

    grant = models.ForeignKey(
        Grant, verbose_name=_("subvention"), on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(_("état précédent"), max_length=10, choices=Grant.Status.choices)
    to_status = models.CharField(_("nouvel état"), max_length=10, choices=Grant.Status.choices)

    class Meta:
        verbose_name = _("changement d'état d'une subvention")
        verbose_name_plural = _("historique des subventions")
        ordering = ("grant", "at", "pk")

    def __str__(self) -> str:
        return f"{self.grant_id}: {self.from_status} → {self.to_status}"


class ReportStatusChange(MoneyStatusChange):
    """The history of a yearly report: accepted, or sent back to the beneficiary with a note.

    A report filed again while still « déposé » replaces the row, which has no move yet: nothing
    logged is lost with it.
    """

    report = models.ForeignKey(
        Report, verbose_name=_("rapport"), on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(_("état précédent"), max_length=10, choices=Report.Status.choices)
    to_status = models.CharField(_("nouvel état"), max_length=10, choices=Report.Status.choices)

    class Meta:
        verbose_name = _("changement d'état d'un rapport annuel")
        verbose_name_plural = _("historique des rapports annuels")
        ordering = ("report", "at", "pk")

    def __str__(self) -> str:
        return f"{self.report_id}: {self.from_status} → {self.to_status}"


class SubEnvelope(models.Model):
    """A part of a call's envelope delegated to a région, or to a département within a région.

    A région's row covers every dossier of its départements; a département's row (its région's
    row must exist) covers that département's dossiers and counts in its région's too. The
    counters are written by `grants.services.envelope` only, under the call's lock: what is
    committed (amount and FNT bonus of the live tranches, as the call's counter) and, on a région's
    row, what it delegated to its départements. CHECK constraints hold each row's rules; the sum
    of the régions' amounts under the call's envelope is held by the service under that lock.
    """

    call = models.ForeignKey(
        Call, verbose_name=_("appel"), on_delete=models.CASCADE, related_name="sub_envelopes"
    )
    region = models.ForeignKey(
        "fabriques.Region", verbose_name=_("région"), on_delete=models.PROTECT, related_name="+"
    )
    departement = models.ForeignKey(
        "fabriques.Departement",
        verbose_name=_("département"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    amount = models.DecimalField(_("montant délégué"), max_digits=14, decimal_places=2)
    committed_amount = models.DecimalField(
        _("montant engagé"), max_digits=14, decimal_places=2, default=Decimal("0"), editable=False
    )
    delegated_amount = models.DecimalField(
        _("montant délégué aux départements"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0"),
        editable=False,
    )
    updated_at = models.DateTimeField(_("modifiée le"), default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("enveloppe déléguée")
        verbose_name_plural = _("enveloppes déléguées")
        ordering = ("call", "region", "departement")
        constraints = [
            models.UniqueConstraint(
                fields=["call", "region"],
                condition=Q(departement__isnull=True),
                name="grants_one_sub_envelope_per_region",
                violation_error_message=_("Cette région a déjà une enveloppe déléguée."),
            ),
            models.UniqueConstraint(
                fields=["call", "departement"],
                condition=Q(departement__isnull=False),
                name="grants_one_sub_envelope_per_departement",
                violation_error_message=_("Ce département a déjà une enveloppe déléguée."),
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0)
                & Q(committed_amount__gte=0)
                & Q(committed_amount__lte=models.F("amount")),
                name="grants_sub_envelope_never_overcommitted",
                violation_error_message=_("Les engagements ne peuvent pas dépasser l'enveloppe déléguée."),
            ),
            # What a région delegated to its départements fits in it; a département delegates nothing.
            models.CheckConstraint(
                condition=Q(delegated_amount__gte=0)
                & Q(delegated_amount__lte=models.F("amount"))
                & (Q(departement__isnull=True) | Q(delegated_amount=0)),
                name="grants_sub_envelope_delegation_fits",
                violation_error_message=_(
                    "Les enveloppes des départements ne peuvent pas dépasser celle de leur région."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call_id} – {self.departement_id or self.region_id} – {format_money(self.amount)}"

    @property
    def remaining_amount(self) -> Decimal:
        return self.amount - self.committed_amount


# The committee sessions' models live in their own module; imported here so that Django registers them.
from grants.models_committees import CommitteeItem as CommitteeItem  # noqa: E402
from grants.models_committees import CommitteeMember as CommitteeMember  # noqa: E402
from grants.models_committees import CommitteeSession as CommitteeSession  # noqa: E402
from grants.models_committees import CommitteeStatusChange as CommitteeStatusChange  # noqa: E402
from grants.models_open_data import OpenDataFile as OpenDataFile  # noqa: E402
