"""Reads on accounts that other apps share."""

from django.db.models import Q

from accounts.models import Role, User


def programme_admin_emails() -> list[str]:
    """The addresses of the programme admins, as `accounts.roles.has_role` counts them (the admin
    group and the superusers), active and with an address: who is alerted of what only the
    programme can settle (envelope drift, overdue payments and reports)."""
    admins = User.objects.filter(Q(groups__name=Role.ADMIN.value) | Q(is_superuser=True), is_active=True)
    return sorted(set(admins.exclude(email="").values_list("email", flat=True)))
