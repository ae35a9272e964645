"""The forms of the scenarios' pages: the parameters of a computed scenario, a hand-built one's name.

References typed for the dossiers fixed in or out are read here; the services check again that
each one is a candidate of the call.
"""

import re
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allocation.models import OBJECTIVE_CHOICES
from applications.models import Application, Call, Wave
from grants.committee_workflow import AGENDA_EDITABLE
from grants.models import CommitteeSession

REFERENCE_SEPARATORS = re.compile(r"[\s,;]+")


class WaveChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class ScenarioComputeForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Nom du scénario"), max_length=150)
    wave = WaveChoiceField(
        label=gettext_lazy("Vague"),
        queryset=Wave.objects.none(),
        required=False,
        empty_label=gettext_lazy("Toutes les vagues"),
    )
    first = forms.ChoiceField(
        label=gettext_lazy("Premier objectif"), choices=OBJECTIVE_CHOICES, initial="coverage"
    )
    second = forms.ChoiceField(
        label=gettext_lazy("Deuxième objectif"), choices=OBJECTIVE_CHOICES, initial="priority"
    )
    third = forms.ChoiceField(
        label=gettext_lazy("Troisième objectif"), choices=OBJECTIVE_CHOICES, initial="score"
    )
    min_score = forms.DecimalField(
        label=gettext_lazy("Note minimale (sur 100)"),
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        decimal_places=1,
        localize=True,
    )
    target = forms.IntegerField(
        label=gettext_lazy("Nombre de lauréats à désigner"),
        required=False,
        min_value=1,
        help_text=gettext_lazy("Vide : ce qui reste pour atteindre l'objectif de l'appel."),
    )
    reducible = forms.BooleanField(
        label=gettext_lazy("Les montants peuvent être réduits (dans les bornes de l'appel)"), required=False
    )
    fixed_in = forms.CharField(
        label=gettext_lazy("Dossiers retenus d'office"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Leurs références, séparées par des espaces ou des virgules."),
    )
    fixed_out = forms.CharField(
        label=gettext_lazy("Dossiers écartés d'office"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Leurs références, séparées par des espaces ou des virgules."),
    )

    def __init__(self, *args: Any, call: Call, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.call = call
        self.fields["wave"].queryset = Wave.objects.filter(call=call).order_by("number")  # type: ignore[attr-defined]

    def _references(self, name: str) -> dict[int, str]:
        typed = [
            item.upper() for item in REFERENCE_SEPARATORS.split(self.cleaned_data.get(name) or "") if item
        ]
        found = dict(
            Application.objects.filter(call=self.call, reference__in=typed).values_list("reference", "pk")
        )
        unknown = [reference for reference in typed if reference not in found]
        if unknown:
            self.add_error(
                name,
                _("Aucun dossier de l'appel n'a la référence %(references)s.")
                % {"references": ", ".join(unknown)},
            )
        return {found[reference]: reference for reference in typed if reference in found}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        order = [cleaned.get("first"), cleaned.get("second"), cleaned.get("third")]
        if all(order) and len(set(order)) != 3:
            self.add_error("second", _("Classez les trois objectifs, chacun une fois."))
        fixed_in = self._references("fixed_in")
        fixed_out = self._references("fixed_out")
        both = set(fixed_in) & set(fixed_out)
        if both:
            self.add_error(
                "fixed_out",
                _("Un dossier ne peut être à la fois retenu et écarté : %(references)s.")
                % {"references": ", ".join(sorted(fixed_in[pk] for pk in both))},
            )
        cleaned["order"] = order
        cleaned["pins"] = {**{pk: "in" for pk in fixed_in}, **{pk: "out" for pk in fixed_out}}
        return cleaned


class ScenarioBuildForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Nom du scénario"), max_length=150)


class SessionChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.title} ({obj.get_status_display().lower()})"


class ScenarioAgendaForm(forms.Form):
    """The committee session whose agenda takes the scenario's dossiers (sessions of the scenario's
    call and wave whose agenda may still change)."""

    session = SessionChoiceField(
        label=gettext_lazy("Séance du comité de sélection"),
        queryset=CommitteeSession.objects.none(),
        empty_label=None,
        error_messages={
            "required": gettext_lazy("Choisissez une séance."),
            "invalid_choice": gettext_lazy("Cette séance n'accepte plus de changement d'ordre du jour."),
        },
    )
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, scenario: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sessions = CommitteeSession.objects.filter(call_id=scenario.call_id, status__in=AGENDA_EDITABLE)
        if scenario.wave_id:
            sessions = sessions.filter(wave_id=scenario.wave_id)
        field = self.fields["session"]
        if not isinstance(field, forms.ModelChoiceField):  # pragma: no cover - declared above
            raise TypeError(field)
        field.queryset = sessions.order_by("starts_at", "pk")
