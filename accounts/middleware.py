"""Idle expiry of the sessions of instructors and programme admins.

Their accounts reach every dossier of a territory (or of the whole programme) and move money: a
session left open on an unattended computer ends after STAFF_SESSION_IDLE_SECONDS (one hour by
default) without a request. Applicants keep the ordinary session lifetime (SESSION_COOKIE_AGE).

The time of the last request is kept in the session, stamped at login (`staff_login_stamp`,
connected in accounts.apps) and refreshed by each request; the next request after the limit logs
the user out and sends them to the login page with a message, and back to where they were once
logged in again (`next`). htmx requests are told to load the login page as a whole (HX-Redirect),
not to swap it into a fragment of the page.

The stamp is rewritten only when it is at least ACTIVITY_RESOLUTION_SECONDS old: a session is not
saved on every click, at the cost of an expiry that may come up to a minute early.
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Role, User
from accounts.roles import has_staff_access

LAST_ACTIVITY_KEY = "staff_last_activity"
ACTIVITY_RESOLUTION_SECONDS = 60


def current_time() -> float:
    """Seconds since the epoch; a function of its own so that tests can move the clock."""
    return time.time()


def is_staff_session(user: object) -> bool:
    """Instructors and programme admins (superusers included) have the short idle limit."""
    return has_staff_access(user)


def idle_limit_text(seconds: int) -> str:
    """« une heure », « 2 heures », « 30 minutes »: the limit as the expiry message says it."""
    if seconds == 3600:
        return _("une heure")
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(count)d heure", "%(count)d heures", hours) % {"count": hours}
    minutes = max(1, seconds // 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def staff_login_stamp(sender: object, request: HttpRequest | None, user: object, **kwargs: object) -> None:
    """Receiver of `user_logged_in`: the idle clock of a staff session starts at login."""
    if request is None or not hasattr(request, "session") or not isinstance(user, User):
        return
    # Asked of the database rather than through accounts.roles, whose answer is cached on the
    # user object: the caller may change the user's roles after logging them in.
    staff_groups = user.groups.filter(name__in=[Role.INSTRUCTOR.value, Role.ADMIN.value])
    if user.is_superuser or user.is_staff or staff_groups.exists():
        request.session[LAST_ACTIVITY_KEY] = current_time()


class StaffIdleTimeoutMiddleware:
    """Log out an instructor or an admin whose previous request is older than the idle limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if is_staff_session(user):
            now = current_time()
            limit = int(settings.STAFF_SESSION_IDLE_SECONDS)
            last = request.session.get(LAST_ACTIVITY_KEY)
            if isinstance(last, int | float):
                if now - last > limit:
                    return self._expire(request, limit)
                if now - last < ACTIVITY_RESOLUTION_SECONDS:
                    return self.get_response(request)
            request.session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)

    def _expire(self, request: HttpRequest, limit: int) -> HttpResponse:
        """End the session and send the user to the login page, with a message."""
        # logout() flushes the session; the message then travels in the messages cookie.
        logout(request)
        message = _("Votre session a expiré après %(duration)s d'inactivité.")
        messages.warning(request, message % {"duration": idle_limit_text(limit)})
        if request.method in ("GET", "HEAD"):
            response = redirect_to_login(request.get_full_path())
        else:
            # A form posted after the limit: its address answers only POST, so no `next`.
            response = HttpResponseRedirect(resolve_url(settings.LOGIN_URL))
        if request.headers.get("HX-Request") == "true":
            # htmx follows a plain redirect itself and would swap the login page into a fragment.
            htmx_response = HttpResponse(status=204)
            htmx_response["HX-Redirect"] = response["Location"]
            return htmx_response
        return response


# Set at login for a user who has enrolled an authenticator without being obliged to (an
# applicant): they too must give a code before going further.
TWO_FACTOR_PENDING_KEY = "two_factor_pending"


def two_factor_login_flag(
    sender: object, request: HttpRequest | None, user: object, **kwargs: object
) -> None:
    """Receiver of `user_logged_in`: remember that this session still owes a second factor."""
    from accounts.two_factor import has_confirmed_device

    if request is None or not hasattr(request, "session") or not isinstance(user, User):
        return
    if has_confirmed_device(user):
        request.session[TWO_FACTOR_PENDING_KEY] = True


class TwoFactorRequiredMiddleware:
    """Send a session that owes a second factor to the verification page, whatever it asked for.

    Instructors and programme admins always owe one; other users once they have enrolled. Only
    the pages of the second step itself, logout and the public pages stay open meanwhile.
    """

    OPEN_URL_NAMES = frozenset(
        {
            "accounts:two-factor-verify",
            "accounts:two-factor-setup",
            "accounts:two-factor-backup-codes",
            "accounts:logout",
            "core:home",
            "core:legal-notice",
            "core:personal-data",
            "core:accessibility",
            "healthz",
        }
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        from accounts.two_factor import two_factor_required

        owes = request.session.get(TWO_FACTOR_PENDING_KEY) or two_factor_required(user)
        if not owes or user.is_verified():
            return self.get_response(request)
        from django.urls import Resolver404, resolve

        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if match.view_name in self.OPEN_URL_NAMES:
            return self.get_response(request)
        from urllib.parse import urlencode

        from django.urls import reverse

        target = reverse("accounts:two-factor-verify")
        if request.method in ("GET", "HEAD"):
            target = f"{target}?{urlencode({'next': request.get_full_path()})}"
        if request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)
