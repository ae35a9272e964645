from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import FrenchOrderedChoiceIterator, MoneyField
from applications.models import Access, Application, Call
from applications.rules import BUDGET_FIELDS, budget_field_name
from applications.services.dossiers import SECTION_FIELDS
from fabriques.models import Organisation, TiersLieu


class DossierCreateForm(forms.Form):
    call = forms.ModelChoiceField(label=_("Appel"), queryset=Call.objects.none(), empty_label=None)
    lead_organisation = forms.ModelChoiceField(
        label=_("Structure cheffe de file"),
        queryset=Organisation.objects.none(),
        help_text=_("La structure qui dépose le dossier et signera la convention."),
    )
    title = forms.CharField(label=_("Intitulé du projet"), max_length=200)
    kind = forms.ChoiceField(
        label=_("Type de fabrique"),
        choices=Application.Kind.choices,
        initial=Application.Kind.FT,
        widget=forms.RadioSelect,
        help_text=_(
            "Une fabrique numérique de territoire propose une large offre numérique, dans ou près d'un QPV."
        ),
    )
    previous_application = forms.ModelChoiceField(
        label=_("Candidature précédente refusée (facultatif)"),
        queryset=Application.objects.none(),
        required=False,
        help_text=_("Si vous déposez de nouveau un projet refusé, en tenant compte des motifs du refus."),
    )

    def __init__(self, *args: Any, calls: Any, organisations: Any, refused: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead_organisation"].iterator = FrenchOrderedChoiceIterator  # type: ignore[attr-defined]
        self.fields["call"].queryset = calls  # type: ignore[attr-defined]
        self.fields["lead_organisation"].queryset = organisations  # type: ignore[attr-defined]
        self.fields["previous_application"].queryset = refused  # type: ignore[attr-defined]


class ProjectForm(forms.ModelForm[Application]):
    class Meta:
        model = Application
        fields = SECTION_FIELDS
        localized_fields = ("jobs_fte",)  # "2,5" as French applicants type it
        widgets = {
            "kind": forms.RadioSelect,
            **{
                name: forms.Textarea(attrs={"rows": 5})
                for name in (
                    "services",
                    "community_governance",
                    "partnerships",
                    "resource_role",
                    "digital_offer",
                    "territorial_need",
                    "economic_model",
                )
            },
            "summary": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A draft may be saved half-filled: completeness, not the form, says what is missing.
        for name, field in self.fields.items():
            if name not in ("title", "kind"):
                field.required = False


BUDGET_LABELS = {
    "requested": _("Subvention demandée"),
    "other_funding": _("Autres financements"),
    "total_cost": _("Coût total de fonctionnement"),
}


class BudgetForm(forms.Form):
    """One input per year and amount: requested_1, other_funding_1, total_cost_1…"""

    def __init__(self, *args: Any, years: range, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.years = years
        for year in years:
            for field in BUDGET_FIELDS:
                self.fields[budget_field_name(field, year)] = MoneyField(
                    label=_("%(label)s, année %(year)d") % {"label": BUDGET_LABELS[field], "year": year},
                    required=False,
                    empty_value=Decimal("0"),
                )

    def years_data(self) -> dict[int, dict[str, Decimal]]:
        return {
            year: {field: self.cleaned_data[budget_field_name(field, year)] for field in BUDGET_FIELDS}
            for year in self.years
        }


class PlacesForm(forms.Form):
    places = forms.ModelMultipleChoiceField(
        label=_("Tiers-lieux du projet"),
        queryset=TiersLieu.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args: Any, places: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["places"].queryset = places  # type: ignore[attr-defined]


class PlaceCreateForm(forms.ModelForm[TiersLieu]):
    class Meta:
        model = TiersLieu
        fields = (
            "name",
            "address",
            "postal_code",
            "commune_code",
            "commune_name",
            "departement",
            "zone",
            "qpv_code",
            "activities",
            "year_opened",
            "website",
        )
        widgets = {"activities": forms.CheckboxSelectMultiple}


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif du retrait (facultatif)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AccessInviteForm(forms.Form):
    email = forms.EmailField(label=_("Adresse e-mail de la personne invitée"))
    permission = forms.ChoiceField(
        label=_("Droit accordé"), choices=Access.Permission.choices, widget=forms.RadioSelect, initial="view"
    )
