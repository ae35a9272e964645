"""The solver's refusals in French (the solver itself knows no Django and no language)."""

from collections.abc import Mapping
from decimal import Decimal

from django.utils.translation import gettext as _

from allocation.solver import Infeasible, Refusal
from core.formatting import format_money


def refusal_message(reason: Infeasible, references: Mapping[int, str] | None = None) -> str:
    """One sentence per reason; `references` names the dossiers by their reference."""
    data = reason.data
    reference = (references or {}).get(int(data["id"]), data["id"]) if "id" in data else ""
    if reason.code == Refusal.ORDER:
        return _("L'ordre des objectifs doit citer chacun des trois objectifs une fois.")
    if reason.code == Refusal.FIXED_IN_BELOW_SCORE:
        return _("Le dossier %(reference)s, retenu d'office, a une note inférieure à la note minimale.") % {
            "reference": reference
        }
    if reason.code == Refusal.FIXED_IN_AMOUNT:
        return _(
            "Le dossier %(reference)s, retenu d'office, demande moins que la subvention minimale de l'appel."
        ) % {"reference": reference}
    if reason.code == Refusal.FIXED_IN_TARGET:
        return _(
            "%(count)s dossiers sont retenus d'office, plus que les %(target)s lauréats restant à désigner."
        ) % {"count": data["count"], "target": data["target"]}
    if reason.code == Refusal.FIXED_IN_ENVELOPE:
        return _(
            "Les dossiers retenus d'office coûtent au moins %(cost)s, plus que les %(envelope)s restant "
            "dans l'enveloppe."
        ) % {"cost": format_money(Decimal(data["cost"])), "envelope": format_money(Decimal(data["envelope"]))}
    if reason.code == Refusal.FIXED_IN_GROUP:
        return _(
            "Les dossiers retenus d'office coûtent au moins %(cost)s dans « %(group)s », plus que les "
            "%(remaining)s qui y restent."
        ) % {
            "cost": format_money(Decimal(data["cost"])),
            "group": data["group"],
            "remaining": format_money(Decimal(data["remaining"])),
        }
    return _(
        "Aucune sélection ne respecte toutes les contraintes (enveloppe, sous-enveloppes, dossiers fixés)."
    )


def refusal_messages(reasons: list[Infeasible], references: Mapping[int, str] | None = None) -> list[str]:
    return [refusal_message(reason, references) for reason in reasons]
