"""Generated documents and outgoing e-mails, kept as rows.

A row is written in the transaction of the action that causes it; a task does the work after
commit; a periodic sweep re-queues rows left pending. The unique `key` of each row is its
idempotency key: asking twice for the same document or e-mail returns the first row.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    PENDING = "pending", _("En attente")
    DONE = "done", _("Terminé")
    FAILED = "failed", _("En échec")


class EmailStatus(models.TextChoices):
    """An e-mail's states; the moves allowed between them are `notifications.services.EMAIL_TRANSITIONS`.

    The values shared with `Status` are the same strings, so filters written with `Status` still hold.
    """

    PENDING = "pending", _("En attente")
    # Claimed by an attempt and handed (or about to be handed) to the SMTP relay; committed before
    # the relay is called, so that an interrupted attempt is seen as such.
    SENDING = "sending", _("En cours d'envoi")
    DONE = "done", _("Envoyé")
    FAILED = "failed", _("En échec")


class Document(models.Model):
    key = models.CharField(
        _("clé"),
        max_length=200,
        unique=True,
        help_text=_("Unique par objet, type de document et version."),
    )
    kind = models.CharField(_("type"), max_length=50, db_index=True)
    template_name = models.CharField(_("gabarit"), max_length=200)
    context = models.JSONField(_("données"), default=dict, blank=True)
    filename = models.CharField(_("nom du fichier"), max_length=200)
    status = models.CharField(
        _("état"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    file = models.FileField(_("fichier"), upload_to="documents/%Y/%m/", blank=True)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64, blank=True)
    size = models.PositiveIntegerField(_("taille (octets)"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    # When a message for this row was last known to be queued (null: at its creation) and how
    # many times the sweep queued one since: its wait before the next doubles each time.
    enqueued_at = models.DateTimeField(_("remis en file le"), null=True, blank=True)
    requeues = models.PositiveSmallIntegerField(_("remises en file"), default=0)
    rendered_at = models.DateTimeField(_("produit le"), null=True, blank=True)

    class Meta:
        verbose_name = _("document généré")
        verbose_name_plural = _("documents générés")
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="done") | (~models.Q(file="") & ~models.Q(sha256="")),
                name="notifications_document_done_has_file",
            ),
        ]

    def __str__(self) -> str:
        return self.filename


class OutgoingEmail(models.Model):
    key = models.CharField(_("clé"), max_length=200, unique=True)
    to = models.JSONField(_("destinataires"), default=list)
    subject = models.CharField(_("objet"), max_length=255)
    body = models.TextField(_("texte"))
    attachments = models.ManyToManyField(
        Document, verbose_name=_("pièces jointes"), blank=True, related_name="emails"
    )
    status = models.CharField(
        _("état"), max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    sending_since = models.DateTimeField(_("envoi commencé le"), null=True, blank=True)
    # As on Document: the sweep's back-off (notifications.services.notifications_sweep).
    enqueued_at = models.DateTimeField(_("remis en file le"), null=True, blank=True)
    requeues = models.PositiveSmallIntegerField(_("remises en file"), default=0)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("courriel sortant")
        verbose_name_plural = _("courriels sortants")
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="done") | models.Q(sent_at__isnull=False),
                name="notifications_email_done_has_sent_at",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="sending") | models.Q(sending_since__isnull=False),
                name="notifications_email_sending_has_start",
            ),
        ]

    def __str__(self) -> str:
        return self.subject


# --- the notification centre ----------------------------------------------------------------------
# Events as rows: each event a person should hear of is a `Notification`, written in the transaction
# of the action that causes it (notifications.services_inbox). The business apps say what happened
# and to whom; this app only stores, counts, e-mails and digests. The foreign keys to the user, the
# dossier and the grant name their models as strings: no import of the business apps (import-linter).


class Audience(models.TextChoices):
    """Who a kind of notification is for; accounts maps each role to its audiences."""

    INSTRUCTION = "instruction", _("Instruction")
    ADMIN = "admin", _("Administration du programme")
    APPLICANT = "applicant", _("Porteurs de projet")
    EXPERT = "expert", _("Experts consultés")


class Frequency(models.TextChoices):
    """How a person wants to be e-mailed about a kind of notification (it is always in the centre)."""

    INSTANT = "instant", _("Immédiatement")
    DIGEST = "digest", _("Dans le résumé quotidien")
    NEVER = "never", _("Jamais (dans le portail seulement)")


class Delivery(models.TextChoices):
    """How a notification was delivered besides the centre, decided when it was written."""

    INSTANT = "instant", _("Courriel immédiat")
    DIGEST = "digest", _("Résumé quotidien")
    NONE = "none", _("Sans courriel")


class NotificationKind(models.TextChoices):
    DOSSIER_SUBMITTED = "dossier_submitted", _("Nouveau dossier déposé dans mon territoire")
    CORRECTIONS_ANSWERED = "corrections_answered", _("Compléments apportés par un porteur")
    OPINION_GIVEN = "opinion_given", _("Avis rendu sur un dossier")
    MESSAGE_FROM_APPLICANT = "message_from_applicant", _("Message d'un porteur")
    DOSSIER_ASSIGNED = "dossier_assigned", _("Dossier qui m'est affecté")
    DOSSIER_OVERDUE = "dossier_overdue", _("Dossier en retard d'instruction")
    PAYMENT_OVERDUE = "payment_overdue", _("Versement en retard")
    MESSAGE_FROM_INSTRUCTION = "message_from_instruction", _("Message de l'instruction")
    CORRECTIONS_ASKED = "corrections_asked", _("Compléments demandés sur mon dossier")
    DECISION_TAKEN = "decision_taken", _("Décision prise sur mon dossier")
    TRANCHE_PAID = "tranche_paid", _("Versement d'une tranche")
    OPINION_REQUESTED = "opinion_requested", _("Avis qui m'est demandé")


@dataclass(frozen=True)
class KindRule:
    """For one kind: who may receive it, and how they are e-mailed unless they chose otherwise.

    `official`: the event already sends an e-mail that carries a legal act or a document (the
    decision letter, the correction request with its due date, the payment notice), whatever the
    preferences; its notification stays in the centre, never e-mailed a second time.
    """

    audiences: frozenset[str]
    default: str
    official: bool = False


K = NotificationKind
_STAFF = frozenset({Audience.INSTRUCTION, Audience.ADMIN})
KIND_RULES: dict[str, KindRule] = {
    K.DOSSIER_SUBMITTED: KindRule(_STAFF, Frequency.DIGEST),
    K.CORRECTIONS_ANSWERED: KindRule(_STAFF, Frequency.INSTANT),
    K.OPINION_GIVEN: KindRule(_STAFF, Frequency.INSTANT),
    K.MESSAGE_FROM_APPLICANT: KindRule(_STAFF, Frequency.INSTANT),
    K.DOSSIER_ASSIGNED: KindRule(_STAFF, Frequency.INSTANT),
    K.DOSSIER_OVERDUE: KindRule(_STAFF, Frequency.DIGEST),
    K.PAYMENT_OVERDUE: KindRule(frozenset({Audience.ADMIN}), Frequency.DIGEST),
    K.MESSAGE_FROM_INSTRUCTION: KindRule(frozenset({Audience.APPLICANT}), Frequency.INSTANT),
    K.CORRECTIONS_ASKED: KindRule(frozenset({Audience.APPLICANT}), Frequency.NEVER, official=True),
    K.DECISION_TAKEN: KindRule(frozenset({Audience.APPLICANT}), Frequency.NEVER, official=True),
    K.TRANCHE_PAID: KindRule(frozenset({Audience.APPLICANT}), Frequency.NEVER, official=True),
    # The request's own e-mail carries the question and the invitation link; anyone may be asked.
    K.OPINION_REQUESTED: KindRule(_STAFF | {Audience.EXPERT}, Frequency.NEVER, official=True),
}


def kinds_for(audiences: frozenset[str] | set[str]) -> list[str]:
    """The kinds someone of these audiences may receive, in the order of NotificationKind."""
    return [kind.value for kind in NotificationKind if KIND_RULES[kind].audiences & audiences]


class Notification(models.Model):
    # The event's key: unique with the recipient, so an event retried notifies nobody twice.
    key = models.CharField(_("clé de l'événement"), max_length=150)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("destinataire"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("type"), max_length=40, choices=NotificationKind.choices)
    dossier = models.ForeignKey(
        "applications.Application",
        verbose_name=_("dossier"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    grant = models.ForeignKey(
        "grants.Grant",
        verbose_name=_("subvention"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    title = models.CharField(_("titre"), max_length=200)
    text = models.TextField(_("texte"), blank=True)
    # A path of the portal (e-mails make it absolute with SITE_URL).
    link = models.CharField(_("lien"), max_length=500)
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)
    read_at = models.DateTimeField(_("lue le"), null=True, blank=True)
    delivery = models.CharField(_("envoi"), max_length=10, choices=Delivery.choices, default=Delivery.NONE)
    email = models.ForeignKey(
        OutgoingEmail,
        verbose_name=_("courriel"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Set when the daily digest took it (e-mailed, or dropped for an account that may not be e-mailed).
    digested_at = models.DateTimeField(_("résumé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ("-created_at", "-pk")
        constraints = [
            models.UniqueConstraint(fields=["key", "recipient"], name="notifications_notification_once"),
            models.CheckConstraint(
                condition=models.Q(delivery="digest") | models.Q(digested_at__isnull=True),
                name="notifications_notification_digest_only",
            ),
        ]
        indexes = [
            # The centre: a person's notifications, newest first.
            models.Index(fields=["recipient", "-created_at"], name="notifications_inbox"),
            # The digest: the few rows still waiting for it, without reading the others.
            models.Index(
                fields=["recipient"],
                name="notifications_digest_waiting",
                condition=models.Q(delivery="digest", digested_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """A person's choice for one kind; without a row, the kind's default (KIND_RULES) applies."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.CASCADE,
        related_name="notification_preferences",
    )
    kind = models.CharField(_("type"), max_length=40, choices=NotificationKind.choices)
    frequency = models.CharField(_("fréquence"), max_length=10, choices=Frequency.choices)
    updated_at = models.DateTimeField(_("modifiée le"), default=timezone.now)

    class Meta:
        verbose_name = _("préférence de notification")
        verbose_name_plural = _("préférences de notification")
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notifications_preference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.frequency}"
