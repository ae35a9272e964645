"""The form that adds a partner structure to a dossier's consortium."""

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fabriques.forms import OrganisationForm
from fabriques.models import Organisation
from fabriques.services import ORGANISATION_FIELDS
from fabriques.validators import normalise_siret


class PartnerForm(OrganisationForm):
    """A partner: its structure (by SIRET, described in full when it is new), role and share.

    A structure already known by its SIRET is reused as it is: only the SIRET, the role and the
    share are then required, and whatever else was typed about the structure is ignored.
    """

    role = forms.CharField(label=_("Rôle dans le projet"), max_length=300)
    share_percent = forms.DecimalField(
        label=_("Part du projet (%)"),
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
        # A French decimal comma ("12,5") is read as well as a point.
        localize=True,
        help_text=_(
            "Sa part du travail et du budget, entre 0 et 100 ; les parts des membres totalisent 100 %."
        ),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    field_order = ["siret", "role", "share_percent", *ORGANISATION_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["siret"].help_text = _(
            "14 chiffres : SIREN (9 chiffres) suivi du NIC (5 chiffres). Si la structure est déjà "
            "enregistrée sur le portail, le SIRET, le rôle et la part suffisent."
        )
        self.known_organisation = False
        if self.is_bound:
            siret = normalise_siret(str(self.data.get(self.add_prefix("siret"), "")))
            # Only a well-formed SIRET is looked up: anything else is for validation to refuse.
            self.known_organisation = (
                len(siret) == 14 and siret.isdigit() and Organisation.objects.filter(siret=siret).exists()
            )
        if self.known_organisation:
            for name in self.organisation_detail_fields():
                self.fields[name].required = False

    @staticmethod
    def organisation_detail_fields() -> list[str]:
        """The organisation's fields other than its SIRET."""
        return [name for name in ORGANISATION_FIELDS if name != "siret"]

    def _post_clean(self) -> None:
        # A known structure is reused, not rebuilt from the form: validating a new Organisation
        # (SIRET uniqueness first of all) would only reject it.
        if self.known_organisation:
            return
        super()._post_clean()  # type: ignore[misc]

    def organisation_fields(self) -> dict[str, Any]:
        """What member_add needs about the structure: only its SIRET when it is already known."""
        if self.known_organisation:
            return {"siret": self.cleaned_data["siret"]}
        return {name: self.cleaned_data[name] for name in ORGANISATION_FIELDS}


class MemberShareForm(forms.Form):
    """A member's role and share, changed in place in the members' table."""

    role = forms.CharField(label=_("Rôle dans le projet"), max_length=300)
    share_percent = forms.DecimalField(
        label=_("Part du projet (%)"),
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
