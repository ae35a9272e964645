"""Expert opinions (« avis d'expert »): a question asked about one dossier to one expert account.

A request is asked by the dossier's instruction (`opinion_request`), answered once by its expert
(`opinion_give`) or cancelled by the instruction (`opinion_cancel`): the machine of
applications.services.opinions, one table and one funnel, each move logged in `OpinionChange`.
An overdue request is not a state: it is an open request whose due date has passed, still
answerable (the instruction decides whether to wait, remind or cancel).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.models.dossiers import Application
from applications.models.messaging import MessageFile
from core.badges import Badge


class Opinion(models.Model):
    """An opinion asked of an expert (a service of the State, a partner) on one dossier."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Demandé")
        GIVEN = "given", _("Rendu")
        CANCELLED = "cancelled", _("Annulé")

        @property
        def badge(self) -> Badge:
            status = type(self)
            return {status.GIVEN: Badge.SUCCESS, status.CANCELLED: Badge.NEUTRAL}.get(self, Badge.INFO)

    class AnswerKind(models.TextChoices):
        VERDICT = "verdict", _("Avis libre (favorable, réservé ou défavorable)")
        YES_NO = "yes_no", _("Réponse par oui ou non")

    class Verdict(models.TextChoices):
        PENDING = "", _("En attente")
        FAVOURABLE = "favourable", _("Favorable")
        RESERVED = "reserved", _("Réservé")
        UNFAVOURABLE = "unfavourable", _("Défavorable")
        YES = "yes", _("Oui")
        NO = "no", _("Non")

        @property
        def badge(self) -> Badge:
            verdict = type(self)
            return {
                verdict.FAVOURABLE: Badge.SUCCESS,
                verdict.YES: Badge.SUCCESS,
                verdict.UNFAVOURABLE: Badge.ERROR,
                verdict.NO: Badge.ERROR,
            }.get(self, Badge.WARNING)

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="opinions")
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    email = models.EmailField(_("adresse de l'expert"))
    organisation_name = models.CharField(_("service consulté"), max_length=200)
    # The expert's account (created on invitation, or an existing one): requests asked before
    # accounts existed and already answered have none.
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("expert"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="opinions_asked",
    )
    # The entry link of the invitation e-mail (applications:opinion-give).
    token = models.CharField(max_length=64, unique=True)
    question = models.TextField(_("question posée"), max_length=5000, blank=True)
    answer_kind = models.CharField(
        _("forme de la réponse"), max_length=10, choices=AnswerKind.choices, default=AnswerKind.VERDICT
    )
    due_on = models.DateField(_("à rendre avant le"))
    # Confidential: the instruction only. Shared: the applicant reads it on their dossier once given.
    confidential = models.BooleanField(_("avis confidentiel"), default=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("demandé le"), default=timezone.now)
    verdict = models.CharField(_("avis"), max_length=12, choices=Verdict.choices, blank=True, default="")
    comment = models.TextField(_("commentaire"), blank=True, max_length=10000)
    author_name = models.CharField(_("auteur de l'avis"), max_length=200, blank=True)
    given_at = models.DateTimeField(_("rendu le"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("annulé le"), null=True, blank=True)
    # The files sent to the expert with the question, and those sent back with the answer: rows of
    # the messages' files (same checks by content, same private storage).
    request_files = models.ManyToManyField(
        MessageFile, verbose_name=_("pièces jointes de la demande"), blank=True, related_name="+"
    )
    answer_files = models.ManyToManyField(
        MessageFile, verbose_name=_("pièces jointes de l'avis"), blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("avis d'expert")
        verbose_name_plural = _("avis d'expert")
        ordering = ("application", "requested_at")
        constraints = [
            models.CheckConstraint(
                condition=Q(verdict="") | Q(given_at__isnull=False),
                name="applications_opinion_given_has_date",
            ),
            models.CheckConstraint(
                condition=Q(status="given", given_at__isnull=False) & ~Q(verdict="")
                | Q(status__in=["requested", "cancelled"], given_at__isnull=True, verdict=""),
                name="applications_opinion_given_has_verdict",
                violation_error_message=_("Un avis rendu a une réponse et une date ; un autre n'en a pas."),
            ),
            models.CheckConstraint(
                condition=Q(status="requested", expert__isnull=False) | ~Q(status="requested"),
                name="applications_opinion_open_has_expert",
            ),
            models.CheckConstraint(
                condition=Q(answer_kind="verdict", verdict__in=["", "favourable", "reserved", "unfavourable"])
                | Q(answer_kind="yes_no", verdict__in=["", "yes", "no"]),
                name="applications_opinion_verdict_of_kind",
                violation_error_message=_("La réponse ne correspond pas à la forme demandée."),
            ),
            models.CheckConstraint(
                condition=Q(status="cancelled", cancelled_at__isnull=False)
                | Q(~Q(status="cancelled"), cancelled_at__isnull=True),
                name="applications_opinion_cancelled_dated",
            ),
        ]
        indexes = [
            # The expert's space and the daily reminders read the open requests only.
            models.Index(
                fields=["expert", "due_on"], condition=Q(status="requested"), name="applications_opinion_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_name} – {self.application.reference}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.REQUESTED

    def overdue_on(self, today: object) -> bool:
        """Open and its due date passed (the due date itself is still on time)."""
        return self.is_open and self.due_on < today  # type: ignore[operator]


class OpinionChange(models.Model):
    """One move of an opinion request: who, when, from, to, why (its creation has from = "")."""

    opinion = models.ForeignKey(Opinion, on_delete=models.CASCADE, related_name="changes")
    from_status = models.CharField(_("de"), max_length=10, blank=True)
    to_status = models.CharField(_("vers"), max_length=10)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("motif"), blank=True)
    at = models.DateTimeField(_("le"), default=timezone.now)

    class Meta:
        verbose_name = _("changement d'état d'un avis")
        verbose_name_plural = _("changements d'état des avis")
        ordering = ("opinion", "at", "pk")

    def __str__(self) -> str:
        return f"{self.opinion_id}: {self.from_status} → {self.to_status}"
