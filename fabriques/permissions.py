"""Who may see or change a structure."""

from django.contrib.auth.models import AnonymousUser

from accounts.models import User
from fabriques.models import Organisation, OrganisationMembership


def can_edit_organisation(user: User | AnonymousUser, organisation: Organisation) -> bool:
    if not user.is_authenticated:
        return False
    return OrganisationMembership.objects.filter(organisation=organisation, user=user).exists()
