"""Selection committee sessions: who sits, what is on the agenda, what was decided and applied.

A session belongs to a call and (optionally) one of its waves. Its agenda lists the dossiers
eligible and scored of that call and wave, each with its rank in the ranking by score, the amount
asked and the amount proposed (split per year within the call's bounds). During the session each
item gets its decision (award with amount and split, refusal with reasons, postponed); the
decisions are then applied in one move through the decision services (grants.services.decisions),
each item keeping its own result, so that applying again applies only what is left.

States move only through grants.committee_workflow (one table, one funnel).
Imported by grants.models, so that Django registers these models with the app.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.models import Application, Call, Wave
from core.badges import Badge


class CommitteeSession(models.Model):
    """One sitting of the selection committee for a call and wave."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("En préparation")
        CONVENED = "convened", _("Convoquée")
        HELD = "held", _("En séance")
        APPLIED = "applied", _("Décisions appliquées")
        CANCELLED = "cancelled", _("Annulée")

        @property
        def badge(self) -> Badge:
            status = type(self)
            return {
                status.DRAFT: Badge.NEW,
                status.CONVENED: Badge.INFO,
                status.HELD: Badge.WARNING,
                status.APPLIED: Badge.SUCCESS,
                status.CANCELLED: Badge.ERROR,
            }[self]

    call = models.ForeignKey(
        Call, verbose_name=_("appel"), on_delete=models.PROTECT, related_name="committee_sessions"
    )
    wave = models.ForeignKey(
        Wave,
        verbose_name=_("vague"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="committee_sessions",
    )
    title = models.CharField(_("intitulé"), max_length=200)
    starts_at = models.DateTimeField(_("date et heure"))
    place = models.CharField(_("lieu"), max_length=300, blank=True)
    visio_url = models.URLField(_("lien de visioconférence"), max_length=500, blank=True)
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)
    applied_at = models.DateTimeField(_("décisions appliquées le"), null=True, blank=True)
    minutes = models.ForeignKey(
        "notifications.Document",
        verbose_name=_("procès-verbal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("séance du comité de sélection")
        verbose_name_plural = _("séances du comité de sélection")
        ordering = ("-starts_at", "-pk")
        constraints = [
            models.CheckConstraint(
                condition=~Q(place="") | ~Q(visio_url=""),
                name="grants_committee_session_has_a_place",
                violation_error_message=_("Indiquez un lieu ou un lien de visioconférence."),
            ),
            models.CheckConstraint(
                condition=~Q(status="applied") | Q(applied_at__isnull=False),
                name="grants_committee_applied_has_date",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class CommitteeMember(models.Model):
    """A member of a session: a programme admin or an invited instructor, and their attendance."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrateur du programme")
        INSTRUCTOR = "instructor", _("Instructeur invité")

    class Attendance(models.TextChoices):
        UNKNOWN = "unknown", _("Non renseignée")
        PRESENT = "present", _("Présent")
        EXCUSED = "excused", _("Excusé")
        ABSENT = "absent", _("Absent")

    session = models.ForeignKey(CommitteeSession, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("membre"), on_delete=models.PROTECT, related_name="+"
    )
    role = models.CharField(_("qualité"), max_length=10, choices=Role.choices)
    attendance = models.CharField(
        _("présence"), max_length=10, choices=Attendance.choices, default=Attendance.UNKNOWN
    )

    class Meta:
        verbose_name = _("membre du comité")
        verbose_name_plural = _("membres du comité")
        ordering = ("session", "role", "user__last_name", "user__first_name", "pk")
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="grants_committee_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.user_id}"


class CommitteeItem(models.Model):
    """A dossier on a session's agenda: its rank, score, amounts, then the decision and its result."""

    class Decision(models.TextChoices):
        PENDING = "", _("À décider")
        AWARD = "award", _("Attribution")
        REFUSE = "refuse", _("Refus")
        POSTPONE = "postpone", _("Ajourné")

    class Outcome(models.TextChoices):
        PENDING = "", _("Non appliquée")
        APPLIED = "applied", _("Appliquée")
        FAILED = "failed", _("Refusée à l'application")

    session = models.ForeignKey(CommitteeSession, on_delete=models.CASCADE, related_name="items")
    application = models.ForeignKey(
        Application, verbose_name=_("dossier"), on_delete=models.PROTECT, related_name="committee_items"
    )
    # The dossier's rank in the ranking by score of the call and wave, when put on the agenda.
    rank = models.PositiveIntegerField(_("rang"))
    score = models.DecimalField(_("note sur 100"), max_digits=4, decimal_places=1)
    asked = models.DecimalField(_("montant demandé"), max_digits=14, decimal_places=2)
    proposed = models.DecimalField(_("montant proposé"), max_digits=14, decimal_places=2)
    proposed_yearly = models.JSONField(_("répartition proposée"), default=list)
    decision = models.CharField(
        _("décision"), max_length=10, choices=Decision.choices, default=Decision.PENDING, blank=True
    )
    amount = models.DecimalField(
        _("montant attribué"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    yearly = models.JSONField(_("répartition attribuée"), default=list, blank=True)
    reasons = models.TextField(_("motifs"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("décidé le"), null=True, blank=True)
    outcome = models.CharField(
        _("résultat"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING, blank=True
    )
    outcome_message = models.TextField(_("message du résultat"), blank=True)
    applied_at = models.DateTimeField(_("appliquée le"), null=True, blank=True)
    grant = models.ForeignKey(
        "grants.Grant", null=True, blank=True, on_delete=models.PROTECT, related_name="committee_items"
    )

    class Meta:
        verbose_name = _("dossier à l'ordre du jour")
        verbose_name_plural = _("ordre du jour")
        ordering = ("session", "rank", "pk")
        constraints = [
            models.UniqueConstraint(fields=["session", "application"], name="grants_committee_item_once"),
            models.CheckConstraint(
                condition=Q(proposed__gt=0) & Q(asked__gte=0),
                name="grants_committee_item_amounts",
                violation_error_message=_("Le montant proposé doit être positif."),
            ),
            models.CheckConstraint(
                condition=~Q(decision="award") | Q(amount__gt=0),
                name="grants_committee_award_has_amount",
                violation_error_message=_("Une attribution a un montant."),
            ),
            models.CheckConstraint(
                condition=~Q(decision="refuse") | ~Q(reasons=""),
                name="grants_committee_refusal_has_reasons",
                violation_error_message=_("Une décision de refus doit être motivée."),
            ),
            models.CheckConstraint(
                condition=~Q(outcome="applied") | (Q(applied_at__isnull=False) & ~Q(decision="")),
                name="grants_committee_applied_item_decided",
            ),
            # What was applied is applied once: an award applied points to the grant it created.
            models.CheckConstraint(
                condition=~Q(outcome="applied", decision="award") | Q(grant__isnull=False),
                name="grants_committee_applied_award_has_grant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.application_id}"

    @property
    def is_applied(self) -> bool:
        return self.outcome == self.Outcome.APPLIED

    @property
    def proposed_parts(self) -> list[Decimal]:
        return [Decimal(part) for part in self.proposed_yearly]

    @property
    def yearly_parts(self) -> list[Decimal]:
        return [Decimal(part) for part in self.yearly]


class CommitteeStatusChange(models.Model):
    """The history of a session: convened, held, applied or cancelled (who, when, from, to, note)."""

    session = models.ForeignKey(CommitteeSession, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(
        _("état précédent"), max_length=10, choices=CommitteeSession.Status.choices
    )
    to_status = models.CharField(_("nouvel état"), max_length=10, choices=CommitteeSession.Status.choices)
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
        verbose_name = _("changement d'état d'une séance")
        verbose_name_plural = _("historique des séances")
        ordering = ("session", "at", "pk")

    def __str__(self) -> str:
        return f"{self.session_id}: {self.from_status} → {self.to_status}"
