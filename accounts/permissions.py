"""Who may open which space. Plain functions, used by views and templates alike."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.models import Role, User
from accounts.roles import has_role


def can_use_applicant_space(user: User | AnonymousUser) -> bool:
    return has_role(user, Role.APPLICANT)


def can_use_admin_space(user: User | AnonymousUser) -> bool:
    return has_role(user, Role.ADMIN)


def can_use_expert_space(user: User | AnonymousUser) -> bool:
    """Experts, and the instruction's accounts, who may be asked for an opinion too."""
    return has_role(user, Role.EXPERT) or has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)


def role_required(check: Callable[[Any], bool]) -> Callable[..., Any]:
    """Anonymous users go to the login page; logged-in users without the role get a 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
