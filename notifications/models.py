"""Generated documents and outgoing e-mails, kept as rows.

A row is written in the transaction of the action that causes it; a task does the work after
commit; a periodic sweep re-queues rows left pending. The unique `key` of each row is its
idempotency key: asking twice for the same document or e-mail returns the first row.
"""

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
