from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevtoolsConfig(AppConfig):
    """Demo and volume data with their commands: installed by the local, test and bench settings,
    never by production (docs/architecture.md, « devtools »)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "devtools"
    verbose_name = _("Outils de développement")
