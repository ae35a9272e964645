"""The envelope: the one place where a call's committed amount and laureate count change.

The call's row is the envelope's row. Every write on money takes the same locks in the same order:
the dossier, then its call (`lock_dossier_and_envelope`), then the grant, its agreement and its
tranches. `envelope_commit` and `envelope_release` move the counters of a call row locked that way;
a CHECK constraint (`committed_amount` between 0 and `envelope`) refuses any over-commitment
whatever path writes. What is paid is not a counter: it is the sum of the paid tranches, recounted
with the rest by `envelope_recount` (the `envelope_check` command, daily by the beat).

Sub-envelopes (`SubEnvelope`: the envelope delegated to a région, or to a département within its
région) move with the call: `envelope_commit` / `envelope_release` take the dossier, lock the
sub-envelopes covering it (région's row, then département's) under the call's lock and move their
`committed_amount` with the call's; `sub_envelopes_set` sets their amounts under the same lock.

The award bounds (`award_check`), the yearly split and the tranches' amounts live here too, so
awards and amendments build their money the same way. `tests/grants/test_envelope_module.py` scans
the project for any other write of the counters.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application, Call
from core.formatting import format_money
from fabriques.models import Departement
from grants.models import Grant, SubEnvelope, Tranche

ZERO = Decimal("0.00")


def lock_dossier_and_envelope(application: Application) -> tuple[Application, Call]:
    """Lock the dossier, then its call (the envelope): the order every write on money follows.

    The caller then locks the grant, its agreement and its tranches, in that order, so that
    awards, amendments, terminations, cancellations and reopenings never deadlock.
    """
    locked = Application.objects.select_for_update().get(pk=application.pk)
    call = Call.objects.select_for_update(no_key=True).get(pk=locked.call_id)
    return locked, call


def _envelope_error(call: Call, amount: Decimal) -> ValidationError:
    message = _(
        "L'enveloppe de l'appel n'a plus que %(remaining)s disponibles : %(amount)s ne peuvent "
        "pas être engagés."
    ) % {"remaining": format_money(call.remaining_amount), "amount": format_money(amount)}
    return ValidationError({"amount": ValidationError(message, code="envelope")})


def envelope_room_check(*, call: Call, amount: Decimal, application: Application | None = None) -> None:
    """Refuse, with the envelope's message, an amount the envelope no longer covers (read-only).

    With `application`, the sub-envelopes covering the dossier are checked too (as they stand).
    """
    if amount > call.remaining_amount:
        raise _envelope_error(call, amount)
    if application is not None:
        for sub in sub_envelopes_covering(call=call, departement_id=application.departement_id):
            sub_envelope_room_check(sub=sub, amount=amount)


# --- Sub-envelopes: the call's envelope delegated to régions and départements ----------------------


def _delegated_to(sub: SubEnvelope) -> str:
    """« à la région Occitanie », « au département Gers (32) »."""
    if sub.departement is not None:
        return _("au département %(name)s (%(code)s)") % {
            "name": sub.departement.name,
            "code": sub.departement_id,
        }
    return _("à la région %(name)s") % {"name": sub.region.name}


def sub_envelope_error(
    sub: SubEnvelope, amount: Decimal, remaining: Decimal | None = None
) -> ValidationError:
    """The refusal of an amount a sub-envelope no longer covers, next to the amount's field."""
    message = _(
        "L'enveloppe déléguée %(to)s ne permet pas d'engager %(amount)s : il n'y reste que %(remaining)s."
    ) % {
        "to": _delegated_to(sub),
        "amount": format_money(amount),
        "remaining": format_money(sub.remaining_amount if remaining is None else remaining),
    }
    return ValidationError({"amount": ValidationError(message, code="envelope")})


def sub_envelope_room_check(*, sub: SubEnvelope, amount: Decimal) -> None:
    if amount > sub.remaining_amount:
        raise sub_envelope_error(sub, amount)


def _covering_filter(call: Call, departement_id: str) -> Q:
    region = Departement.objects.filter(code=departement_id).values("region_id")[:1]
    return Q(call=call) & (Q(departement_id=departement_id) | Q(departement__isnull=True, region_id=region))


def sub_envelopes_covering(*, call: Call, departement_id: str | None) -> list[SubEnvelope]:
    """The sub-envelopes a dossier of `departement_id` draws on, its région's first (read-only)."""
    if departement_id is None:
        return []
    return list(
        SubEnvelope.objects.filter(_covering_filter(call, departement_id))
        .select_related("region", "departement")
        .order_by(F("departement_id").asc(nulls_first=True))
    )


def sub_envelopes_lock(*, call: Call, application: Application) -> list[SubEnvelope]:
    """Lock the sub-envelopes covering the dossier: the région's row, then the département's.

    Taken under the call's lock only (every caller holds it): the call's row serialises every
    write on a call's money, so these rows can be locked after the grant's and tranches' rows
    (an amendment) or before them (an award) without any risk of deadlock.
    """
    if application.departement_id is None:
        return []
    return list(
        SubEnvelope.objects.select_for_update(no_key=True, of=("self",))
        .filter(_covering_filter(call, application.departement_id))
        .select_related("region", "departement")
        .order_by(F("departement_id").asc(nulls_first=True))
    )


def envelope_commit(*, call: Call, application: Application, amount: Decimal, laureates: int = 1) -> None:
    """Commit `amount` (and `laureates` new laureates) against a call locked by the caller, and
    against the sub-envelopes covering the dossier (locked here, after the call)."""
    if amount < 0 or laureates < 0:
        raise ValueError("envelope_commit takes positive figures; envelope_release gives back")
    envelope_room_check(call=call, amount=amount)
    subs = sub_envelopes_lock(call=call, application=application)
    for sub in subs:
        sub_envelope_room_check(sub=sub, amount=amount)
    call.committed_amount += amount
    call.laureate_count += laureates
    call.save(update_fields=["committed_amount", "laureate_count"])
    for sub in subs:
        sub.committed_amount += amount
        sub.save(update_fields=["committed_amount"])


def envelope_release(*, call: Call, application: Application, amount: Decimal, laureates: int = 0) -> None:
    """Give back to the envelope of a locked call, and to the dossier's sub-envelopes, what a
    cancellation frees."""
    if amount < 0 or laureates < 0:
        raise ValueError("envelope_release takes positive figures; envelope_commit takes")
    call.committed_amount -= amount
    call.laureate_count -= laureates
    call.save(update_fields=["committed_amount", "laureate_count"])
    for sub in sub_envelopes_lock(call=call, application=application):
        sub.committed_amount -= amount
        sub.save(update_fields=["committed_amount"])


def envelope_move(*, call: Call, application: Application, difference: Decimal) -> None:
    """Commit a positive difference, release a negative one (an amendment's new amount)."""
    if difference > 0:
        envelope_commit(call=call, application=application, amount=difference, laureates=0)
    elif difference < 0:
        envelope_release(call=call, application=application, amount=-difference, laureates=0)


def committed_by_departement(call: Call) -> dict[str | None, Decimal]:
    """What the call's live tranches commit, per département of their dossier (one grouped query).

    The same sum as the call's counter (`envelope_recount`): the tranches not cancelled of the
    active grants, FNT bonus included.
    """
    rows = (
        Tranche.objects.filter(grant__call=call, grant__status=Grant.Status.ACTIVE)
        .exclude(status=Tranche.Status.CANCELLED)
        .order_by()
        .values_list("grant__application__departement_id")
        .annotate(total=Sum("amount"))
    )
    return {departement_id: total or ZERO for departement_id, total in rows}


def sub_envelope_open(
    *,
    call: Call,
    region_id: str,
    departement_id: str | None,
    amount: Decimal,
    delegated_amount: Decimal,
    actor: User,
) -> SubEnvelope:
    """Create a sub-envelope of a call locked by the caller (`sub_envelopes_set`): its counter
    starts from what the live tranches of its dossiers already commit, recounted under that lock."""
    committed = committed_by_departement(call)
    covered = (
        [departement_id]
        if departement_id
        else list(Departement.objects.filter(region_id=region_id).values_list("code", flat=True))
    )
    sub = SubEnvelope(
        call=call,
        region_id=region_id,
        departement_id=departement_id,
        amount=amount,
        delegated_amount=delegated_amount,
        committed_amount=sum((committed.get(code, ZERO) for code in covered), ZERO),
        updated_by=actor,
        updated_at=timezone.now(),
    )
    sub.full_clean()
    sub.save()
    return sub


def award_check(call: Call, amount: Decimal, yearly: list[Decimal]) -> None:
    """The call's bounds, its yearly cap and the breakdown's sum, each error next to its field."""
    errors: dict[str, list[str]] = {}
    if not call.min_award <= amount <= call.max_award:
        errors.setdefault("amount", []).append(
            _("Le montant attribué doit être compris entre %(min)s et %(max)s.")
            % {"min": format_money(call.min_award), "max": format_money(call.max_award)}
        )
    if len(yearly) != call.duration_years:
        errors.setdefault("yearly", []).append(
            _("La répartition compte une tranche par année (%(n)d).") % {"n": call.duration_years}
        )
    for index, part in enumerate(yearly, start=1):
        if part < 0:
            errors.setdefault(f"yearly_{index}", []).append(_("Une tranche ne peut pas être négative."))
        if part > call.max_per_year:
            errors.setdefault(f"yearly_{index}", []).append(
                _("L'année %(year)d (%(part)s) dépasse le plafond annuel de %(cap)s.")
                % {"year": index, "part": format_money(part), "cap": format_money(call.max_per_year)}
            )
    if sum(yearly, Decimal("0")) != amount:
        errors.setdefault("yearly", []).append(
            _("La répartition par année (%(sum)s) ne correspond pas au montant attribué (%(amount)s).")
            % {"sum": format_money(sum(yearly, Decimal("0"))), "amount": format_money(amount)}
        )
    if errors:
        raise ValidationError(errors)


def add_years(start: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def split_yearly(amount: Decimal, years: int, asked: list[Decimal]) -> list[Decimal]:
    """The default breakdown: what was asked when the award matches it, else equal parts."""
    if len(asked) == years and sum(asked) == amount:
        return list(asked)
    # In cents: the leftover cents go one by one to the last years, so parts differ by a cent at most.
    cents = int((amount * 100).to_integral_value())
    base, extra = divmod(cents, years)
    return [Decimal(base + (1 if index >= years - extra else 0)) / 100 for index in range(years)]


def tranche_amounts(yearly: list[Decimal], bonus: Decimal) -> list[Decimal]:
    """What each tranche pays: its year's part of the operating grant, plus the FNT bonus on the first.

    The bonus is a one-off sum paid with the first tranche, outside the yearly cap: every euro
    committed is scheduled, so what is paid can reach what is committed. Awards and amendments
    both build their tranches here; `schedule_update` applies the same rule to the cap.
    """
    return [part + (bonus if index == 1 else Decimal("0")) for index, part in enumerate(yearly, start=1)]


@dataclass(frozen=True)
class SubEnvelopeCount:
    """A sub-envelope's counters beside what the live tranches of its dossiers commit."""

    sub: SubEnvelope
    committed: Decimal
    delegated: Decimal  # the amounts of its départements' sub-envelopes (a région's row)

    @property
    def committed_drift(self) -> Decimal:
        return self.sub.committed_amount - self.committed

    @property
    def delegated_drift(self) -> Decimal:
        return self.sub.delegated_amount - self.delegated


def sub_envelopes_recount(call: Call) -> list[SubEnvelopeCount]:
    """Recount every sub-envelope of a call: two queries (the rows, the tranches per département)."""
    subs = list(
        SubEnvelope.objects.filter(call=call)
        .select_related("region", "departement")
        .order_by("region__name", F("departement_id").asc(nulls_first=True))
    )
    if not subs:
        return []
    committed = committed_by_departement(call)
    region_of = dict(Departement.objects.values_list("code", "region_id"))
    by_region: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for departement_id, total in committed.items():
        if departement_id is not None:
            by_region[region_of[departement_id]] += total
    delegated: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for sub in subs:
        if sub.departement_id:
            delegated[sub.region_id] += sub.amount
    return [
        SubEnvelopeCount(
            sub=sub,
            committed=committed.get(sub.departement_id, ZERO)
            if sub.departement_id
            else by_region[sub.region_id],
            delegated=ZERO if sub.departement_id else delegated[sub.region_id],
        )
        for sub in subs
    ]


@dataclass(frozen=True)
class EnvelopeCount:
    """A call's counters beside what its grants and tranches say they should be."""

    call: Call
    committed: Decimal  # the tranches not cancelled of the active grants
    paid: Decimal  # the paid tranches of the active grants
    laureates: int  # the active grants
    paid_outside: Decimal  # paid tranches of cancelled grants: money paid that no grant commits
    sub_envelopes: tuple[SubEnvelopeCount, ...] = ()

    @property
    def committed_drift(self) -> Decimal:
        return self.call.committed_amount - self.committed

    @property
    def laureates_drift(self) -> int:
        return self.call.laureate_count - self.laureates


def envelope_recount(call: Call) -> EnvelopeCount:
    """Recount a call's envelope from its grants and tranches (three aggregate queries), and its
    sub-envelopes (one more, and two when it has any)."""
    call = Call.objects.get(pk=call.pk)  # the counters as they stand now
    active = Q(grant__status=Grant.Status.ACTIVE)
    paid = Q(status=Tranche.Status.PAID)
    sums = Tranche.objects.filter(grant__call=call).aggregate(
        committed=Sum("amount", filter=active & ~Q(status=Tranche.Status.CANCELLED)),
        paid=Sum("amount", filter=active & paid),
        paid_outside=Sum("amount", filter=~active & paid),
    )
    laureates = Grant.objects.filter(call=call, status=Grant.Status.ACTIVE).aggregate(n=Count("pk"))["n"]
    return EnvelopeCount(
        call=call,
        committed=sums["committed"] or ZERO,
        paid=sums["paid"] or ZERO,
        laureates=laureates,
        paid_outside=sums["paid_outside"] or ZERO,
        sub_envelopes=tuple(sub_envelopes_recount(call)),
    )


def envelope_drift_lines(count: EnvelopeCount) -> list[str]:
    """The drift of a recount, in French, one line per figure that disagrees (none when sound)."""
    lines: list[str] = []
    if count.committed_drift:
        lines.append(
            _("Engagé : le compteur indique %(counter)s, les tranches en cours totalisent %(sum)s.")
            % {"counter": format_money(count.call.committed_amount), "sum": format_money(count.committed)}
        )
    if count.laureates_drift:
        lines.append(
            _("Lauréats : le compteur indique %(counter)d, le nombre de subventions en cours est %(grants)d.")
            % {"counter": count.call.laureate_count, "grants": count.laureates}
        )
    if count.paid > count.committed:
        lines.append(
            _("Versé : %(paid)s versés dépassent les %(committed)s engagés.")
            % {"paid": format_money(count.paid), "committed": format_money(count.committed)}
        )
    if count.paid_outside:
        lines.append(
            _("Versé : %(amount)s versés sur des subventions annulées.")
            % {"amount": format_money(count.paid_outside)}
        )
    regions_total = sum((c.sub.amount for c in count.sub_envelopes if not c.sub.departement_id), ZERO)
    if regions_total > count.call.envelope:
        # The call's envelope lowered below what was delegated (the sub-envelopes never go above it).
        lines.append(
            _(
                "Enveloppes déléguées : les régions totalisent %(total)s, au-delà de l'enveloppe de "
                "l'appel (%(envelope)s)."
            )
            % {"total": format_money(regions_total), "envelope": format_money(count.call.envelope)}
        )
    for sub_count in count.sub_envelopes:
        label = _delegated_to(sub_count.sub)
        if sub_count.committed_drift:
            lines.append(
                _(
                    "Enveloppe déléguée %(label)s : le compteur indique %(counter)s engagés, les tranches "
                    "en cours de ses dossiers totalisent %(sum)s."
                )
                % {
                    "label": label,
                    "counter": format_money(sub_count.sub.committed_amount),
                    "sum": format_money(sub_count.committed),
                }
            )
        if sub_count.delegated_drift:
            lines.append(
                _(
                    "Enveloppe déléguée %(label)s : le compteur indique %(counter)s délégués aux "
                    "départements, leurs enveloppes totalisent %(sum)s."
                )
                % {
                    "label": label,
                    "counter": format_money(sub_count.sub.delegated_amount),
                    "sum": format_money(sub_count.delegated),
                }
            )
    return lines
