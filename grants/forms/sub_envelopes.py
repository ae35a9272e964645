"""The amounts a call's envelope delegates to régions and départements: one field a territory.

Field names match the service's error keys (`region_76`, `departement_32`): a refusal lands
next to the field it is about. An empty field means no sub-envelope for that territory.
"""

from decimal import Decimal
from typing import Any

from django import forms
from django.forms import BoundField
from django.utils.translation import gettext as _

from accounts.forms import MoneyField
from core.formatting import format_money, french_sorted
from fabriques.models import Departement, Region


class SubEnvelopesForm(forms.Form):
    def __init__(
        self,
        *args: Any,
        regions: list[Region],
        departements: list[Departement],
        committed: dict[str, Decimal],
        **kwargs: Any,
    ) -> None:
        """`committed`: what each existing sub-envelope holds, by field name (shown as a hint)."""
        super().__init__(*args, **kwargs)
        self.groups: list[tuple[Region, str, list[str]]] = []
        for region in french_sorted(regions, key=lambda row: row.name):
            region_field = f"region_{region.code}"
            self.fields[region_field] = MoneyField(
                label=_("Région %(name)s (en euros)") % {"name": region.name}, required=False
            )
            names = []
            for departement in sorted(
                (dep for dep in departements if dep.region_id == region.code), key=lambda dep: dep.code
            ):
                name = f"departement_{departement.code}"
                self.fields[name] = MoneyField(
                    label=_("%(name)s (%(code)s)") % {"name": departement.name, "code": departement.code},
                    required=False,
                )
                names.append(name)
            self.groups.append((region, region_field, names))
        self._hint(committed)

    def _hint(self, committed: dict[str, Decimal]) -> None:
        for name, amount in committed.items():
            if name in self.fields:
                self.fields[name].help_text = _("Déjà engagé : %(amount)s") % {"amount": format_money(amount)}

    def fieldsets(self) -> list[tuple[Region, BoundField, list[BoundField]]]:
        """Each région's field, then its départements' fields, for the template."""
        return [(region, self[field], [self[name] for name in names]) for region, field, names in self.groups]

    def amounts(self) -> tuple[dict[str, Decimal | None], dict[str, Decimal | None]]:
        """The régions' and départements' amounts typed, by code (None: no sub-envelope)."""
        regions: dict[str, Decimal | None] = {}
        departements: dict[str, Decimal | None] = {}
        for name, value in self.cleaned_data.items():
            kind, code = name.split("_", 1)
            (regions if kind == "region" else departements)[code] = value
        return regions, departements
