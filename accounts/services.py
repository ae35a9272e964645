"""Writes on accounts: sign-up, e-mail confirmation, roles. Each leaves an audit row."""

import json
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.models import AuditEvent, Role, User
from accounts.roles import notification_kinds_for
from accounts.tokens import email_confirmation_token
from core.links import absolute_url
from notifications.models import Document, OutgoingEmail
from notifications.services import document_retry, email_queue, email_retry
from notifications.services_inbox import notification_preferences_write


def audit_record(
    *, actor: User | None, action: str, target: Any = None, data: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one row to the audit log, in the caller's transaction."""
    event = AuditEvent(
        actor=actor,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:255] if target is not None else "",
        data=data or {},
    )
    event.full_clean()
    event.save()
    return event


def audit_snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """A row's values, JSON-safe (foreign keys by their key, amounts and dates as text)."""
    values = {}
    for name in fields:
        field = obj._meta.get_field(name)
        value = getattr(obj, field.attname)
        values[name] = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return values


def audit_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What an audit row keeps of an edit: the changed fields, with their values before and after."""
    changed = [name for name in after if before.get(name) != after[name]]
    return {
        "fields": changed,
        "before": {name: before.get(name) for name in changed},
        "after": {name: after[name] for name in changed},
    }


def user_send_confirmation(*, user: User) -> None:
    """Queue the e-mail carrying the link that activates the account."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = email_confirmation_token.make_token(user)
    link = absolute_url("accounts:confirm-email", uidb64=uid, token=token)
    context = {"user_name": user.get_short_name(), "link": link}
    email_queue(
        # One row per request: a resend asked at login must go out even if the token is unchanged.
        key=f"account-confirmation:{user.pk}:{timezone.now().isoformat()}",
        to=[user.email],
        subject=_("Confirmez votre adresse e-mail — Fabriques de territoires"),
        body=render_to_string("accounts/emails/confirm_email.txt", context),
    )


@transaction.atomic
def user_sign_up(*, email: str, password: str, first_name: str, last_name: str) -> User:
    """Create an applicant's account, inactive until the e-mail address is confirmed."""
    email = User.objects.normalize_email(email).strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            {"email": _("Un compte existe déjà avec cette adresse e-mail.")}, code="duplicate"
        )
    user = User(email=email, first_name=first_name.strip(), last_name=last_name.strip(), is_active=False)
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password1": error.messages}) from error
    user.set_password(password)
    user.full_clean()
    user.save()
    user.groups.add(Group.objects.get(name=Role.APPLICANT.value))
    audit_record(actor=user, action="account.sign_up", target=user)
    user_send_confirmation(user=user)
    return user


@transaction.atomic
def user_confirm_email(*, user: User) -> User:
    """Activate the account whose confirmation link was followed. Following it again is harmless."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.email_confirmed_at is not None and user.is_active:
        return user
    user.is_active = True
    user.email_confirmed_at = timezone.now()
    user.save(update_fields=["is_active", "email_confirmed_at"])
    audit_record(actor=user, action="account.email_confirmed", target=user)
    return user


@transaction.atomic
def user_set_role(*, user: User, role: Role, actor: User | None) -> User:
    """Give a user exactly one role. Programme admins may use the technical admin site."""
    current = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    if current == {role.value} and user.is_staff == (role == Role.ADMIN or user.is_superuser):
        return user
    # The old role(s) and staff flag, kept in the audit row: who had which rights, and since when.
    before = {"roles": sorted(current), "is_staff": user.is_staff}
    role_groups = Group.objects.filter(name__in=Role.values)
    user.groups.remove(*role_groups)
    user.groups.add(Group.objects.get(name=role.value))
    is_staff = role == Role.ADMIN or user.is_superuser
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    if hasattr(user, "_portal_roles"):
        del user._portal_roles
    audit_record(
        actor=actor,
        action="account.role_set",
        target=user,
        data={
            "role": role.value,
            "before": before,
            "after": {"roles": [role.value], "is_staff": user.is_staff},
        },
    )
    return user


@transaction.atomic
def notification_retry(*, row: OutgoingEmail | Document, actor: User | None) -> OutgoingEmail | Document:
    """Retry a failed e-mail or document, with an audit row saying who did, from what state.

    It lives here, not in notifications, because that app knows no users and no audit log: the
    state move is notifications' (email_retry, document_retry), the trace is this one's.
    """
    if isinstance(row, OutgoingEmail):
        change = email_retry(email=row)
        action = "notification.email_retry"
    else:
        change = document_retry(document=row)
        action = "notification.document_retry"
    audit_record(actor=actor, action=action, target=row, data={"key": row.key, **change})
    return row


# What the admin site's account page edits; roles go through user_set_role, the password through
# Django's own password form.
# Why a password changed: a programme admin set it in the admin site, or the owner followed a reset link.
PASSWORD_REASONS = ("admin", "reset")

USER_ADMIN_FIELDS = ("email", "first_name", "last_name", "phone", "job_title", "is_active", "is_superuser")


@transaction.atomic
def user_password_save(*, user: User, actor: User | None, reason: str) -> User:
    """Store a password already set on `user` (hashed by set_password, or made unusable), audited.

    The forms of Django that change a password (the admin's, the reset link's) set it on the object;
    this service is what writes it. The audit row says who, why, and whether a password is left, never
    the hash.
    """
    if reason not in PASSWORD_REASONS:
        raise ValueError(f"Unknown password change reason: {reason}")
    user.save(update_fields=["password"])
    audit_record(
        actor=actor,
        action="account.password_set",
        target=user,
        data={"reason": reason, "usable": user.has_usable_password()},
    )
    return user


@transaction.atomic
def user_create(*, user: User, actor: User | None) -> User:
    """Save an account built by the admin site (its password already hashed), audited."""
    if not user._state.adding:
        raise ValueError("user_create saves a new account")
    user.email = User.objects.normalize_email(user.email).strip().lower()
    user.full_clean()
    user.save()
    audit_record(actor=actor, action="account.create", target=user, data={"email": user.email})
    return user


@transaction.atomic
def user_update(*, user: User, actor: User | None, **fields: Any) -> User:
    """Change an account's identity or state; the audit row keeps each changed field before and after.

    The admin-site access (is_staff) follows the role and the superuser flag, as in user_set_role.
    """
    unknown = set(fields) - set(USER_ADMIN_FIELDS)
    if unknown:
        raise TypeError(f"Unknown account fields: {sorted(unknown)}")
    locked = User.objects.select_for_update().get(pk=user.pk)
    watched = [*fields, "is_staff"]
    before = audit_snapshot(locked, watched)
    for name, value in fields.items():
        setattr(locked, name, value)
    if "email" in fields:
        locked.email = User.objects.normalize_email(locked.email).strip().lower()
    locked.is_staff = locked.is_superuser or locked.groups.filter(name=Role.ADMIN.value).exists()
    locked.full_clean()
    data = audit_changes(before, audit_snapshot(locked, watched))
    if data["fields"]:
        locked.save(update_fields=data["fields"])
        audit_record(actor=actor, action="account.update", target=locked, data=data)
    return locked


@transaction.atomic
def notification_preferences_set(*, user: User, choices: dict[str, str], actor: User) -> dict[str, list[str]]:
    """A person's notification preferences (kind → frequency), for the kinds of their roles only;
    an audit row keeps what changed."""
    if actor.pk != user.pk:
        raise PermissionDenied(_("Chacun choisit ses propres notifications."))
    allowed = set(notification_kinds_for(user))
    if set(choices) - allowed:
        raise ValidationError(_("Ce type de notification ne concerne pas votre rôle."), code="kind")
    changes = notification_preferences_write(user_id=user.pk, choices=choices)
    if changes:
        audit_record(actor=actor, action="notifications.preferences", target=user, data={"changes": changes})
    return changes


def user_invite_expert(*, email: str, actor: User) -> tuple[User, bool]:
    """The account an opinion is asked of: the existing account of that address (given the role
    « Expert » unless it is an instructor's or an admin's, who see requests in the same space), or a
    new active account with no usable password, whose invitation link leads to choosing one.

    Returns the account and whether it was created. Audited when it is created or gains the role.
    """
    email = User.objects.normalize_email(email).strip().lower()
    user = User.objects.select_for_update().filter(email__iexact=email).first()
    created = user is None
    if user is None:
        user = User(email=email, is_active=True)
        user.set_unusable_password()
        user.full_clean()
        user.save()
    elif not user.is_active:
        raise ValidationError(
            {"email": _("Le compte de cette adresse est fermé : demandez l'avis à une autre adresse.")},
            code="inactive",
        )
    names = set(user.groups.values_list("name", flat=True))
    staff = bool(names & {Role.INSTRUCTOR.value, Role.ADMIN.value}) or user.is_superuser
    if not staff and Role.EXPERT.value not in names:
        user.groups.add(Group.objects.get(name=Role.EXPERT.value))
        if hasattr(user, "_portal_roles"):
            del user._portal_roles
        audit_record(
            actor=actor,
            action="account.expert_invite",
            target=user,
            data={"email": email, "created": created},
        )
    return user, created
