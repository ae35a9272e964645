"""The envelope: the one place where a call's committed amount and laureate count change.

The call's row is the envelope's row. Every write on money takes the same locks in the same order:
the dossier, then its call (`lock_dossier_and_envelope`), then the grant, its agreement and its
tranches. `envelope_commit` and `envelope_release` move the counters of a call row locked that way;
a CHECK constraint (`committed_amount` between 0 and `envelope`) refuses any over-commitment
whatever path writes. What is paid is not a counter: it is the sum of the paid tranches, recounted
with the rest by `envelope_recount` (the `envelope_check` command, daily by the beat).

The award bounds (`award_check`), the yearly split and the tranches' amounts live here too, so
awards and amendments build their money the same way. `tests/grants/test_envelope_module.py` scans
the project for any other write of the counters.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from applications.models import Application, Call
from core.formatting import format_money
from grants.models import Grant, Tranche

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


def envelope_room_check(*, call: Call, amount: Decimal) -> None:
    """Refuse, with the envelope's message, an amount the envelope no longer covers (read-only)."""
    if amount > call.remaining_amount:
        raise _envelope_error(call, amount)


def envelope_commit(*, call: Call, amount: Decimal, laureates: int = 1) -> None:
    """Commit `amount` (and `laureates` new laureates) against a call locked by the caller."""
    if amount < 0 or laureates < 0:
        raise ValueError("envelope_commit takes positive figures; envelope_release gives back")
    envelope_room_check(call=call, amount=amount)
    call.committed_amount += amount
    call.laureate_count += laureates
    call.save(update_fields=["committed_amount", "laureate_count"])


def envelope_release(*, call: Call, amount: Decimal, laureates: int = 0) -> None:
    """Give back to the envelope of a locked call what a cancellation frees."""
    if amount < 0 or laureates < 0:
        raise ValueError("envelope_release takes positive figures; envelope_commit takes")
    call.committed_amount -= amount
    call.laureate_count -= laureates
    call.save(update_fields=["committed_amount", "laureate_count"])


def envelope_move(*, call: Call, difference: Decimal) -> None:
    """Commit a positive difference, release a negative one (an amendment's new amount)."""
    if difference > 0:
        envelope_commit(call=call, amount=difference, laureates=0)
    elif difference < 0:
        envelope_release(call=call, amount=-difference, laureates=0)


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
class EnvelopeCount:
    """A call's counters beside what its grants and tranches say they should be."""

    call: Call
    committed: Decimal  # the tranches not cancelled of the active grants
    paid: Decimal  # the paid tranches of the active grants
    laureates: int  # the active grants
    paid_outside: Decimal  # paid tranches of cancelled grants: money paid that no grant commits

    @property
    def committed_drift(self) -> Decimal:
        return self.call.committed_amount - self.committed

    @property
    def laureates_drift(self) -> int:
        return self.call.laureate_count - self.laureates


def envelope_recount(call: Call) -> EnvelopeCount:
    """Recount a call's envelope from its grants and tranches (three aggregate queries)."""
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
    return lines
