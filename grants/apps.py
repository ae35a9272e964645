from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GrantsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "grants"
    verbose_name = _("Subventions et enveloppe")

    def ready(self) -> None:
        # The homes (applications.next_steps) list the grants' steps too, without applications
        # importing grants: this layer registers them.
        from applications.archives import register_archive_documents
        from applications.next_steps import register_applicant_steps, register_staff_todo
        from grants.selectors.documents import dossier_grant_documents
        from grants.selectors.next_steps import applicant_grant_steps, staff_grant_todo

        register_applicant_steps("grants", applicant_grant_steps)
        register_staff_todo("grants", staff_grant_todo)
        # A dossier's archive (applications.archives) holds its agreement and amendments too.
        register_archive_documents("grants", dossier_grant_documents)
