"""Two-factor authentication (TOTP, RFC 6238) for instructors and programme admins.

Their accounts reach every dossier of a territory or move the programme's money, so a password is
not enough: after it, they give a six-digit code from an authenticator application (FreeOTP,
Aegis, Google Authenticator, the one of their ministry...). The devices are django-otp's:

- one confirmed `TOTPDevice` per user, enrolled at the first login: the page shows the key as a QR
  code and as text, and the device is confirmed only by a correct code;
- one `StaticDevice` holding ten single-use backup codes, shown once at enrolment, for the day the
  phone is lost;
- an admin can reset both (the user enrols again at the next login), which is audited.

django-otp throttles wrong codes per device (the delay doubles after each failure), and a code is
accepted only once (`last_t`), so a code seen over a shoulder cannot be replayed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import devices_for_user, user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.roles import has_staff_access
from accounts.services import audit_record

BACKUP_CODE_COUNT = 10
DEVICE_NAME = "Application d'authentification"
BACKUP_DEVICE_NAME = "Codes de secours"


def two_factor_required(user: object) -> bool:
    """Instructors, programme admins and `is_staff` accounts must give a second factor."""
    return has_staff_access(user)


def has_confirmed_device(user: User) -> bool:
    return bool(user_has_device(user, confirmed=True))


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the key as text (grouped by four) and as an SVG QR code."""

    device: TOTPDevice
    key_text: str
    qr_svg: str


def _base32_key(device: TOTPDevice) -> str:
    from base64 import b32encode

    return b32encode(device.bin_key).decode("ascii").rstrip("=")


def _qr_svg(data: str) -> str:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode("utf-8")
    # The XML declaration has no place inside an HTML page.
    return svg[svg.index("<svg") :]


# The pending device of an enrolment belongs to the session that opened the page: another session
# (someone else who has the password) never sees its key, and opening the page elsewhere voids it.
PENDING_DEVICE_SESSION_KEY = "two_factor_pending_device"


def enrolment_for(user: User, session: SessionBase) -> Enrolment:
    """The unconfirmed device of this session's enrolment, created at its first visit and kept.

    Reloading the page shows the same key, so a user who scanned it before a reload is not lost.
    A new enrolment removes the user's other unconfirmed devices: a key shown to any other session
    (an attacker who has the password and opened the page first) is void before it is ever used.
    """
    pending = session.get(PENDING_DEVICE_SESSION_KEY)
    device = TOTPDevice.objects.filter(user=user, confirmed=False, pk=pending).first() if pending else None
    if device is None:
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
        session[PENDING_DEVICE_SESSION_KEY] = device.pk
    key = _base32_key(device)
    # config_url is the otpauth:// address, with the issuer of settings.OTP_TOTP_ISSUER.
    return Enrolment(
        device=device,
        key_text=" ".join(key[i : i + 4] for i in range(0, len(key), 4)),
        qr_svg=_qr_svg(device.config_url),
    )


def _clean_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


# django-otp doubles the delay after each wrong code without a useful bound; counted past this
# many failures, the delay stays at 2^(n-1) s = 8.5 minutes, so that someone who has the password
# cannot lock the owner out for days with one wrong code now and then.
MAX_COUNTED_FAILURES = 10


def _throttle_error(device: Device) -> ValidationError | None:
    failures = getattr(device, "throttling_failure_count", 0)
    if failures > MAX_COUNTED_FAILURES:
        device.throttling_failure_count = MAX_COUNTED_FAILURES
        device.save(update_fields=["throttling_failure_count"])
    allowed, details = device.verify_is_allowed()
    if allowed:
        return None
    seconds = 0
    if details and details.get("locked_until"):
        from django.utils import timezone

        seconds = max(1, int((details["locked_until"] - timezone.now()).total_seconds()))
    return ValidationError(
        _("Trop de codes erronés : réessayez dans %(seconds)d secondes.") % {"seconds": seconds or 1},
        code="throttled",
    )


def enrolment_confirm(*, user: User, session: SessionBase, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm this session's pending device with a code it generated; return it and the new
    backup codes.

    The other devices of the user (an older authenticator, older backup codes) are removed: one
    authenticator and one set of backup codes per account. A wrong code is counted by django-otp's
    throttling, in its own transaction, before the error is raised.
    """
    pending = session.get(PENDING_DEVICE_SESSION_KEY)
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False, pk=pending).first()
            if pending
            else None
        )
        if device is None:
            raise ValidationError(_("La page d'activation a expiré : rechargez-la."), code="no_device")
        throttled = _throttle_error(device)
        accepted = throttled is None and device.verify_token(_clean_code(code))
    if throttled is not None:
        raise throttled
    if not accepted:
        raise ValidationError(
            _("Ce code ne correspond pas. Vérifiez l'heure de votre téléphone et saisissez le code affiché."),
            code="invalid",
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        StaticDevice.objects.filter(user=user).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_backup_codes(user)
        audit_record(actor=user, action="two_factor.enrolled", target=user)
    session.pop(PENDING_DEVICE_SESSION_KEY, None)
    return device, codes


def _new_backup_codes(user: User) -> list[str]:
    static = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _index in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return codes


def format_backup_code(code: str) -> str:
    """« abcd-efgh »: easier to copy by hand; the dash is ignored when the code is typed."""
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


@transaction.atomic
def backup_codes_regenerate(*, user: User) -> list[str]:
    """New backup codes for a verified user; the old ones stop working."""
    StaticDevice.objects.filter(user=user).delete()
    codes = _new_backup_codes(user)
    audit_record(actor=user, action="two_factor.backup_codes_regenerated", target=user)
    return codes


def verify_code(*, user: User, code: str) -> Device:
    """The confirmed device that accepts the code (authenticator first, then backup codes).

    Raises a ValidationError in French for a wrong code, or while the device is throttled. A
    backup code is consumed by its use, which is audited.
    """
    cleaned = _clean_code(code)
    if not cleaned:
        raise ValidationError(_("Saisissez le code à six chiffres de votre application."), code="required")
    throttled: ValidationError | None = None
    with transaction.atomic():
        devices = list(devices_for_user(user, confirmed=True, for_verify=True))
        totp = [device for device in devices if isinstance(device, TOTPDevice)]
        static = [device for device in devices if isinstance(device, StaticDevice)]
        # A six-digit code is a TOTP code, anything else a backup code.
        candidates = totp if cleaned.isdigit() and len(cleaned) == 6 else static
        for device in candidates:
            throttled = _throttle_error(device)
            if throttled is not None:
                break
            if device.verify_token(cleaned):
                if isinstance(device, StaticDevice):
                    audit_record(
                        actor=user,
                        action="two_factor.backup_code_used",
                        target=user,
                        data={"remaining": device.token_set.count()},
                    )
                return device
    # Raised once the block has committed, so that the failures counted stay counted.
    if throttled is not None:
        raise throttled
    raise ValidationError(_("Ce code est incorrect ou a déjà servi."), code="invalid")


@transaction.atomic
def two_factor_reset(*, user: User, actor: User | None) -> int:
    """Remove every device of the user: they enrol again at their next login. Audited."""
    deleted = 0
    for model in (TOTPDevice, StaticDevice):
        count, _details = model.objects.filter(user=user).delete()
        deleted += count
    audit_record(actor=actor, action="two_factor.reset", target=user)
    return deleted
