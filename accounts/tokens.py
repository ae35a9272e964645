from django.contrib.auth.tokens import PasswordResetTokenGenerator

from accounts.models import User


class EmailConfirmationTokenGenerator(PasswordResetTokenGenerator):
    """A link valid for PASSWORD_RESET_TIMEOUT that stops working once the account is active."""

    key_salt = "accounts.tokens.EmailConfirmationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{user.pk}{user.email}{user.is_active}{user.email_confirmed_at}{timestamp}"


email_confirmation_token = EmailConfirmationTokenGenerator()
