from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FabriquesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fabriques"
    verbose_name = _("Territoires et structures")
