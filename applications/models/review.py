"""Review: the call's grid and eligibility checks, assignments, scores and exchanges (the expert
opinions are in applications.models.opinions)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.models.calls import Call
from applications.models.dossiers import Application
from applications.models.messaging import Broadcast, MessageFile


class Criterion(models.Model):
    """A criterion of a call's scoring grid, with its weight and scale."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="criteria")
    label = models.CharField(_("critère"), max_length=200)
    help_text = models.TextField(_("aide à la notation"), blank=True)
    weight = models.PositiveSmallIntegerField(_("poids"))
    scale_max = models.PositiveSmallIntegerField(_("note maximale"), default=5)
    comment_required = models.BooleanField(_("commentaire obligatoire"), default=True)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("critère de notation")
        verbose_name_plural = _("grille de notation")
        ordering = ("call", "position", "pk")
        constraints = [
            models.UniqueConstraint(fields=["call", "label"], name="applications_criterion_label_once"),
            models.CheckConstraint(
                condition=Q(weight__gte=1) & Q(scale_max__gte=1),
                name="applications_criterion_positive",
                violation_error_message=_("Le poids et la note maximale sont au moins de 1."),
            ),
        ]

    def __str__(self) -> str:
        return self.label


class EligibilityCheck(models.Model):
    """A yes/no eligibility condition of a call: a dossier that fails one cannot be awarded."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="eligibility_checks")
    label = models.CharField(_("condition"), max_length=300)
    help_text = models.TextField(_("aide"), blank=True)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("condition d'éligibilité")
        verbose_name_plural = _("conditions d'éligibilité")
        ordering = ("call", "position", "pk")

    def __str__(self) -> str:
        return self.label


class EligibilityAnswer(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="eligibility_answers")
    condition = models.ForeignKey(EligibilityCheck, on_delete=models.PROTECT, related_name="answers")
    satisfied = models.BooleanField(_("remplie"))
    note = models.TextField(_("observation"), blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(_("le"), default=timezone.now)

    class Meta:
        verbose_name = _("vérification d'éligibilité")
        verbose_name_plural = _("vérifications d'éligibilité")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "condition"], name="applications_eligibility_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application.reference}: {self.condition}"


class Assignment(models.Model):
    """An instructor reviewing a dossier, with their declaration of interests."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="assignments")
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("instructeur"),
        on_delete=models.PROTECT,
        related_name="assignments",
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(_("affecté le"), default=timezone.now)
    conflict_of_interest = models.BooleanField(_("conflit d'intérêts déclaré"), default=False)
    conflict_note = models.TextField(_("nature du conflit"), blank=True)
    declared_at = models.DateTimeField(_("déclaration faite le"), null=True, blank=True)
    # « Je n'ai pas de conflit d'intérêts avec ce dossier »: attested before any scoring, by the
    # instructor of the assignment (kept apart from `instructor` so the record names its author).
    no_conflict_attested_at = models.DateTimeField(
        _("absence de conflit d'intérêts attestée le"), null=True, blank=True
    )
    no_conflict_attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("absence de conflit d'intérêts attestée par"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    scores_submitted_at = models.DateTimeField(_("notation remise le"), null=True, blank=True)

    class Meta:
        verbose_name = _("affectation")
        verbose_name_plural = _("affectations")
        ordering = ("application", "assigned_at")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "instructor"], name="applications_assignment_once"
            ),
            models.CheckConstraint(
                condition=Q(conflict_of_interest=False) | Q(scores_submitted_at__isnull=True),
                name="applications_conflicted_never_scores",
                violation_error_message=_("Un instructeur en conflit d'intérêts ne note pas le dossier."),
            ),
            models.CheckConstraint(
                condition=Q(conflict_of_interest=False) | Q(no_conflict_attested_at__isnull=True),
                name="applications_conflicted_never_attests",
                violation_error_message=_(
                    "Un instructeur ne peut pas à la fois déclarer un conflit d'intérêts et attester "
                    "n'en avoir aucun."
                ),
            ),
            models.CheckConstraint(
                condition=Q(no_conflict_attested_at__isnull=True, no_conflict_attested_by__isnull=True)
                | Q(no_conflict_attested_at__isnull=False, no_conflict_attested_by__isnull=False),
                name="applications_attestation_dated_and_signed",
            ),
        ]
        indexes = [
            # The staff's to-do « à noter »: an instructor's assignments still to score, a few
            # among the thousands they have scored over the calls.
            models.Index(
                fields=["instructor", "assigned_at"],
                condition=Q(scores_submitted_at__isnull=True, conflict_of_interest=False),
                name="applications_to_score",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instructor} – {self.application.reference}"


class Score(models.Model):
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="scores")
    value = models.PositiveSmallIntegerField(_("note"))
    comment = models.TextField(_("commentaire"), blank=True)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        constraints = [
            models.UniqueConstraint(fields=["assignment", "criterion"], name="applications_score_once"),
        ]

    def __str__(self) -> str:
        return f"{self.criterion}: {self.value}"


class Annotation(models.Model):
    """A private note of the instruction team, never shown to the applicant."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="annotations")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(_("note"), max_length=5000)
    created_at = models.DateTimeField(_("le"), default=timezone.now)

    class Meta:
        verbose_name = _("annotation privée")
        verbose_name_plural = _("annotations privées")
        ordering = ("application", "created_at")

    def __str__(self) -> str:
        return f"{self.application.reference} ({self.created_at:%Y-%m-%d})"


class Message(models.Model):
    """The thread between the instruction team and the applicant."""

    class Side(models.TextChoices):
        APPLICANT = "applicant", _("Porteur")
        INSTRUCTION = "instruction", _("Instruction")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(_("côté"), max_length=12, choices=Side.choices)
    body = models.TextField(_("message"), max_length=10000)
    created_at = models.DateTimeField(_("envoyé le"), default=timezone.now)
    # Several files per message; a broadcast's files are the same rows for each of its messages.
    files = models.ManyToManyField(
        MessageFile, verbose_name=_("pièces jointes"), blank=True, related_name="messages"
    )
    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ("application", "created_at")
        constraints = [
            # A broadcast reaches each dossier once, whatever happens to its confirmation.
            models.UniqueConstraint(
                fields=["broadcast", "application"], name="applications_message_broadcast_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application.reference} ({self.get_side_display()})"
