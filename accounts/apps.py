from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = _("Comptes")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.middleware import staff_login_stamp, two_factor_login_flag

        # The idle clock of instructors' and admins' sessions starts at login.
        user_logged_in.connect(staff_login_stamp, dispatch_uid="accounts.staff_login_stamp")
        # A user who enrolled an authenticator owes a code after the password.
        user_logged_in.connect(two_factor_login_flag, dispatch_uid="accounts.two_factor_login_flag")
