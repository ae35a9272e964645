"""Forms of the dossier's territory: the census search, the applicant's choice, an admin's move."""

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from fabriques.models import Departement


class DepartementChoiceField(forms.ModelChoiceField[Departement]):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} – {obj.name} ({obj.region.name})"


class CensusSearchForm(forms.Form):
    """The census search of the places page, read from the query string.

    A form rather than the raw parameters: its CharField refuses NUL characters, which PostgreSQL
    cannot compare (psycopg2 raises ValueError), and over-long strings; an unknown département is
    refused with a message rather than ignored.
    """

    q = forms.CharField(
        label=_("Nom du lieu, commune, code postal ou département"),
        required=False,
        max_length=200,
        error_messages={
            "max_length": _("La recherche est trop longue : 200 caractères au plus."),
            "null_characters_not_allowed": _("La recherche contient un caractère non autorisé."),
        },
    )
    departement = DepartementChoiceField(
        label=_("Département"),
        queryset=Departement.objects.select_related("region").order_by("code"),
        required=False,
        empty_label=_("Tous les départements"),
        error_messages={"invalid_choice": _("Ce département n'existe pas : choisissez-le dans la liste.")},
    )


class TerritoryChoiceForm(forms.Form):
    """The applicant's choice among the départements of the dossier's places."""

    prefix = "territoire"

    departement = DepartementChoiceField(
        label=_("Département qui instruira le dossier"),
        queryset=Departement.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        help_text=_(
            "Vos lieux sont dans plusieurs départements : les instructeurs du département choisi "
            "(et de sa région) recevront le dossier."
        ),
        error_messages={
            "required": _("Choisissez le département qui instruira le dossier."),
            "invalid_choice": _("Choisissez le département de l'un des lieux du dossier."),
        },
    )

    def __init__(self, *args: Any, choices: list[Departement], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField[Departement], self.fields["departement"])
        field.queryset = (
            Departement.objects.filter(code__in=[d.code for d in choices])
            .select_related("region")
            .order_by("code")
        )


class TerritoryMoveForm(forms.Form):
    """A programme admin moves a submitted dossier to another département, with a reason."""

    departement = DepartementChoiceField(
        label=_("Nouveau département d'instruction"),
        queryset=Departement.objects.select_related("region").order_by("code"),
        empty_label=_("Choisir le département"),
        error_messages={
            "required": _("Choisissez le département où le dossier sera instruit."),
            "invalid_choice": _("Ce département n'existe pas : choisissez-le dans la liste."),
        },
    )
    reason = forms.CharField(
        label=_("Motif du changement"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Il est conservé dans l'historique du dossier et envoyé aux instructeurs concernés."),
        error_messages={"required": _("Indiquez le motif du changement de département.")},
    )

    def clean_reason(self) -> str:
        reason = str(self.cleaned_data["reason"]).strip()
        if not reason:
            raise forms.ValidationError(_("Indiquez le motif du changement de département."))
        return reason
