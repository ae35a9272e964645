from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from fabriques.models import Departement, LegalCategory, Organisation
from fabriques.services import ORGANISATION_FIELDS
from fabriques.sirene import Establishment
from fabriques.validators import normalise_siret, validate_siret


def _siret_field() -> forms.CharField:
    # Spaces are welcome when typing a SIRET ("732 829 320 00074"); the model keeps 14 digits.
    return forms.CharField(
        label=_("SIRET"),
        max_length=20,
        help_text=_("14 chiffres : SIREN (9 chiffres) suivi du NIC (5 chiffres)."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


def _clean_siret(value: str) -> str:
    siret = normalise_siret(value)
    validate_siret(siret)
    return siret


class SiretLookupForm(forms.Form):
    """The « Rechercher » step: only the SIRET, checked (Luhn key) before the directory is asked."""

    siret = _siret_field()

    def clean_siret(self) -> str:
        return _clean_siret(self.cleaned_data["siret"])


class OrganisationForm(forms.ModelForm[Organisation]):
    # An address typed without a scheme is taken as https:// (Django 6's default).
    website = forms.URLField(label=_("Site internet"), required=False, assume_scheme="https")
    siret = _siret_field()

    class Meta:
        model = Organisation
        # The SIRET first: the « Rechercher » button under it fills in the rest.
        fields = ("siret", *(name for name in ORGANISATION_FIELDS if name != "siret"))
        widgets = {
            "postal_code": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "postal-code"}),
            "commune_code": forms.TextInput(attrs={"autocomplete": "off"}),
            "naf_code": forms.TextInput(attrs={"autocomplete": "off"}),
        }
        help_texts = {
            "commune_code": _(
                "Le code officiel géographique de la commune, à ne pas confondre avec le code postal."
            ),
            "cooperative_kind": _("Si la structure est une société coopérative."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        legal_category = cast(forms.ModelChoiceField[LegalCategory], self.fields["legal_category"])
        legal_category.queryset = LegalCategory.objects.order_by("family", "code")
        legal_category.empty_label = _("Choisir la catégorie juridique")
        departement = cast(forms.ModelChoiceField[Departement], self.fields["departement"])
        departement.queryset = Departement.objects.order_by("code")
        departement.empty_label = _("Choisir le département")

    def clean_siret(self) -> str:
        return _clean_siret(self.cleaned_data["siret"])


class OrganisationCreateForm(OrganisationForm):
    job_title = forms.CharField(label=_("Votre fonction dans la structure"), max_length=200, required=False)
    is_legal_representative = forms.BooleanField(
        label=_("Je suis le représentant légal de la structure"), required=False
    )


def establishment_initial(establishment: Establishment) -> dict[str, Any]:
    """The create form's fields pre-filled from the directory's answer (the applicant confirms)."""
    initial: dict[str, Any] = {
        "siret": establishment.siret,
        "name": establishment.name,
        "address": establishment.address,
        "postal_code": establishment.postal_code,
        "commune_code": establishment.commune_code,
        "commune_name": establishment.commune_name,
        "naf_code": establishment.naf_code,
    }
    if Departement.objects.filter(pk=establishment.departement_code).exists():
        initial["departement"] = establishment.departement_code
    if LegalCategory.objects.filter(pk=establishment.legal_category).exists():
        initial["legal_category"] = establishment.legal_category
    return initial
