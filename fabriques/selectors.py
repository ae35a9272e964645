"""Reads on territories."""

from django.db.models import Q, QuerySet

from accounts.models import User
from fabriques.models import Departement, InstructorScope, Organisation


def instructor_scopes(*, instructor: User) -> QuerySet[InstructorScope]:
    return InstructorScope.objects.filter(instructor=instructor).select_related(
        "region", "departement__region"
    )


def departements_in_scope(*, instructor: User) -> QuerySet[Departement]:
    """Every département an instructor reviews, through whole régions or one by one."""
    scopes = InstructorScope.objects.filter(instructor=instructor)
    return (
        Departement.objects.filter(
            Q(region__in=scopes.exclude(region=None).values("region"))
            | Q(code__in=scopes.exclude(departement=None).values("departement"))
        )
        .select_related("region")
        .order_by("code")
    )


def organisations_of(*, user: User) -> QuerySet[Organisation]:
    """The structures a user acts for."""
    return (
        Organisation.objects.filter(memberships__user=user)
        .select_related("legal_category", "departement")
        .order_by("name")
    )
