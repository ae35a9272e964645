from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    # An app only so that its template tags and templates are found; it has no models.
    name = "core"
    verbose_name = _("Socle commun")
