"""The forms of the agreement's page: acceptance, signed copy, and the programme's actions.

The services check the rest again; the field names match their error keys.
"""

from decimal import Decimal
from typing import Any

from django import forms
from django.forms import BoundField
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.forms import MoneyField
from core.uploads import UploadFileField


class AcceptForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("J'ai lu la convention et je l'accepte au nom de la structure que je représente."),
        error_messages={"required": gettext_lazy("Cochez la case pour accepter la convention.")},
    )


class SignedCopyForm(forms.Form):
    # Empty files reach the service, whose message names the file.
    file = UploadFileField(
        label=gettext_lazy("Exemplaire signé (PDF)"),
        allow_empty_file=True,
        widget=forms.FileInput(attrs={"accept": "application/pdf,.pdf"}),
        help_text=gettext_lazy("Format accepté : PDF. Son contenu est vérifié, pas seulement son nom."),
        error_messages={"required": gettext_lazy("Choisissez le fichier PDF de l'exemplaire signé.")},
    )


class ActivateForm(forms.Form):
    # Not required here: an empty number gets the service's own message.
    commitment_number = forms.CharField(
        label=gettext_lazy("Numéro d'engagement juridique"),
        max_length=50,
        required=False,
        help_text=gettext_lazy("Il figure sur chaque demande de paiement."),
    )


class TerminateForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Motifs de la résiliation"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Ils sont imprimés dans la décision de résiliation envoyée au bénéficiaire."),
    )
    clawback_amount = MoneyField(
        label=gettext_lazy("Montant à reverser (en euros)"),
        required=False,
        help_text=gettext_lazy("Au plus ce qui a déjà été versé. Laissez vide si rien n'est à reverser."),
    )

    def clawback(self) -> Decimal:
        value = self.cleaned_data.get("clawback_amount")
        return value if value is not None else Decimal("0")


class AmendForm(forms.Form):
    """The new amount and its breakdown by year; field names match the service's error keys."""

    amount = MoneyField(
        label=gettext_lazy("Nouveau montant de la subvention (en euros)"),
        error_messages={"required": gettext_lazy("Indiquez le nouveau montant, par exemple 120 000.")},
    )
    reason = forms.CharField(
        label=gettext_lazy("Motifs de l'avenant"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, years: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.years = years
        for year in range(1, years + 1):
            self.fields[f"yearly_{year}"] = MoneyField(
                label=_("Tranche de l'année %(year)d") % {"year": year},
                error_messages={"required": _("Indiquez le montant de l'année %(year)d.") % {"year": year}},
            )

    def yearly_fields(self) -> list[BoundField]:
        return [self[f"yearly_{year}"] for year in range(1, self.years + 1)]

    def yearly(self) -> list[Decimal]:
        return [self.cleaned_data[f"yearly_{year}"] for year in range(1, self.years + 1)]
