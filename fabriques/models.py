from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Region(models.Model):
    """A région of the INSEE Code officiel géographique. Codes are strings: "01", "84"."""

    code = models.CharField(_("code INSEE"), max_length=3, primary_key=True)
    name = models.CharField(_("nom"), max_length=100)
    cog_year = models.PositiveSmallIntegerField(_("millésime du COG"))

    class Meta:
        verbose_name = _("région")
        verbose_name_plural = _("régions")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Departement(models.Model):
    """A département of the INSEE COG. Codes are strings: "01", "2A", "976"."""

    code = models.CharField(_("code INSEE"), max_length=3, primary_key=True)
    name = models.CharField(_("nom"), max_length=100)
    region = models.ForeignKey(
        Region, verbose_name=_("région"), on_delete=models.PROTECT, related_name="departements"
    )
    cog_year = models.PositiveSmallIntegerField(_("millésime du COG"))

    class Meta:
        verbose_name = _("département")
        verbose_name_plural = _("départements")
        ordering = ("code",)

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class InstructorScope(models.Model):
    """One territory an instructor reviews: a whole région or a single département.

    It lives here rather than in accounts because it points at the territories, and accounts
    must not depend on fabriques.
    """

    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("instructeur"),
        on_delete=models.CASCADE,
        related_name="territorial_scopes",
    )
    region = models.ForeignKey(
        Region, verbose_name=_("région"), null=True, blank=True, on_delete=models.PROTECT
    )
    departement = models.ForeignKey(
        Departement, verbose_name=_("département"), null=True, blank=True, on_delete=models.PROTECT
    )

    class Meta:
        verbose_name = _("périmètre d'instruction")
        verbose_name_plural = _("périmètres d'instruction")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(region__isnull=False, departement__isnull=True)
                    | models.Q(region__isnull=True, departement__isnull=False)
                ),
                name="fabriques_scope_region_xor_departement",
                violation_error_message=_("Choisissez soit une région, soit un département."),
            ),
            models.UniqueConstraint(
                fields=["instructor", "region"],
                condition=models.Q(region__isnull=False),
                name="fabriques_scope_unique_region",
                violation_error_message=_("Cette région fait déjà partie du périmètre."),
            ),
            models.UniqueConstraint(
                fields=["instructor", "departement"],
                condition=models.Q(departement__isnull=False),
                name="fabriques_scope_unique_departement",
                violation_error_message=_("Ce département fait déjà partie du périmètre."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.region or self.departement)
