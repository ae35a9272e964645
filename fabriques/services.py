"""Writes on territories."""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from fabriques.models import (
    Departement,
    InstructorScope,
    Organisation,
    OrganisationMembership,
    Region,
    TiersLieu,
)
from fabriques.validators import normalise_siret


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


ORGANISATION_FIELDS = (
    "name",
    "siret",
    "legal_category",
    "cooperative_kind",
    "rna",
    "address",
    "postal_code",
    "commune_code",
    "commune_name",
    "departement",
    "year_created",
    "headcount",
    "website",
)


@transaction.atomic
def organisation_create(
    *,
    actor: User,
    job_title: str = "",
    is_legal_representative: bool = False,
    **fields: Any,
) -> Organisation:
    """Register a structure; the user who registers it becomes its first member."""
    unknown = set(fields) - set(ORGANISATION_FIELDS) - {"is_demo"}
    if unknown:
        raise TypeError(f"Unknown organisation fields: {sorted(unknown)}")
    organisation = Organisation(**fields)
    organisation.siret = normalise_siret(organisation.siret)
    if Organisation.objects.filter(siret=organisation.siret).exists():
        raise ValidationError(
            {
                "siret": _(
                    "Une structure est déjà enregistrée avec ce SIRET : demandez à l'un de ses "
                    "membres de vous y ajouter."
                )
            },
            code="duplicate",
        )
    organisation.full_clean()
    organisation.save()
    membership = OrganisationMembership(
        organisation=organisation,
        user=actor,
        job_title=job_title,
        is_legal_representative=is_legal_representative,
    )
    membership.full_clean()
    membership.save()
    audit_record(
        actor=actor, action="organisation.create", target=organisation, data={"siret": organisation.siret}
    )
    return organisation


@transaction.atomic
def organisation_update(*, organisation: Organisation, actor: User, **fields: Any) -> Organisation:
    """Change a structure's identity. Its SIRET changes only with an audit row saying from what."""
    unknown = set(fields) - set(ORGANISATION_FIELDS)
    if unknown:
        raise TypeError(f"Unknown organisation fields: {sorted(unknown)}")
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    before = {name: getattr(organisation, name) for name in fields}
    for name, value in fields.items():
        setattr(organisation, name, value)
    organisation.siret = normalise_siret(organisation.siret)
    organisation.full_clean()
    changed = [name for name in fields if getattr(organisation, name) != before[name]]
    if changed:
        organisation.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="organisation.update",
            target=organisation,
            data={"fields": changed, "siret_before": before.get("siret", organisation.siret)},
        )
    return organisation


@transaction.atomic
def tiers_lieu_create(
    *, actor: User, organisation: Organisation | None, activities: Iterable[Any] = (), **fields: Any
) -> TiersLieu:
    """Describe a new place, operated by one of the actor's structures."""
    if organisation is not None and not organisation.memberships.filter(user=actor).exists():
        raise ValidationError(
            _("Vous ne pouvez décrire un lieu que pour une structure dont vous êtes membre.")
        )
    place = TiersLieu(organisation=organisation, source=TiersLieu.Source.APPLICANT, **fields)
    place.full_clean()
    place.save()
    place.activities.set(list(activities))
    audit_record(actor=actor, action="place.create", target=place)
    return place
