from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApplicationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "applications"
    verbose_name = _("Appels et dossiers")

    def ready(self) -> None:
        from django.http import multipartparser

        # Django reads the headers of each part of an upload within 1 KiB, so a file name of some
        # 900 characters turns the whole request into a bare 400 before any form sees it. 8 KiB
        # holds any name a file system allows (255 bytes) however the browser encodes it, so the
        # form answers in French next to the field (UploadFileField); still a bound, not unlimited.
        # A module constant, read at each request (the stubs do not declare it).
        multipartparser.MAX_TOTAL_HEADER_SIZE = max(multipartparser.MAX_TOTAL_HEADER_SIZE, 8 * 1024)  # type: ignore[attr-defined]
