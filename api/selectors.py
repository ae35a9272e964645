"""Reads of the read API: the pages' scoped querysets, narrowed by filters and read by pages.

Every list starts from the queryset the portal's own pages use for the same user
(`applications_visible_to`, `visibility_condition` on the dossier a row belongs to), so a token
sees exactly what its user sees in the portal: an instructor, the submitted dossiers of their
territory; an applicant, their own; a programme admin, every submitted dossier. Nothing here
decides visibility on its own.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Generic, TypeVar

from django.db.models import (
    CharField,
    DecimalField,
    Exists,
    F,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Role, User
from accounts.roles import has_role
from api.models import ApiCall, ApiToken
from applications.models import Application, Call, Member
from applications.selectors import applications_visible_to, visibility_condition
from grants.models import Grant, Tranche, TrancheStatusChange
from grants.selectors.exports import NATURAL_PERSON_CATEGORY_PREFIX

M = TypeVar("M", bound=Model)
MONEY = DecimalField(max_digits=16, decimal_places=2)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class BadCursor(ValueError):
    """A cursor this API did not hand out."""


# A cursor is the last id of a page in base 36: every string of this pattern is one (so a client
# cannot build a cursor that fails), and 12 digits stay below PostgreSQL's largest bigint.
CURSOR_PATTERN = r"^[0-9a-z]{1,12}$"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def cursor_encode(last_id: int) -> str:
    """An opaque cursor: the next page starts after the row it stands for. Clients pass it back
    as given and never build one; its form may change."""
    digits = ""
    while True:
        last_id, digit = divmod(last_id, 36)
        digits = _DIGITS[digit] + digits
        if not last_id:
            return digits


def cursor_decode(cursor: str) -> int:
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise BadCursor(cursor)
    return int(cursor, 36)


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    next_cursor: str | None


def page_of(queryset: QuerySet[M], *, cursor: str | None, limit: int) -> Page[M]:
    """One page by keyset on the primary key: ids only grow and never change, so a row changed or
    added while a client walks the pages is neither seen twice nor skipped (an offset would shift
    under inserts), and each page is an index range scan however deep the walk."""
    if cursor:
        queryset = queryset.filter(pk__gt=cursor_decode(cursor))
    rows = list(queryset.order_by("pk")[: limit + 1])
    if len(rows) > limit:
        return Page(rows[:limit], cursor_encode(rows[limit - 1].pk))
    return Page(rows, None)


def aware(moment: datetime) -> datetime:
    """A date-time without an offset is read in the portal's time zone (Europe/Paris)."""
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def may_read_dossiers(user: User) -> bool:
    """Applicants, instructors and programme admins read dossiers through the API; an expert sees
    a dossier only through the opinion asked of them, which the API does not serve."""
    return any(has_role(user, role) for role in (Role.APPLICANT, Role.INSTRUCTOR, Role.ADMIN))


def _lead(field: str, application: str) -> Subquery:
    return Subquery(
        Member.objects.filter(application=OuterRef(application), is_lead=True)
        .order_by()
        .values(f"organisation__{field}")[:1],
        output_field=CharField(),
    )


def narrowed(
    queryset: QuerySet[M],
    *,
    to_dossier: str,
    to_call: str,
    call: str | None,
    wave: int | None,
    status: str | None,
    departement: str | None,
) -> QuerySet[M]:
    """The list filters every scoped list shares: the call (by slug), the wave (by number) and the
    département of the dossier a row belongs to, and the row's own state. `to_dossier` and
    `to_call` are the lookups from the row to its dossier and its call ("" and "call__" for a
    dossier, "application__" and "call__" for a grant)."""
    if call:
        queryset = queryset.filter(**{f"{to_call}slug": call})
    if wave is not None:
        queryset = queryset.filter(**{f"{to_dossier}wave__number": wave})
    if status:
        queryset = queryset.filter(status=status)
    if departement:
        queryset = queryset.filter(**{f"{to_dossier}departement_id": departement})
    return queryset


# --- calls ----------------------------------------------------------------------------------------


def calls_for(user: User | None) -> QuerySet[Call]:
    """Published calls (a programme admin sees the drafts too), with what each has paid.

    Envelope, committed and laureates are the call's own counters, kept under the call's lock by
    grants.services (what the admin's steering page shows); paid is the sum of its active grants'
    paid tranches, as on the envelope dashboard (grants.selectors.envelope.paid_tranches).
    """
    calls = Call.objects.all()
    if user is None or not has_role(user, Role.ADMIN):
        calls = calls.exclude(status=Call.Status.DRAFT)
    paid = (
        Tranche.objects.filter(
            grant__call=OuterRef("pk"), grant__status=Grant.Status.ACTIVE, status=Tranche.Status.PAID
        )
        .order_by()
        .values("grant__call")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return calls.annotate(paid_total=Coalesce(Subquery(paid, output_field=MONEY), Value(Decimal("0"))))


# --- dossiers -------------------------------------------------------------------------------------


def dossiers_for(
    user: User,
    *,
    call: str | None = None,
    wave: int | None = None,
    status: str | None = None,
    departement: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[Application]:
    dossiers = narrowed(
        applications_visible_to(user),
        to_dossier="",
        to_call="call__",
        call=call,
        wave=wave,
        status=status,
        departement=departement,
    )
    if updated_since is not None:
        dossiers = dossiers.filter(updated_at__gte=aware(updated_since))
    return dossiers.select_related("call", "wave").annotate(
        lead_name=_lead("name", "pk"), lead_siret=_lead("siret", "pk")
    )


# --- grants, tranches, payments ---------------------------------------------------------------------


def grants_for(
    user: User,
    *,
    call: str | None = None,
    wave: int | None = None,
    status: str | None = None,
    departement: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[Grant]:
    grants = narrowed(
        Grant.objects.filter(visibility_condition(user, "application__")),
        to_dossier="application__",
        to_call="call__",
        call=call,
        wave=wave,
        status=status,
        departement=departement,
    )
    if updated_since is not None:
        # A grant changes by its award, or by an amendment or cancellation (both re-save the dossier).
        grants = grants.filter(application__updated_at__gte=aware(updated_since))
    return grants.select_related("application", "call").annotate(agreement_number=F("agreement__number"))


def tranches_for(
    user: User,
    *,
    call: str | None = None,
    wave: int | None = None,
    status: str | None = None,
    departement: str | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[Tranche]:
    tranches = narrowed(
        Tranche.objects.filter(visibility_condition(user, "grant__application__")),
        to_dossier="grant__application__",
        to_call="grant__call__",
        call=call,
        wave=wave,
        status=status,
        departement=departement,
    )
    if updated_since is not None:
        # A tranche's every move is logged (grants.TrancheStatusChange).
        moved = TrancheStatusChange.objects.filter(tranche=OuterRef("pk"), at__gte=aware(updated_since))
        tranches = tranches.filter(Exists(moved))
    return tranches.select_related("grant__application", "grant__call")


def payments_for(
    user: User,
    *,
    call: str | None = None,
    wave: int | None = None,
    departement: str | None = None,
    paid_since: date | None = None,
) -> QuerySet[Tranche]:
    """The tranches paid: date, amount, reference, the beneficiary's SIRET and the agreement."""
    payments = tranches_for(user, call=call, wave=wave, departement=departement).filter(
        status=Tranche.Status.PAID
    )
    if paid_since is not None:
        payments = payments.filter(paid_on__gte=paid_since)
    return payments.annotate(
        beneficiary_siret=_lead("siret", "grant__application"),
        agreement_number=F("grant__agreement__number"),
    )


# --- the public laureates ---------------------------------------------------------------------------


def laureates_of(*, call: Call, departement: str | None = None) -> QuerySet[Grant]:
    """The public list of laureates (grants.selectors.exports.laureate_rows): active grants by their
    lead structure, legal persons only, an entrepreneur's name never published."""
    grants = (
        Grant.objects.filter(call=call, status=Grant.Status.ACTIVE)
        .annotate(
            lead_name=_lead("name", "application"), lead_category=_lead("legal_category_id", "application")
        )
        .exclude(lead_category__startswith=NATURAL_PERSON_CATEGORY_PREFIX)
        .exclude(lead_name__isnull=True)
        .select_related("application__departement")
    )
    if departement:
        grants = grants.filter(application__departement_id=departement)
    return grants


def public_call(slug: str) -> Call | None:
    return Call.objects.exclude(status=Call.Status.DRAFT).filter(slug=slug).first()


# --- tokens (the admin's page) ---------------------------------------------------------------------


def token_authenticate(secret: str) -> ApiToken | None:
    """The usable token with this secret, with its user, or None (unknown, expired, revoked, or its
    user deactivated)."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(secret_hash=secret_hash(secret), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    return token


def token_list() -> QuerySet[ApiToken]:
    return ApiToken.objects.select_related("user", "created_by").order_by("-created_at", "-pk")


def token_recent_calls(token: ApiToken, limit: int = 20) -> list[ApiCall]:
    return list(ApiCall.objects.filter(token=token).order_by("-at", "-pk")[:limit])


def money(value: Decimal | int | None) -> str:
    """Euros as a string with two decimals ("150000.00"): exact, whatever the client's float."""
    return f"{Decimal(value or 0):.2f}"
