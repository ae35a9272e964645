"""Writes on territories."""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_changes, audit_record, audit_snapshot
from fabriques.models import (
    Departement,
    InstructorScope,
    Organisation,
    OrganisationMembership,
    Region,
    SiretStatus,
    TiersLieu,
)
from fabriques.sirene import Lookup, Status
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


def instructor_scope_check(
    *, instructor: User | None, region: Region | None, departement: Departement | None
) -> None:
    """The rules of one scope row, asked by the admin's form too (errors next to the field)."""
    if instructor is None or not has_role(instructor, Role.INSTRUCTOR):
        raise ValidationError(
            {"instructor": _("Seul un instructeur peut recevoir un périmètre d'instruction.")}, code="role"
        )
    if (region is None) == (departement is None):
        raise ValidationError(
            _("Un périmètre d'instruction est soit une région, soit un département."), code="one_of"
        )


def _territory(instructor: User) -> dict[str, list[str]]:
    scopes = InstructorScope.objects.filter(instructor=instructor)
    return {
        "regions": sorted(s.region_id for s in scopes if s.region_id),
        "departements": sorted(s.departement_id for s in scopes if s.departement_id),
    }


def _audit_territory(*, actor: User | None, action: str, instructor: User, before: dict[str, Any]) -> None:
    audit_record(
        actor=actor, action=action, target=instructor, data=audit_changes(before, _territory(instructor))
    )


@transaction.atomic
def instructor_scope_add(
    *,
    instructor: User,
    region: Region | None = None,
    departement: Departement | None = None,
    actor: User | None,
) -> InstructorScope:
    """Add one région or one département to an instructor's territory."""
    instructor_scope_check(instructor=instructor, region=region, departement=departement)
    User.objects.select_for_update().get(pk=instructor.pk)
    before = _territory(instructor)
    scope = InstructorScope(instructor=instructor, region=region, departement=departement)
    scope.full_clean()
    scope.save()
    _audit_territory(actor=actor, action="account.scope_add", instructor=instructor, before=before)
    return scope


@transaction.atomic
def instructor_scope_change(
    *,
    scope: InstructorScope,
    region: Region | None,
    departement: Departement | None,
    actor: User | None,
) -> InstructorScope:
    """Replace the région or département of one scope row (its instructor stays)."""
    scope = InstructorScope.objects.select_for_update().select_related("instructor").get(pk=scope.pk)
    instructor_scope_check(instructor=scope.instructor, region=region, departement=departement)
    before = _territory(scope.instructor)
    scope.region, scope.departement = region, departement
    scope.full_clean()
    scope.save(update_fields=["region", "departement"])
    _audit_territory(actor=actor, action="account.scope_change", instructor=scope.instructor, before=before)
    return scope


@transaction.atomic
def instructor_scope_remove(*, scope: InstructorScope, actor: User | None) -> None:
    """Take one région or département out of an instructor's territory."""
    scope = InstructorScope.objects.select_for_update().select_related("instructor").get(pk=scope.pk)
    before = _territory(scope.instructor)
    scope.delete()
    _audit_territory(actor=actor, action="account.scope_remove", instructor=scope.instructor, before=before)


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
    "naf_code",
)


# --- the SIRET look-up (fabriques/sirene.py) -------------------------------------------------
# The caller asks the directory before the transaction (no network call while rows are locked)
# and hands the answer to the service, which applies the rules: a closed establishment is refused,
# an answer clears the flag, no answer raises « à vérifier ».


def closed_establishment_message(lookup: Lookup) -> str:
    closed_on = lookup.establishment.closed_on if lookup.establishment else ""
    if closed_on:
        day = "/".join(reversed(closed_on.split("-")))
        return _(
            "Cet établissement est fermé depuis le %(date)s selon l'annuaire des entreprises : "
            "indiquez le SIRET d'un établissement en activité."
        ) % {"date": day}
    return _(
        "Cet établissement est fermé selon l'annuaire des entreprises : indiquez le SIRET d'un "
        "établissement en activité."
    )


def _siret_status(lookup: Lookup | None) -> str:
    if lookup is None or lookup.status is Status.DISABLED:
        return SiretStatus.UNCHECKED
    if lookup.status is Status.FOUND:
        assert lookup.establishment is not None  # noqa: S101 (FOUND carries its establishment)
        return SiretStatus.VERIFIED if lookup.establishment.is_active else SiretStatus.CLOSED
    # Not found (a non-diffusible establishment is not in the open directory) or no answer: the
    # applicant goes on with what they typed and an instructor checks it.
    return SiretStatus.TO_VERIFY


def establishment_check(lookup: Lookup | None) -> str:
    """The SIRET check's state for the directory's answer; a closed establishment is refused next
    to the SIRET. Also asked by the admin's form before it saves (fabriques.admin)."""
    status = _siret_status(lookup)
    if status == SiretStatus.CLOSED:
        assert lookup is not None  # noqa: S101
        raise ValidationError({"siret": closed_establishment_message(lookup)}, code="closed")
    return status


def _apply_lookup(organisation: Organisation, lookup: Lookup | None) -> None:
    """Refuse a closed establishment (next to the SIRET); otherwise set the check's state."""
    status = establishment_check(lookup)
    organisation.siret_status = status
    organisation.siret_checked_at = timezone.now() if status else None
    if lookup is not None and lookup.establishment is not None and not organisation.naf_code:
        organisation.naf_code = lookup.establishment.naf_code


@transaction.atomic
def organisation_create(
    *,
    actor: User,
    job_title: str = "",
    is_legal_representative: bool = False,
    establishment: Lookup | None = None,
    **fields: Any,
) -> Organisation:
    """Register a structure; the user who registers it becomes its first member. `establishment`
    is the directory's answer for its SIRET (None: not asked, as in the demo data)."""
    unknown = set(fields) - set(ORGANISATION_FIELDS) - {"is_demo"}
    if unknown:
        raise TypeError(f"Unknown organisation fields: {sorted(unknown)}")
    organisation = Organisation(**fields)
    organisation.siret = normalise_siret(organisation.siret)
    _apply_lookup(organisation, establishment)
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
        actor=actor,
        action="organisation.create",
        target=organisation,
        data={"siret": organisation.siret, "siret_status": organisation.siret_status},
    )
    return organisation


@transaction.atomic
def organisation_update(
    *, organisation: Organisation, actor: User, establishment: Lookup | None = None, **fields: Any
) -> Organisation:
    """Change a structure's identity. Its SIRET changes only with an audit row saying from what;
    a new SIRET is checked with `establishment`, the directory's answer for it, when given."""
    unknown = set(fields) - set(ORGANISATION_FIELDS)
    if unknown:
        raise TypeError(f"Unknown organisation fields: {sorted(unknown)}")
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    tracked = [*fields, "siret_status", "siret_checked_at"]
    before = {name: getattr(organisation, name) for name in tracked}
    snapshot = audit_snapshot(organisation, tracked)
    for name, value in fields.items():
        setattr(organisation, name, value)
    organisation.siret = normalise_siret(organisation.siret)
    if organisation.siret != before.get("siret", organisation.siret):
        _apply_lookup(organisation, establishment)
    organisation.full_clean()
    changed = [name for name in tracked if getattr(organisation, name) != before[name]]
    if changed:
        organisation.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="organisation.update",
            target=organisation,
            data={
                **audit_changes(snapshot, audit_snapshot(organisation, changed)),
                "siret_before": before.get("siret", organisation.siret),
            },
        )
    return organisation


@transaction.atomic
def organisation_siret_recheck(
    *, organisation: Organisation, establishment: Lookup, actor: User | None = None
) -> Organisation:
    """A structure flagged « à vérifier » looked up again: an answer clears the flag (found and
    active) or raises it (closed, not found); no answer leaves it for the next run. Returns at
    once for a structure no longer flagged, so a task run twice does nothing twice."""
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if organisation.siret_status != SiretStatus.TO_VERIFY or not establishment.answered:
        return organisation
    before = audit_snapshot(organisation, ["siret_status", "naf_code"])
    if establishment.establishment is None:
        organisation.siret_status = SiretStatus.NOT_FOUND
    elif establishment.establishment.is_active:
        organisation.siret_status = SiretStatus.VERIFIED
        organisation.naf_code = organisation.naf_code or establishment.establishment.naf_code
    else:
        organisation.siret_status = SiretStatus.CLOSED
    organisation.siret_checked_at = timezone.now()
    organisation.full_clean()
    organisation.save(update_fields=["siret_status", "naf_code", "siret_checked_at"])
    audit_record(
        actor=actor,
        action="organisation.siret_check",
        target=organisation,
        data=audit_changes(before, audit_snapshot(organisation, ["siret_status", "naf_code"])),
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


# What the admin may change on a place; its origin and identifiers come from its creation.
TIERS_LIEU_FIELDS = (
    "name",
    "organisation",
    "address",
    "postal_code",
    "commune_code",
    "commune_name",
    "departement",
    "zone",
    "qpv_code",
    "year_opened",
    "website",
    "latitude",
    "longitude",
)


@transaction.atomic
def tiers_lieu_update(
    *, place: TiersLieu, actor: User, activities: Iterable[Any] | None = None, **fields: Any
) -> TiersLieu:
    """Correct a place's description, with an audit row of what changed, from what to what."""
    unknown = set(fields) - set(TIERS_LIEU_FIELDS)
    if unknown:
        raise TypeError(f"Unknown place fields: {sorted(unknown)}")
    place = TiersLieu.objects.select_for_update().get(pk=place.pk)
    before = audit_snapshot(place, fields)
    activities_before = sorted(place.activities.values_list("pk", flat=True))
    for name, value in fields.items():
        setattr(place, name, value)
    place.full_clean()
    data = audit_changes(before, audit_snapshot(place, fields))
    if data["fields"]:
        place.save(update_fields=data["fields"])
    if activities is not None:
        activities_after = sorted(activity.pk for activity in activities)
        if activities_after != activities_before:
            place.activities.set(list(activities))
            data["fields"].append("activities")
            data["before"]["activities"] = activities_before
            data["after"]["activities"] = activities_after
    if data["fields"]:
        audit_record(actor=actor, action="place.update", target=place, data=data)
    return place
