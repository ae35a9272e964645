from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from fabriques.models import Departement, LegalCategory, Organisation
from fabriques.services import ORGANISATION_FIELDS
from fabriques.validators import normalise_siret, validate_siret


class OrganisationForm(forms.ModelForm[Organisation]):
    # An address typed without a scheme is taken as https:// (Django 6's default).
    website = forms.URLField(label=_("Site internet"), required=False, assume_scheme="https")
    # Spaces are welcome when typing a SIRET ("732 829 320 00074"); the model keeps 14 digits.
    siret = forms.CharField(
        label=_("SIRET"),
        max_length=20,
        help_text=_("14 chiffres : SIREN (9 chiffres) suivi du NIC (5 chiffres)."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    class Meta:
        model = Organisation
        fields = ORGANISATION_FIELDS
        widgets = {
            "postal_code": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "postal-code"}),
            "commune_code": forms.TextInput(attrs={"autocomplete": "off"}),
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
        siret = normalise_siret(self.cleaned_data["siret"])
        validate_siret(siret)
        return siret


class OrganisationCreateForm(OrganisationForm):
    job_title = forms.CharField(label=_("Votre fonction dans la structure"), max_length=200, required=False)
    is_legal_representative = forms.BooleanField(
        label=_("Je suis le représentant légal de la structure"), required=False
    )
