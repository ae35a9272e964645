from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    # Template tags, templates, and the data version of the page cache (core.page_cache).
    name = "core"
    verbose_name = _("Socle commun")

    def ready(self) -> None:
        from core.page_cache import install_data_triggers

        # After every migrate, each table (new ones included) gets the data-version trigger.
        post_migrate.connect(install_data_triggers, sender=self, dispatch_uid="core_data_triggers")
