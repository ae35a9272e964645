"""Setting the amounts a call's envelope delegates to régions and départements.

`sub_envelopes_preview` (the recap) and `sub_envelopes_set` (under the call's lock, then every
sub-envelope's) check the whole set: amounts never negative nor below what is committed,
départements within their région, régions within the call's envelope. The counters themselves
are written by `grants.services.envelope` only (`sub_envelope_open` starts a new row's).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from applications.models import Call
from core.formatting import format_money
from fabriques.models import Departement, Region
from grants.models import SubEnvelope
from grants.services.envelope import committed_by_departement, sub_envelope_open

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class SubEnvelopeChange:
    """One line of the recap shown before the amounts are saved."""

    region: Region
    departement: Departement | None
    before: Decimal | None  # None: no sub-envelope yet
    after: Decimal | None  # None: the sub-envelope is removed
    committed: Decimal

    @property
    def label(self) -> str:
        if self.departement is not None:
            return _("Département %(name)s (%(code)s)") % {
                "name": self.departement.name,
                "code": self.departement.code,
            }
        return _("Région %(name)s") % {"name": self.region.name}


@dataclass(frozen=True)
class SubEnvelopePlan:
    """What `sub_envelopes_set` would do: the changed lines and the totals, once checked."""

    changes: list[SubEnvelopeChange]
    regions_total: Decimal
    envelope: Decimal


def _key(code: str, departement: bool) -> tuple[str, bool]:
    return (code, departement)


def _field(code: str, departement: bool) -> str:
    return f"departement_{code}" if departement else f"region_{code}"


def _sub_envelopes_plan(
    call: Call,
    regions: Mapping[str, Decimal | None],
    departements: Mapping[str, Decimal | None],
    existing: Iterable[SubEnvelope],
) -> SubEnvelopePlan:
    """Check the whole set of amounts asked (every région and département: None for none)."""
    current = {(sub.departement_id or sub.region_id, bool(sub.departement_id)): sub for sub in existing}
    region_rows = {region.code: region for region in Region.objects.all()}
    departement_rows = {dep.code: dep for dep in Departement.objects.select_related("region")}
    committed = committed_by_departement(call)
    errors: dict[str, list[str]] = defaultdict(list)

    def region_committed(code: str) -> Decimal:
        return sum(
            (committed.get(dep.code, ZERO) for dep in departement_rows.values() if dep.region_id == code),
            ZERO,
        )

    wanted_regions = {code: amount for code, amount in regions.items() if amount is not None}
    wanted_deps = {code: amount for code, amount in departements.items() if amount is not None}
    for code, amount in [*wanted_regions.items(), *wanted_deps.items()]:
        if amount < 0:
            errors[_field(code, code in wanted_deps)].append(
                _("Un montant délégué ne peut pas être négatif.")
            )
    changes: list[SubEnvelopeChange] = []
    for code, region in sorted(region_rows.items()):
        sub = current.get((code, False))
        after = wanted_regions.get(code)
        before = sub.amount if sub is not None else None
        # A new row starts from what the région's dossiers already hold; a kept one from its counter.
        held = sub.committed_amount if sub is not None else region_committed(code)
        deps = [dep for dep in departement_rows.values() if dep.region_id == code]
        deps_total = sum((wanted_deps[dep.code] for dep in deps if dep.code in wanted_deps), ZERO)
        if after is not None and after >= 0:
            if held > after:
                errors[_field(code, False)].append(
                    _(
                        "L'enveloppe déléguée à la région %(name)s ne peut pas descendre à %(amount)s : "
                        "%(committed)s y sont déjà engagés."
                    )
                    % {"name": region.name, "amount": format_money(after), "committed": format_money(held)}
                )
            if deps_total > after:
                errors[_field(code, False)].append(
                    _(
                        "Les enveloppes des départements de la région %(name)s totalisent %(total)s, "
                        "au-delà des %(amount)s délégués à la région."
                    )
                    % {"name": region.name, "total": format_money(deps_total), "amount": format_money(after)}
                )
        if before != after:
            changes.append(SubEnvelopeChange(region, None, before, after, held))
        for dep in sorted(deps, key=lambda row: row.code):
            dep_sub = current.get((dep.code, True))
            dep_after = wanted_deps.get(dep.code)
            dep_before = dep_sub.amount if dep_sub is not None else None
            dep_held = dep_sub.committed_amount if dep_sub is not None else committed.get(dep.code, ZERO)
            if dep_after is not None and dep_after >= 0:
                if after is None:
                    errors[_field(dep.code, True)].append(
                        _(
                            "Fixez d'abord l'enveloppe de la région %(region)s : celle d'un département en "
                            "est une part."
                        )
                        % {"region": region.name}
                    )
                if dep_held > dep_after:
                    errors[_field(dep.code, True)].append(
                        _(
                            "L'enveloppe déléguée au département %(name)s (%(code)s) ne peut pas descendre "
                            "à %(amount)s : %(committed)s y sont déjà engagés."
                        )
                        % {
                            "name": dep.name,
                            "code": dep.code,
                            "amount": format_money(dep_after),
                            "committed": format_money(dep_held),
                        }
                    )
            if dep_before != dep_after:
                changes.append(SubEnvelopeChange(region, dep, dep_before, dep_after, dep_held))
    unknown = sorted(
        [_field(code, False) for code in wanted_regions if code not in region_rows]
        + [_field(code, True) for code in wanted_deps if code not in departement_rows]
    )
    for field in unknown:
        errors[field].append(_("Territoire inconnu."))
    regions_total = sum(wanted_regions.values(), ZERO)
    if regions_total > call.envelope:
        errors["__all__"].append(
            _(
                "Les enveloppes des régions totalisent %(total)s, au-delà de l'enveloppe de l'appel "
                "(%(envelope)s)."
            )
            % {"total": format_money(regions_total), "envelope": format_money(call.envelope)}
        )
    if errors:
        raise ValidationError(dict(errors))
    return SubEnvelopePlan(changes=changes, regions_total=regions_total, envelope=call.envelope)


def _ensure_admin(actor: User) -> None:
    if not has_role(actor, Role.ADMIN):
        raise PermissionDenied(_("Seul un administrateur du programme peut déléguer l'enveloppe."))


def sub_envelopes_preview(
    *,
    call: Call,
    regions: Mapping[str, Decimal | None],
    departements: Mapping[str, Decimal | None],
    actor: User,
) -> SubEnvelopePlan:
    """The recap before saving: `sub_envelopes_set`'s checks and changes, read-only."""
    _ensure_admin(actor)
    call = Call.objects.get(pk=call.pk)
    return _sub_envelopes_plan(call, regions, departements, SubEnvelope.objects.filter(call=call))


@transaction.atomic
def sub_envelopes_set(
    *,
    call: Call,
    regions: Mapping[str, Decimal | None],
    departements: Mapping[str, Decimal | None],
    actor: User,
) -> SubEnvelopePlan:
    """Set the amounts delegated to the régions and départements of a call (the whole set).

    A code missing or None removes its sub-envelope (what it held stays counted in the call's
    envelope). Under the call's lock, then every sub-envelope's: amounts never below what is
    committed, départements within their région, régions within the call's envelope. A new
    sub-envelope starts from what its dossiers already commit. Audited with every change.
    """
    _ensure_admin(actor)
    call = Call.objects.select_for_update(no_key=True).get(pk=call.pk)
    existing = list(
        SubEnvelope.objects.select_for_update(of=("self",))
        .filter(call=call)
        .select_related("region", "departement")
        .order_by(F("departement_id").asc(nulls_first=True), "region_id", "departement_id")
    )
    plan = _sub_envelopes_plan(call, regions, departements, existing)
    current = {_key(sub.departement_id or sub.region_id, bool(sub.departement_id)): sub for sub in existing}
    region_of = dict(Departement.objects.values_list("code", "region_id"))
    wanted = {
        **{_key(code, False): amount for code, amount in regions.items() if amount is not None},
        **{_key(code, True): amount for code, amount in departements.items() if amount is not None},
    }
    delegated: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for (code, is_departement), amount in wanted.items():
        if is_departement:
            delegated[region_of[code]] += amount
    SubEnvelope.objects.filter(pk__in=[sub.pk for key, sub in current.items() if key not in wanted]).delete()
    now = timezone.now()
    # Régions first, then départements: the order the rows are locked in.
    for key in sorted(wanted, key=lambda key: (key[1], key[0])):
        code, is_departement = key
        amount = wanted[key]
        sub = current.get(key)
        figures = {"amount": amount, "delegated_amount": ZERO if is_departement else delegated[code]}
        if sub is None:
            sub_envelope_open(
                call=call,
                region_id=region_of[code] if is_departement else code,
                departement_id=code if is_departement else None,
                amount=figures["amount"],
                delegated_amount=figures["delegated_amount"],
                actor=actor,
            )
        elif any(getattr(sub, name) != value for name, value in figures.items()):
            for name, value in figures.items():
                setattr(sub, name, value)
            sub.updated_by, sub.updated_at = actor, now
            sub.full_clean()
            sub.save(update_fields=[*figures, "updated_by", "updated_at"])
    audit_record(
        actor=actor,
        action="envelope.sub_envelopes_set",
        target=call,
        data={
            "changes": [
                {
                    "region": change.region.code,
                    "departement": change.departement.code if change.departement else None,
                    "before": None if change.before is None else str(change.before),
                    "after": None if change.after is None else str(change.after),
                }
                for change in plan.changes
            ]
        },
    )
    return plan
