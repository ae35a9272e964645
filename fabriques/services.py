"""Writes on territories."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from fabriques.models import Departement, InstructorScope, Region


@transaction.atomic
def instructor_scope_set(
    *,
    instructor: User,
    regions: Iterable[Region] = (),
    departements: Iterable[Departement] = (),
    actor: User | None,
) -> list[InstructorScope]:
    """Replace an instructor's territory with the given régions and départements."""
    if not has_role(instructor, Role.INSTRUCTOR):
        raise ValidationError(_("Seul un instructeur peut recevoir un périmètre d'instruction."))
    regions, departements = list(regions), list(departements)
    if not regions and not departements:
        raise ValidationError(_("Un périmètre d'instruction compte au moins une région ou un département."))
    User.objects.select_for_update().get(pk=instructor.pk)
    InstructorScope.objects.filter(instructor=instructor).delete()
    scopes = [InstructorScope(instructor=instructor, region=region) for region in regions]
    scopes += [InstructorScope(instructor=instructor, departement=dep) for dep in departements]
    for scope in scopes:
        scope.full_clean()
    InstructorScope.objects.bulk_create(scopes)
    audit_record(
        actor=actor,
        action="account.scope_set",
        target=instructor,
        data={"regions": [r.code for r in regions], "departements": [d.code for d in departements]},
    )
    return scopes
