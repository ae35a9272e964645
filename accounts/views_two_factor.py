"""The pages of two-factor authentication: enrolment, verification at login, backup codes.

accounts.middleware.TwoFactorRequiredMiddleware sends an instructor or an admin whose session is
not verified here, whatever page they asked for; these pages bring them back to it (`next`).
"""

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticToken

from accounts.forms import TwoFactorCodeForm
from accounts.middleware import TWO_FACTOR_PENDING_KEY
from accounts.models import User
from accounts.roles import home_url_for
from accounts.two_factor import (
    backup_codes_regenerate,
    enrolment_confirm,
    enrolment_for,
    format_backup_code,
    has_confirmed_device,
    two_factor_required,
    verify_code,
)
from core.refusals import apply_refusal

# The backup codes travel once from the page that creates them to the page that shows them.
BACKUP_CODES_SESSION_KEY = "two_factor_new_backup_codes"


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return home_url_for(request.user)


def _with_next(url_name: str, next_url: str) -> str:
    from urllib.parse import urlencode

    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


def _is_verified(user: Any) -> bool:
    return bool(getattr(user, "is_verified", lambda: False)())


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of the login: the code of the authenticator or a backup code."""
    user = cast(User, request.user)
    next_url = _next_url(request)
    if _is_verified(user):
        return redirect(next_url)
    if not has_confirmed_device(user):
        if not two_factor_required(user):
            # An applicant whose authenticator was reset owes nothing any more.
            request.session.pop(TWO_FACTOR_PENDING_KEY, None)
            return redirect(next_url)
        return redirect(_with_next("accounts:two-factor-setup", next_url))
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = verify_code(user=user, code=form.cleaned_data["code"])
        except ValidationError as error:
            apply_refusal(form, error, fallback_field="code")
        else:
            # A new session key once the second factor is given, as at the password step.
            request.session.cycle_key()
            otp_login(request, device)
            return redirect(next_url)
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form, "next": next_url, "title": _("Vérification en deux étapes")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator application: scan the QR code (or type the key), give a code."""
    user = cast(User, request.user)
    next_url = _next_url(request)
    # Replacing an authenticator needs the current one: someone who only has the password must
    # not be able to enrol a device of their own.
    if has_confirmed_device(user) and not _is_verified(user):
        return redirect(_with_next("accounts:two-factor-verify", next_url))
    form = TwoFactorCodeForm(request.POST or None)
    # Backup codes do not exist yet: only the application's code confirms it.
    form.fields["code"].help_text = _("Les six chiffres affichés par votre application.")
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = enrolment_confirm(
                user=user, session=request.session, code=form.cleaned_data["code"]
            )
        except ValidationError as error:
            apply_refusal(form, error, fallback_field="code")
        else:
            request.session.cycle_key()
            otp_login(request, device)
            request.session[BACKUP_CODES_SESSION_KEY] = codes
            messages.success(request, _("La vérification en deux étapes est activée sur votre compte."))
            return redirect(_with_next("accounts:two-factor-backup-codes", next_url))
    enrolment = enrolment_for(user, request.session)
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "next": next_url,
            "enrolment": enrolment,
            "title": _("Activer la vérification en deux étapes"),
        },
    )


@login_required
@require_http_methods(["GET"])
def backup_codes(request: HttpRequest) -> HttpResponse:
    """The backup codes just created, shown once: reloading the page does not show them again."""
    codes = request.session.pop(BACKUP_CODES_SESSION_KEY, None)
    if not codes:
        return redirect("accounts:security")
    return render(
        request,
        "accounts/two_factor_backup_codes.html",
        {
            "codes": [format_backup_code(code) for code in codes],
            "next": _next_url(request),
            "title": _("Vos codes de secours"),
        },
    )


@login_required
@require_POST
def backup_codes_new(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    if not _is_verified(user):
        return redirect(_with_next("accounts:two-factor-verify", reverse("accounts:security")))
    request.session[BACKUP_CODES_SESSION_KEY] = backup_codes_regenerate(user=user)
    return redirect(_with_next("accounts:two-factor-backup-codes", reverse("accounts:security")))


@login_required
@require_http_methods(["GET"])
def security(request: HttpRequest) -> HttpResponse:
    """The account's security: whether two-factor authentication is on, backup codes left."""
    user = cast(User, request.user)
    remaining = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return render(
        request,
        "accounts/security.html",
        {
            "enrolled": has_confirmed_device(user),
            "verified": _is_verified(user),
            "required": two_factor_required(user),
            "remaining_backup_codes": remaining,
            "title": _("Sécurité du compte"),
        },
    )
