"""Roles: who a user is for the portal, where they land and what their navigation shows."""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from notifications.models import Audience, kinds_for

# The landing page of each role; the first matching role wins, from the most powerful down.
ROLE_ORDER: tuple[Role, ...] = (Role.ADMIN, Role.INSTRUCTOR, Role.APPLICANT, Role.EXPERT)
HOME_URL_NAMES: dict[Role, str] = {
    Role.ADMIN: "grants:admin-home",
    Role.INSTRUCTOR: "applications:instructor-home",
    Role.APPLICANT: "applications:applicant-home",
    Role.EXPERT: "applications:expert-home",
}


def roles_of(user: User | AnonymousUser) -> frozenset[Role]:
    """The roles of a user, read once per request and kept on the user object."""
    if not user.is_authenticated:
        return frozenset()
    cached: frozenset[Role] | None = getattr(user, "_portal_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        roles = {role for role in Role if role.value in names}
        if user.is_superuser:
            roles.add(Role.ADMIN)
        cached = frozenset(roles)
        setattr(user, "_portal_roles", cached)  # noqa: B010 (a per-request cache, not a field)
    return cached


def has_role(user: User | AnonymousUser, role: Role) -> bool:
    return role in roles_of(user)


def has_staff_access(user: object) -> bool:
    """Instructors, programme admins (superusers included) and `is_staff` accounts (the Django
    admin): the accounts that owe a second factor and have the short idle limit."""
    # request.user is a lazy object; isinstance() sees the User it wraps.
    if not isinstance(user, User) or not user.is_authenticated:
        return False
    return user.is_staff or has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)


def primary_role(user: User | AnonymousUser) -> Role | None:
    roles = roles_of(user)
    return next((role for role in ROLE_ORDER if role in roles), None)


def home_url_for(user: User | AnonymousUser) -> str:
    role = primary_role(user)
    if role is None:
        return reverse("core:home")
    return reverse(HOME_URL_NAMES[role])


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url: str
    current: bool


def navigation_for(user: User | AnonymousUser, path: str) -> list[NavItem]:
    """The main navigation: one entry per page the user's roles open to them."""
    entries: list[tuple[str | Promise, str]] = [(_("Accueil"), reverse("core:home"))]
    roles = roles_of(user)
    if Role.APPLICANT in roles:
        entries.append((_("Mon espace porteur"), reverse(HOME_URL_NAMES[Role.APPLICANT])))
        entries.append((_("Mes dossiers"), reverse("applications:dossier-list")))
        entries.append((_("Mes structures"), reverse("fabriques:organisation-list")))
    if Role.INSTRUCTOR in roles:
        entries.append((_("Instruction"), reverse(HOME_URL_NAMES[Role.INSTRUCTOR])))
    if Role.ADMIN in roles:
        entries.append((_("Pilotage du programme"), reverse(HOME_URL_NAMES[Role.ADMIN])))
    if Role.EXPERT in roles:
        entries.append((_("Mes demandes d'avis"), reverse(HOME_URL_NAMES[Role.EXPERT])))
    # The current entry is the one whose address is the longest prefix of the page's path.
    matching = [url for _label, url in entries if path == url or (url != "/" and path.startswith(url))]
    current_url = max(matching, key=len) if matching else None
    return [NavItem(label=label, url=url, current=url == current_url) for label, url in entries]


# The audiences of the notification centre each role belongs to (notifications.models.KIND_RULES):
# an admin instructs too.
ROLE_AUDIENCES: dict[Role, frozenset[str]] = {
    Role.APPLICANT: frozenset({Audience.APPLICANT}),
    Role.INSTRUCTOR: frozenset({Audience.INSTRUCTION}),
    Role.ADMIN: frozenset({Audience.INSTRUCTION, Audience.ADMIN}),
    Role.EXPERT: frozenset({Audience.EXPERT}),
}


def notification_kinds_for(user: User | AnonymousUser) -> list[str]:
    """The kinds of notification a user may receive, by their roles."""
    audiences: set[str] = set()
    for role in roles_of(user):
        audiences |= ROLE_AUDIENCES[role]
    return kinds_for(audiences)
