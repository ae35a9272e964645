"""`manage.py api_token_create --email EMAIL --name NAME [--days N]`: issue a token, print it once.

The same service as the admin's page (api.services.api_token_create), with no actor: the audit
row says the token came from the command line.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from accounts.models import User
from api.forms import DEFAULT_DAYS
from api.services import api_token_create


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _("Délivre un jeton d'API à un compte et l'affiche (une seule fois).")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS)

    def handle(self, *args: Any, email: str, name: str, days: int, **options: Any) -> None:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(_("Aucun compte n'a l'adresse « %(email)s ».") % {"email": email})
        try:
            issued = api_token_create(user=user, name=name, days=days, actor=None)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stderr.write(
            _("Jeton « %(name)s » délivré à %(email)s, valable jusqu'au %(expires)s :")
            % {
                "name": issued.token.name,
                "email": user.email,
                "expires": f"{issued.token.expires_at:%Y-%m-%d}",
            }
        )
        # The secret alone on stdout, so that a script can capture it.
        self.stdout.write(issued.secret)
