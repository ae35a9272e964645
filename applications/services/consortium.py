"""The consortium: one lead (chef de file) and partner structures, each with a role and a share."""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from applications.models import Application, Member
from applications.services.dossiers import ensure_editable
from fabriques.models import Organisation
from fabriques.services import ORGANISATION_FIELDS
from fabriques.validators import normalise_siret


@transaction.atomic
def member_add(
    *,
    application: Application,
    organisation_fields: dict[str, Any],
    role: str,
    share_percent: Decimal,
    actor: User,
) -> Member:
    """Add a partner. A structure already known by its SIRET is reused, never duplicated."""
    application = Application.objects.select_for_update().get(pk=application.pk)
    ensure_editable(application)
    unknown = set(organisation_fields) - set(ORGANISATION_FIELDS)
    if unknown:
        raise TypeError(f"Unknown organisation fields: {sorted(unknown)}")
    siret = normalise_siret(organisation_fields.get("siret", ""))
    organisation = Organisation.objects.filter(siret=siret).first()
    if organisation is None:
        organisation = Organisation(**{**organisation_fields, "siret": siret})
        organisation.full_clean()
        organisation.save()
        audit_record(actor=actor, action="organisation.create", target=organisation, data={"siret": siret})
    if application.members.filter(organisation=organisation).exists():
        raise ValidationError(
            {"siret": _("Cette structure fait déjà partie du consortium.")}, code="duplicate_member"
        )
    member = Member(
        application=application,
        organisation=organisation,
        is_lead=False,
        role=role.strip(),
        share_percent=share_percent,
    )
    member.full_clean()
    member.save()
    audit_record(actor=actor, action="application.member_add", target=application, data={"siret": siret})
    return member


@transaction.atomic
def member_update(*, member: Member, role: str, share_percent: Decimal, actor: User) -> Member:
    application = Application.objects.select_for_update().get(pk=member.application_id)
    ensure_editable(application)
    member = Member.objects.get(pk=member.pk)
    member.role = role.strip()
    member.share_percent = share_percent
    member.full_clean()
    member.save(update_fields=["role", "share_percent"])
    return member


@transaction.atomic
def member_remove(*, member: Member, actor: User) -> None:
    application = Application.objects.select_for_update().get(pk=member.application_id)
    ensure_editable(application)
    if member.is_lead:
        raise ValidationError(_("Le chef de file ne peut pas être retiré du consortium."), code="lead")
    siret = member.organisation.siret
    member.delete()
    audit_record(actor=actor, action="application.member_remove", target=application, data={"siret": siret})
