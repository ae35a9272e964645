"""The open-data files of a call as last published: one row per call and file, pointing at the
stored file of the latest build that its schema accepted.

A row changes only when a new build passed validation (grants.services.open_data): a build that
fails leaves the row, and so the file served, as they were. Imported by grants.models, so that
Django registers the model with the app.
"""

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.models import Call

# Each file's public address, by its kind (grants.urls).
URL_NAMES = {
    "subventions.csv": "grants:open-data-subsidies-csv",
    "subventions.json": "grants:open-data-subsidies-json",
    "versements.csv": "grants:open-data-payments-csv",
    "versements.json": "grants:open-data-payments-json",
    "dispositif-aide.json": "grants:open-data-scheme-json",
}


class OpenDataFile(models.Model):
    """The latest valid build of one open-data file of a call."""

    class Kind(models.TextChoices):
        # The values are the files' names in their public addresses: never change one.
        SUBSIDIES_CSV = "subventions.csv", _("Subventions (CSV)")
        SUBSIDIES_JSON = "subventions.json", _("Subventions (JSON)")
        PAYMENTS_CSV = "versements.csv", _("Versements (CSV)")
        PAYMENTS_JSON = "versements.json", _("Versements (JSON)")
        SCHEME_JSON = "dispositif-aide.json", _("Dispositif d'aide (JSON)")

    call = models.ForeignKey(Call, verbose_name=_("appel"), on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("fichier"), max_length=30, choices=Kind.choices)
    stored_name = models.CharField(_("nom dans le stockage"), max_length=255)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    size = models.PositiveIntegerField(_("taille (octets)"))
    rows = models.PositiveIntegerField(_("lignes"))
    built_at = models.DateTimeField(_("produit le"), default=timezone.now)

    class Meta:
        verbose_name = _("fichier de données ouvertes")
        verbose_name_plural = _("fichiers de données ouvertes")
        constraints = [
            models.UniqueConstraint(fields=["call", "kind"], name="grants_open_data_file_one_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.call_id} – {self.kind}"

    def get_absolute_url(self) -> str:
        return reverse(URL_NAMES[self.kind], kwargs={"open_data_id": self.call.open_data_id})

    @property
    def file_format(self) -> str:
        return self.kind.rsplit(".", 1)[1].upper()
