"""The consortium: one lead (chef de file) and partner structures, each with a role and a share.

Shares never add up to more than 100 %: when a partner's share (added or changed) would pass
100 %, the lead keeps what remains (60 % after a 40 % partner, the lead having had 100 %); when
even a lead at 0 % would not make room, or when the lead's own share is set too high, the change is
refused with a French error. Shares may add up to less than 100 % while the dossier is drafted
(the completeness check asks for 100 % before submission).
"""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from applications.models import Application, Member
from applications.services.dossiers import ensure_editable
from core.formatting import format_percent
from fabriques.models import Organisation
from fabriques.services import ORGANISATION_FIELDS
from fabriques.validators import normalise_siret

HUNDRED = Decimal("100")


def _keep_shares_within_hundred(*, application: Application, changed: Member, actor: User) -> None:
    """Make room for `changed`'s share by lowering the lead's to what remains, or refuse.

    Runs under the dossier's row lock, after `changed` is saved and before the caller commits. The
    lowering is audited on its own (before and after), since the lead did not ask for it.
    """
    members = list(Member.objects.select_for_update().filter(application=application).order_by("pk"))
    total = sum((member.share_percent for member in members), Decimal("0"))
    if total <= HUNDRED:
        return
    lead = next((member for member in members if member.is_lead), None)
    if changed.is_lead or lead is None:
        raise ValidationError(
            {
                "share_percent": _(
                    "Les parts des membres totaliseraient %(total)s : elles ne peuvent pas dépasser "
                    "100 %%. Réduisez d'abord la part d'un partenaire."
                )
                % {"total": format_percent(total)}
            },
            code="shares_above_100",
        )
    others = total - lead.share_percent
    if others > HUNDRED:
        raise ValidationError(
            {
                "share_percent": _(
                    "Les parts des partenaires totaliseraient %(others)s : avec le chef de file, elles "
                    "ne peuvent pas dépasser 100 %%. Il reste %(room)s à répartir."
                )
                % {
                    "others": format_percent(others),
                    "room": format_percent(max(Decimal("0"), HUNDRED - (others - changed.share_percent))),
                }
            },
            code="shares_above_100",
        )
    before = lead.share_percent
    lead.share_percent = HUNDRED - others
    lead.full_clean()
    lead.save(update_fields=["share_percent"])
    audit_record(
        actor=actor,
        action="application.lead_share_lower",
        target=application,
        data={
            "siret": lead.organisation.siret,
            "share_before": f"{before:.2f}",
            "share_after": f"{lead.share_percent:.2f}",
            "because_of": changed.organisation.siret,
        },
    )


@transaction.atomic
def member_add(
    *,
    application: Application,
    organisation_fields: dict[str, Any],
    role: str,
    share_percent: Decimal,
    actor: User,
) -> Member:
    """Add a partner. A structure already known by its SIRET is reused, never duplicated; the lead
    keeps what remains of 100 % when the partner's share would pass it."""
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
    # The change first, then the lowering of the lead's share it causes (a refusal rolls back both).
    audit_record(
        actor=actor,
        action="application.member_add",
        target=application,
        data={"siret": siret, "share": f"{member.share_percent:.2f}"},
    )
    _keep_shares_within_hundred(application=application, changed=member, actor=actor)
    return member


@transaction.atomic
def member_update(*, member: Member, role: str, share_percent: Decimal, actor: User) -> Member:
    """Change a member's role or share; audited with both before and after."""
    application = Application.objects.select_for_update().get(pk=member.application_id)
    ensure_editable(application)
    member = Member.objects.select_related("organisation").get(pk=member.pk)
    before = {"role": member.role, "share": member.share_percent}
    member.role = role.strip()
    member.share_percent = share_percent
    member.full_clean()
    member.save(update_fields=["role", "share_percent"])
    audit_record(
        actor=actor,
        action="application.member_update",
        target=application,
        data={
            "siret": member.organisation.siret,
            "role_before": before["role"],
            "role_after": member.role,
            "share_before": f"{before['share']:.2f}",
            "share_after": f"{member.share_percent:.2f}",
        },
    )
    _keep_shares_within_hundred(application=application, changed=member, actor=actor)
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
