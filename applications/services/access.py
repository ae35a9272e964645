"""The lead shares a dossier with a partner's staff, for viewing or editing."""

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from applications.models import Access, Application, Member
from core.links import absolute_url
from notifications.services import email_queue


def is_lead_staff(user: User, application: Application) -> bool:
    return Member.objects.filter(
        application=application, is_lead=True, organisation__memberships__user=user
    ).exists()


@transaction.atomic
def access_invite(*, application: Application, email: str, permission: str, actor: User) -> Access:
    """Invite someone by e-mail; the link works once, for the account that follows it."""
    if not is_lead_staff(actor, application):
        raise ValidationError(
            _("Seule la structure cheffe de file peut partager le dossier."), code="not_lead"
        )
    email = email.strip().lower()
    if Access.objects.filter(application=application, email=email).exists():
        raise ValidationError(
            {"email": _("Cette personne est déjà invitée sur ce dossier.")}, code="duplicate"
        )
    access = Access(
        application=application,
        email=email,
        permission=permission,
        token=secrets.token_urlsafe(32),
        invited_by=actor,
    )
    access.full_clean()
    access.save()
    link = absolute_url("applications:access-accept", token=access.token)
    email_queue(
        key=f"application:{application.pk}:access:{access.pk}",
        to=[email],
        subject=_("Invitation à rejoindre le dossier %(reference)s") % {"reference": application.reference},
        body=_(
            "Bonjour,\n\n%(inviter)s vous invite à %(what)s le dossier %(reference)s « %(title)s » "
            "sur le portail Fabriques de territoires.\n\nPour accepter, connectez-vous (ou créez un "
            "compte) puis suivez ce lien :\n%(link)s\n\nL'équipe Fabriques de territoires"
        )
        % {
            "inviter": actor.get_full_name() or actor.email,
            "what": _("consulter") if permission == Access.Permission.VIEW else _("consulter et modifier"),
            "reference": application.reference,
            "title": application.title,
            "link": link,
        },
    )
    audit_record(actor=actor, action="application.access_invite", target=application, data={"email": email})
    return access


@transaction.atomic
def access_accept(*, token: str, user: User) -> Access:
    access = Access.objects.select_for_update().filter(token=token).first()
    if access is None:
        raise ValidationError(_("Cette invitation n'existe pas ou a été retirée."), code="unknown")
    if access.user_id is not None and access.user_id != user.pk:
        raise ValidationError(_("Cette invitation a déjà été acceptée par un autre compte."), code="taken")
    # The link is not a bearer token: only the account of the invited address may use it.
    if user.email.lower() != access.email.lower():
        raise ValidationError(
            _("Cette invitation a été envoyée à une autre adresse e-mail que celle de votre compte."),
            code="other_address",
        )
    if access.user_id is None:
        access.user = user
        access.accepted_at = timezone.now()
        access.save(update_fields=["user", "accepted_at"])
        audit_record(actor=user, action="application.access_accept", target=access.application)
    return access


@transaction.atomic
def access_revoke(*, access: Access, actor: User) -> None:
    if not is_lead_staff(actor, access.application):
        raise ValidationError(_("Seule la structure cheffe de file peut retirer un accès."), code="not_lead")
    audit_record(
        actor=actor,
        action="application.access_revoke",
        target=access.application,
        data={"email": access.email},
    )
    access.delete()
