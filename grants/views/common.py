"""What several grants views share: the acting user, the programme admins' guard, and the lines
every recap of a money move opens with (the dossier, the beneficiary) or its table of tranches."""

from collections.abc import Sequence
from typing import Any, cast

from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import can_use_admin_space, role_required
from applications.models import Application
from grants.services.agreements import lead_organisation

admin_required = role_required(can_use_admin_space)


def user_of(request: HttpRequest) -> User:
    """The request's user, behind a login or role decorator: never anonymous here."""
    return cast(User, request.user)


def dossier_line(application: Application) -> tuple[str, str]:
    return (_("Dossier"), f"{application.reference} – {application.title}")


def beneficiary_lines(application: Application) -> list[tuple[str, str]]:
    """The dossier and its lead structure, as a recap's first lines."""
    organisation = lead_organisation(application)
    return [
        dossier_line(application),
        (_("Bénéficiaire"), organisation.name if organisation is not None else "—"),
    ]


def cancelled_tranches_table(rows: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """A recap's table of the tranches a move cancels (its year, amount and current state)."""
    return {
        "table_caption": _("Tranches annulées"),
        "table_header": (_("Tranche"), _("Montant"), _("État actuel")),
        "table_rows": list(rows),
    }
