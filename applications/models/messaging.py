"""Files attached to the dossiers' messages, and the messages written to many dossiers at once."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def message_file_path(instance: "MessageFile", filename: str) -> str:
    # A random stored name, outside any dossier's folder: a broadcast's file is stored once for
    # all its dossiers. The sender's file name is kept, sanitised, in a column.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"messages/{uuid.uuid4().hex}.{extension}"


class MessageFile(models.Model):
    """A file attached to one message, or to every message of a broadcast (stored once, linked to
    each): checked by its content (core.uploads) and fingerprinted like a supporting document."""

    file = models.FileField(_("fichier"), upload_to=message_file_path, max_length=200)
    original_name = models.CharField(_("nom du fichier"), max_length=200)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("taille (octets)"))
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("déposé le"), default=timezone.now)

    class Meta:
        verbose_name = _("pièce jointe d'un message")
        verbose_name_plural = _("pièces jointes des messages")
        ordering = ("pk",)
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="applications_messagefile_not_empty"),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="applications_messagefile_sha256"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class Broadcast(models.Model):
    """One message written to the applicants of every dossier of a filtered list.

    `token` is printed in the recap's form: the confirmation creates the broadcast under it once,
    so a confirmation posted twice (a double click, a reload) finds it and sends nothing again.
    """

    token = models.UUIDField(_("jeton"), unique=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(_("objet"), max_length=200)
    body = models.TextField(_("message"), max_length=10000)
    # The list's filters as the author saw them (its query string), kept for the record.
    query = models.CharField(_("filtres de la liste"), max_length=2000, blank=True)
    dossier_count = models.PositiveIntegerField(_("dossiers"))
    recipient_count = models.PositiveIntegerField(_("destinataires"))
    files = models.ManyToManyField(
        MessageFile, verbose_name=_("pièces jointes"), blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("envoyé le"), default=timezone.now)

    class Meta:
        verbose_name = _("message groupé")
        verbose_name_plural = _("messages groupés")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.subject
