"""The programme admin's form to issue an API token."""

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import User

DEFAULT_DAYS = 90


class TokenForm(forms.Form):
    email = forms.EmailField(
        label=_("Adresse électronique du compte"),
        help_text=_("Le jeton voit ce que ce compte voit dans le portail, ni plus ni moins."),
    )
    name = forms.CharField(
        label=_("Nom du jeton"),
        max_length=100,
        help_text=_("Son usage, par exemple : « Tableau de bord régional »."),
    )
    days = forms.IntegerField(label=_("Durée de validité (jours)"), min_value=1, initial=DEFAULT_DAYS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The bound is a setting, read when the form is built (tests change it).
        self.fields["days"] = forms.IntegerField(
            label=_("Durée de validité (jours)"),
            min_value=1,
            max_value=settings.API_TOKEN_MAX_DAYS,
            initial=DEFAULT_DAYS,
            help_text=_("De 1 à %(max)d jours.") % {"max": settings.API_TOKEN_MAX_DAYS},
        )

    def clean_email(self) -> User:
        email = self.cleaned_data["email"]
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise forms.ValidationError(_("Aucun compte n'a cette adresse."), code="unknown")
        return user
