"""Forms of the labels: a label of a call (programme admins), the labels of a dossier (instruction),
and the field both the dossier's form and the instructors' list filter use."""

from collections.abc import Sequence
from typing import Any

from django import forms
from django.forms.boundfield import BoundWidget
from django.utils.translation import gettext_lazy as _

from applications.models import Label, LabelColour
from applications.models.labels import LABEL_NAME_MAX_LENGTH


class LabelsField(forms.TypedMultipleChoiceField):
    """Labels ticked among those the page has read (`set_labels`), cleaned to those rows: no query
    to validate them, and an id that is not among them is refused next to the field."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("coerce", int)
        kwargs.setdefault("required", False)
        kwargs.setdefault("error_messages", {"invalid_choice": _("Cette étiquette n'est pas proposée ici.")})
        super().__init__(**kwargs)
        self.labels: dict[int, Label] = {}

    def set_labels(self, labels: Sequence[Label], *, with_call: bool = False) -> None:
        self.labels = {label.pk: label for label in labels}
        self.choices = [
            (label.pk, f"{label.name} ({label.call.title})" if with_call else label.name) for label in labels
        ]

    def clean(self, value: Any) -> list[Label]:
        return [self.labels[pk] for pk in super().clean(value)]


def label_options(field: forms.BoundField) -> list[tuple[BoundWidget, Label]]:
    """Each checkbox of a LabelsField with its label, for the templates that draw it as a badge."""
    labels = field.field.labels  # type: ignore[attr-defined]
    return [(widget, labels[int(widget.data["value"])]) for widget in field.subwidgets]


class LabelForm(forms.Form):
    """A label of a call: its name and its colour (the template draws each colour as a badge)."""

    name = forms.CharField(
        label=_("Nom de l'étiquette"),
        max_length=LABEL_NAME_MAX_LENGTH,
        help_text=_("Par exemple : « À revoir en comité », « Territoire prioritaire »."),
    )
    colour = forms.ChoiceField(label=_("Couleur"), choices=LabelColour.choices, widget=forms.RadioSelect)

    def colour_options(self) -> list[tuple[BoundWidget, str]]:
        """Each radio button with its colour's value, drawn as a badge of that colour."""
        return [(widget, str(widget.data["value"])) for widget in self["colour"].subwidgets]


class ApplicationLabelsForm(forms.Form):
    """The labels of a dossier, among its call's."""

    prefix = "labels"

    labels = LabelsField(label=_("Étiquettes du dossier"))

    def __init__(self, *args: Any, labels: Sequence[Label], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["labels"].set_labels(labels)  # type: ignore[attr-defined]

    def options(self) -> list[tuple[BoundWidget, Label]]:
        return label_options(self["labels"])
