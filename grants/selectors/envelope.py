"""Reads for the envelope's dashboard: what a call has committed and paid, and where.

The dashboard's figures come from four queries whatever the number of grants: the call's active
grants read once, one row each with what was paid on it (their number is bounded by the call's
target, not by its dossiers), summed here into every breakdown (Decimal sums are exact, as the
database's); the places' zones, the départements and the years. One grouped query per
breakdown and per amount cost more (sixteen queries, issue 13).

Only active grants count: a cancelled grant (dossier reopened) released its amount.

Zones: a dossier may have several places, in different zones. It counts once in each zone its
places have (a dossier with a place in a QPV and another in a rural area counts in both), and in
« Non renseignée » when it has no place or a place whose zone is unknown. The zone table
therefore does not add up to the totals when a dossier spans several zones; each zone's own
figures are exact (a grant is never counted twice in the same zone).
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple, TypedDict

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractYear
from django.utils.translation import gettext as _

from accounts.models import GroupHeadcount, Role
from applications.models import Application, Call, DossierCount, Member
from core.formatting import french_sorted
from fabriques.models import ApplicantFamily, Departement, Region, Zone
from grants.models import Grant, SubEnvelope, Tranche

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=16, decimal_places=2)


class Totals(TypedDict):
    envelope: Decimal
    committed: Decimal
    paid: Decimal
    remaining: Decimal
    laureates: int
    target: int


def _money(value: Decimal | int | float | None) -> Decimal:
    """Every amount of the dashboard as a Decimal with two places (SQLite may return fewer)."""
    if value is None:
        return ZERO
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _committed_expr() -> Any:
    return Sum(F("amount") + F("bonus"), output_field=MONEY)


def active_grants(call: Call) -> QuerySet[Grant]:
    return Grant.objects.filter(call=call, status=Grant.Status.ACTIVE)


def paid_tranches(call: Call) -> QuerySet[Tranche]:
    return Tranche.objects.filter(
        grant__call=call, grant__status=Grant.Status.ACTIVE, status=Tranche.Status.PAID
    )


def envelope_totals(call: Call) -> Totals:
    """The headline figures, in two queries: what a daily snapshot keeps."""
    grants = active_grants(call).aggregate(committed=_committed_expr(), laureates=Count("pk"))
    paid = paid_tranches(call).aggregate(paid=Sum("amount"))["paid"]
    envelope = _money(call.envelope)
    committed = _money(grants["committed"])
    return {
        "envelope": envelope,
        "committed": committed,
        "paid": _money(paid),
        "remaining": envelope - committed,
        "laureates": grants["laureates"],
        "target": call.target_count,
    }


def _row(
    code: str, label: str, laureates: int = 0, committed: Any = None, paid: Any = None
) -> dict[str, Any]:
    return {
        "code": code,
        "name": label,
        "laureates": laureates,
        "committed": _money(committed),
        "paid": _money(paid),
    }


def _lead_family(application_ref: str) -> Subquery:
    """The family of the dossier's lead structure (its legal category's)."""
    return Subquery(
        Member.objects.filter(application=OuterRef(application_ref), is_lead=True).values(
            "organisation__legal_category__family"
        )[:1]
    )


class _Laureate(NamedTuple):
    """One active grant of the call, with what the breakdowns group it by."""

    pk: int
    application_id: int
    kind: str
    departement_id: str | None
    committed: Decimal
    family: str | None
    paid: Decimal


def _laureates(call: Call) -> list[_Laureate]:
    """The call's active grants, one row each, with what was paid on each: one query.

    The rows are bounded by the call's laureates (its target), not by its dossiers: every
    breakdown below is summed here from them, instead of one grouped query per breakdown and per
    amount (sixteen queries before, issue 13). Sums of Decimals are exact, as the database's.
    """
    paid = Subquery(
        Tranche.objects.filter(grant=OuterRef("pk"), status=Tranche.Status.PAID)
        .order_by()
        .values("grant")
        .annotate(total=Sum("amount"))
        .values("total"),
        output_field=MONEY,
    )
    rows = (
        active_grants(call)
        .annotate(family=_lead_family("application"), paid=paid)
        .order_by()
        .values_list(
            "pk",
            "application_id",
            "application__kind",
            "application__departement_id",
            "amount",
            "bonus",
            "family",
            "paid",
        )
    )
    return [
        _Laureate(pk, application_id, kind, departement_id, amount + bonus, family, paid or ZERO)
        for pk, application_id, kind, departement_id, amount, bonus, family, paid in rows
    ]


def _sums(laureates: list[_Laureate], key: Callable[[_Laureate], Any]) -> dict[Any, list[Any]]:
    """[laureates, committed, paid] per value of `key`, in the order the values first appear."""
    sums: dict[Any, list[Any]] = {}
    for laureate in laureates:
        total = sums.setdefault(key(laureate), [0, ZERO, ZERO])
        total[0] += 1
        total[1] += laureate.committed
        total[2] += laureate.paid
    return sums


def _territories(
    laureates: list[_Laureate],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """By département (all of them, with zeros) and by région (the sums of its départements)."""
    by_dep = _sums(laureates, lambda laureate: laureate.departement_id)
    departements: list[dict[str, Any]] = []
    regions: dict[str, dict[str, Any]] = {}
    # Plain tuples: 101 départements and their régions as model instances cost a millisecond.
    listed = Departement.objects.order_by("code").values_list("code", "name", "region_id", "region__name")
    for code, name, region_code, region_name in listed:
        sums = by_dep.get(code)
        row = _row(code, name, *(sums or ()))
        row["region_code"] = region_code
        row["region_name"] = region_name
        departements.append(row)
        if region_code not in regions:
            regions[region_code] = _row(region_code, region_name)
        if sums:
            region_row = regions[region_code]
            region_row["laureates"] += sums[0]
            region_row["committed"] += sums[1]
            region_row["paid"] += sums[2]
    for region_row in regions.values():
        region_row["committed"] = _money(region_row["committed"])
        region_row["paid"] = _money(region_row["paid"])
    by_region = french_sorted(regions.values(), key=lambda row: row["name"])
    # A grant whose dossier has no département (not expected: it is set at submission) stays
    # visible in a row of its own rather than vanishing from the breakdown.
    if None in by_dep:
        unknown = _row("", _("Non renseigné"), *by_dep[None])
        departements.append({**unknown, "region_code": "", "region_name": _("Non renseignée")})
        by_region.append(unknown)
    without = [
        {"code": row["code"], "name": row["name"]}
        for row in departements
        if row["code"] and row["laureates"] == 0
    ]
    return by_region, departements, without


ZONE_ORDER = [Zone.QPV, Zone.NEAR_QPV, Zone.RURAL, Zone.OTHER, Zone.UNKNOWN]


def _by_zone(call: Call, laureates: list[_Laureate]) -> list[dict[str, Any]]:
    """Laureates, committed and paid per zone of their places, summed here; one query (the places).

    A dossier counts in every zone where it has a place, and in « Non renseignée » when it has
    none. One conditional aggregate with an EXISTS per zone cost more.
    """
    zones: dict[int, set[str]] = defaultdict(set)
    places = (
        Application.places.through.objects.filter(
            application__grants__call=call, application__grants__status=Grant.Status.ACTIVE
        )
        .values_list("application_id", "tierslieu__zone")
        .distinct()
    )
    for application_id, zone in places:
        zones[application_id].add(zone)
    totals: dict[str, list[Any]] = {zone.value: [0, Decimal("0"), Decimal("0")] for zone in ZONE_ORDER}
    for laureate in laureates:
        for zone in zones.get(laureate.application_id) or {Zone.UNKNOWN.value}:
            if zone not in totals:
                continue
            total = totals[zone]
            total[0] += 1
            total[1] += laureate.committed
            total[2] += laureate.paid
    return [
        _row(zone.value, str(zone.label), totals[zone.value][0], totals[zone.value][1], totals[zone.value][2])
        for zone in ZONE_ORDER
    ]


def _grouped(
    laureates: list[_Laureate], choices: list[tuple[str, str]], key: Callable[[_Laureate], Any]
) -> list[dict[str, Any]]:
    """Laureates, committed and paid grouped by `key`, in the order of `choices`.

    Values outside `choices` (none expected) are gathered in a last row.
    """
    sums = _sums(laureates, key)
    rows = [_row(code, label, *sums.get(code, ())) for code, label in choices]
    known = {code for code, _label in choices}
    extra = [code for code in sums if code not in known]
    if extra:
        rows.append(
            _row(
                "",
                _("Non renseignée"),
                sum(sums[code][0] for code in extra),
                sum((sums[code][1] for code in extra), ZERO),
                sum((sums[code][2] for code in extra), ZERO),
            )
        )
    return rows


def _by_kind(laureates: list[_Laureate]) -> list[dict[str, Any]]:
    choices = [(str(value), str(label)) for value, label in Application.Kind.choices]
    return _grouped(laureates, choices, lambda laureate: laureate.kind)


def _by_family(laureates: list[_Laureate]) -> list[dict[str, Any]]:
    choices = [(str(value), str(label)) for value, label in ApplicantFamily.choices]
    return _grouped(laureates, choices, lambda laureate: laureate.family)


def _by_year(call: Call) -> list[dict[str, Any]]:
    """Per calendar year: unpaid tranches by the year they fall due, paid ones by the year paid.

    Cancelled tranches are left out. One grouped query.
    """
    rows = (
        Tranche.objects.filter(grant__call=call, grant__status=Grant.Status.ACTIVE)
        .exclude(status=Tranche.Status.CANCELLED)
        .annotate(
            year=Case(
                When(status=Tranche.Status.PAID, then=ExtractYear("paid_on")),
                default=ExtractYear("due_date"),
            )
        )
        .values("year")
        .annotate(
            scheduled=Coalesce(
                Sum("amount", filter=~Q(status=Tranche.Status.PAID)), Value(ZERO), output_field=MONEY
            ),
            paid=Coalesce(
                Sum("amount", filter=Q(status=Tranche.Status.PAID)), Value(ZERO), output_field=MONEY
            ),
        )
    )
    result = [
        {"year": row["year"], "scheduled": _money(row["scheduled"]), "paid": _money(row["paid"])}
        for row in rows
    ]
    # Years in order; tranches without a due date (none are created so) last.
    return sorted(result, key=lambda row: (row["year"] is None, row["year"] or 0))


def envelope_figures(call: Call) -> dict[str, Any]:
    """Everything the dashboard shows for a call, in a fixed number of queries (four)."""
    laureate_rows = _laureates(call)
    envelope = _money(call.envelope)
    committed = _money(sum((laureate.committed for laureate in laureate_rows), ZERO))
    totals: Totals = {
        "envelope": envelope,
        "committed": committed,
        "paid": _money(sum((laureate.paid for laureate in laureate_rows), ZERO)),
        "remaining": envelope - committed,
        "laureates": len(laureate_rows),
        "target": call.target_count,
    }
    laureates, target = totals["laureates"], totals["target"]
    # The exact mean rounded half up, as PostgreSQL's AVG of numerics then _money gave it (a mean
    # of cents is never within its 16 decimals of a half cent without being on it).
    average_award = _money(committed / laureates) if laureates else None
    missing = max(target - laureates, 0)
    remaining_per_missing = (
        (totals["remaining"] / missing).quantize(CENT, rounding=ROUND_HALF_UP) if missing else None
    )
    projection = None
    if average_award is not None:
        projected = (average_award * target).quantize(CENT)
        projection = {
            "amount": projected,
            "envelope": totals["envelope"],
            "balance": totals["envelope"] - projected,
            "overrun": max(projected - totals["envelope"], ZERO),
            "exceeds": projected > totals["envelope"],
        }
    by_region, by_departement, without = _territories(laureate_rows)
    return {
        "call": call,
        **totals,
        "committed_percent": _percent(totals["committed"], totals["envelope"]),
        "paid_percent": _percent(totals["paid"], totals["envelope"]),
        "laureates_percent": _percent(laureates, target),
        "missing": missing,
        "average_award": average_award,
        "remaining_per_missing": remaining_per_missing,
        "projection": projection,
        # The call's counters are kept under the awards' lock; the sums must agree with them.
        "counters_match": totals["committed"] == _money(call.committed_amount)
        and laureates == call.laureate_count,
        "by_region": by_region,
        "by_departement": by_departement,
        "departements_without_laureate": without,
        "by_zone": _by_zone(call, laureate_rows),
        "by_kind": _by_kind(laureate_rows),
        "by_family": _by_family(laureate_rows),
        "by_year": _by_year(call),
    }


# --- Sub-envelopes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubEnvelopeRemaining:
    """What a sub-envelope still allows: a dossier of one of `departements` draws on it.

    A région's row covers all its départements (those with a sub-envelope of their own too: a
    dossier there draws on both rows).
    """

    region_code: str
    departement_code: str | None
    departements: frozenset[str]
    amount: Decimal
    committed: Decimal
    remaining: Decimal


def sub_envelopes_remaining(call: Call) -> list[SubEnvelopeRemaining]:
    """The call's sub-envelopes with what they still allow, régions first (two queries).

    The figures are the counters kept under the call's lock by the commit paths, so they agree
    with what an award would be refused on.
    """
    subs = list(
        SubEnvelope.objects.filter(call=call)
        .order_by(F("departement_id").asc(nulls_first=True), "region_id", "departement_id")
        .values_list("region_id", "departement_id", "amount", "committed_amount")
    )
    if not subs:
        return []
    covered: dict[str, set[str]] = defaultdict(set)
    for code, region_code in Departement.objects.values_list("code", "region_id"):
        covered[region_code].add(code)
    return [
        SubEnvelopeRemaining(
            region_code=region_code,
            departement_code=departement_code,
            departements=frozenset({departement_code} if departement_code else covered[region_code]),
            amount=_money(amount),
            committed=_money(committed),
            remaining=_money(amount) - _money(committed),
        )
        for region_code, departement_code, amount, committed in subs
    ]


def sub_envelope_figures(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's rows of the call's sub-envelopes, each région followed by its départements:
    amount, committed, remaining, share of the call's envelope, laureates. One query: the
    laureates come from `envelope_figures`' territories (`figures`), the committed amounts from
    the counters kept under the call's lock.
    """
    call: Call = figures["call"]
    subs = list(SubEnvelope.objects.filter(call=call).select_related("region", "departement"))
    if not subs:
        return []
    laureates = {row["code"]: row["laureates"] for row in figures["by_departement"]}
    laureates |= {("region", row["code"]): row["laureates"] for row in figures["by_region"]}
    envelope = _money(call.envelope)

    def row(sub: SubEnvelope) -> dict[str, Any]:
        amount, committed = _money(sub.amount), _money(sub.committed_amount)
        departement = sub.departement
        return {
            "region_code": sub.region_id,
            "code": sub.departement_id or sub.region_id,
            "is_departement": departement is not None,
            "name": f"{departement.name} ({departement.code})"
            if departement is not None
            else sub.region.name,
            "amount": amount,
            "committed": committed,
            "remaining": amount - committed,
            "share": _percent(amount, envelope),
            "committed_percent": _percent(committed, amount),
            "laureates": laureates.get(sub.departement_id if departement else ("region", sub.region_id), 0),
        }

    regions = french_sorted([row(sub) for sub in subs if sub.departement_id is None], key=lambda r: r["name"])
    departements = sorted((row(sub) for sub in subs if sub.departement_id), key=lambda r: r["code"])
    ordered: list[dict[str, Any]] = []
    for region_row in regions:
        ordered.append(region_row)
        ordered += [dep for dep in departements if dep["region_code"] == region_row["region_code"]]
    return ordered


# --- The steering home ---------------------------------------------------------------------------


def calls_with_dossier_counts() -> list[Call]:
    """Every call, latest first, each with `submitted` (dossiers past the draft) and `in_review`.

    Two queries whatever the number of dossiers: the counts come from `DossierCount`, kept by the
    database per call, département and state.
    """
    calls = list(Call.objects.order_by("-opens_at"))
    by_call: dict[int, dict[str, int]] = {}
    rows = (
        DossierCount.objects.exclude(status=Application.Status.DRAFT)
        .order_by()
        .values_list("call_id", "status")
        .annotate(n=Sum("count"))
    )
    for call_id, status, count in rows:
        by_call.setdefault(call_id, {})[status] = int(count or 0)
    in_review = {Application.Status.IN_REVIEW, Application.Status.CORRECTIONS}
    for call in calls:
        counts = by_call.get(call.pk, {})
        call.submitted = sum(counts.values())  # type: ignore[attr-defined]
        call.in_review = sum(n for status, n in counts.items() if status in in_review)  # type: ignore[attr-defined]
    return calls


def accounts_overview() -> dict[str, int]:
    """Head counts shown to programme admins: accounts per role and the reference geography.

    Accounts per role come from `accounts.GroupHeadcount`, kept by triggers on the user-group
    links: three rows, whatever the number of accounts. The accounts awaiting confirmation are
    found through a partial index.
    """
    User = get_user_model()
    roles = [role.value for role in Role]
    per_role = dict(GroupHeadcount.objects.filter(group__name__in=roles).values_list("group__name", "count"))
    unconfirmed = User.objects.filter(is_active=False, email_confirmed_at__isnull=True).count()
    return {
        "applicants": per_role.get(Role.APPLICANT.value, 0),
        "instructors": per_role.get(Role.INSTRUCTOR.value, 0),
        "admins": per_role.get(Role.ADMIN.value, 0),
        "unconfirmed": unconfirmed,
        "regions": Region.objects.count(),
        "departements": Departement.objects.count(),
    }
