"""Labels (« étiquettes ») of a call, which the instruction team puts on dossiers to find them.

A label belongs to one call: its programme admins name it and give it a colour of the DSFR's
illustrative palette; instructors put several on a dossier of that call. Never shown to applicants.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.models.calls import Call
from applications.models.dossiers import Application

LABEL_NAME_MAX_LENGTH = 50


class LabelColour(models.TextChoices):
    """The DSFR's illustrative colours, each a real `fr-badge--<colour>` class of django-dsfr's
    stylesheet (tests/applications/test_labels.py reads the stylesheet for every member)."""

    GREEN_TILLEUL_VERVEINE = "green-tilleul-verveine", _("Vert tilleul verveine")
    GREEN_BOURGEON = "green-bourgeon", _("Vert bourgeon")
    GREEN_EMERAUDE = "green-emeraude", _("Vert émeraude")
    GREEN_MENTHE = "green-menthe", _("Vert menthe")
    GREEN_ARCHIPEL = "green-archipel", _("Vert archipel")
    BLUE_ECUME = "blue-ecume", _("Bleu écume")
    BLUE_CUMULUS = "blue-cumulus", _("Bleu cumulus")
    PURPLE_GLYCINE = "purple-glycine", _("Violet glycine")
    PINK_MACARON = "pink-macaron", _("Rose macaron")
    PINK_TUILE = "pink-tuile", _("Rose tuile")
    YELLOW_TOURNESOL = "yellow-tournesol", _("Jaune tournesol")
    YELLOW_MOUTARDE = "yellow-moutarde", _("Jaune moutarde")
    ORANGE_TERRE_BATTUE = "orange-terre-battue", _("Orange terre battue")
    BROWN_CAFE_CREME = "brown-cafe-creme", _("Brun café crème")
    BROWN_CARAMEL = "brown-caramel", _("Brun caramel")
    BROWN_OPERA = "brown-opera", _("Brun opéra")
    BEIGE_GRIS_GALET = "beige-gris-galet", _("Beige gris galet")


class Label(models.Model):
    """A label of a call: a name unique in the call whatever its case, and a colour."""

    call = models.ForeignKey(Call, verbose_name=_("appel"), on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(_("nom"), max_length=LABEL_NAME_MAX_LENGTH)
    colour = models.CharField(_("couleur"), max_length=30, choices=LabelColour.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)
    applications = models.ManyToManyField(
        Application, through="ApplicationLabel", related_name="labels", blank=True
    )

    class Meta:
        verbose_name = _("étiquette")
        verbose_name_plural = _("étiquettes")
        ordering = ("call", "name", "pk")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                "call",
                name="applications_label_name_once_per_call",
                violation_error_message=_("Une étiquette de cet appel porte déjà ce nom."),
            ),
            models.CheckConstraint(
                condition=~Q(name=""),
                name="applications_label_named",
                violation_error_message=_("Donnez un nom à l'étiquette."),
            ),
            models.CheckConstraint(
                condition=Q(colour__in=LabelColour.values),
                name="applications_label_colour_of_the_palette",
                violation_error_message=_("Choisissez une couleur de la palette."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def badge_class(self) -> str:
        return f"fr-badge--{self.colour}"


class ApplicationLabel(models.Model):
    """A label on a dossier: who put it there, and when."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="label_links")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="links")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(_("posée le"), default=timezone.now)

    class Meta:
        verbose_name = _("étiquette d'un dossier")
        verbose_name_plural = _("étiquettes des dossiers")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "label"], name="applications_label_once_per_dossier"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label_id} – {self.application_id}"
