"""Forms of the instruction page, of the outside opinion and of the dossier's message thread.

Forms check what a form can check (a field filled, an amount typed the French way); the review
and decision services check the rest, and their errors are put back next to the fields by
core.refusals.apply_refusal (field names match the services' error keys). Each form of a page
that shows several has its own `prefix` (Django's class attribute), so that their fields and
error anchors never clash.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.forms import BoundField
from django.utils.translation import gettext_lazy as _

from accounts.forms import MoneyField
from accounts.models import User
from applications.forms_messaging import MessageFilesField
from applications.models import (
    Application,
    Call,
    Criterion,
    EligibilityAnswer,
    EligibilityCheck,
    Score,
)
from applications.services.deadlines import corrections_default_due
from core.widgets import FastSelect, FastTextInput
from fabriques.selectors import instructors_covering

YES, NO = "yes", "no"


def territory_instructors(application: Application) -> QuerySet[User]:
    """The instructors whose scope covers the dossier's département (by région or one by one)."""
    if application.departement is None:
        return User.objects.none()
    return instructors_covering(departement=application.departement)


class Select(FastSelect):
    """core.widgets' select under Django's class name: crispy adds the widget's class name, lower
    case, to its CSS classes (« select »), which must not change with the rendering."""


class TextInput(FastTextInput):
    """core.widgets' text input under Django's class name (crispy's « textinput » class)."""


class InstructorChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name()
        return f"{name} ({obj.email})" if name else obj.email


class AssignForm(forms.Form):
    """An admin assigns an instructor of the dossier's territory."""

    prefix = "assign"

    instructor = InstructorChoiceField(
        label=_("Instructeur"),
        queryset=User.objects.none(),
        empty_label=_("Choisissez un instructeur du territoire"),
        error_messages={"invalid_choice": _("Choisissez un instructeur du territoire du dossier.")},
    )

    def __init__(self, *args: Any, application: Application, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        already = application.assignments.values("instructor")
        self.fields["instructor"].queryset = territory_instructors(application).exclude(  # type: ignore[attr-defined]
            pk__in=already
        )


class ConflictForm(forms.Form):
    # No field depends on data: rendered once per process (applications/templatetags/static_forms.py).
    renders_the_same = True

    prefix = "conflict"

    conflict_note = forms.CharField(
        label=_("Nature du conflit d'intérêts"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_(
            "Par exemple : lien familial ou professionnel avec un membre du consortium. "
            "Une fois déclaré, vous ne notez ni ne décidez ce dossier."
        ),
    )


class AttestationForm(forms.Form):
    # No field depends on data: rendered once per process (applications/templatetags/static_forms.py).
    renders_the_same = True

    prefix = "attestation"

    no_conflict = forms.BooleanField(
        label=_("Je n'ai pas de conflit d'intérêts avec ce dossier"),
        help_text=_(
            "Aucun lien personnel, familial, professionnel ou financier avec les structures du "
            "consortium. L'attestation est datée et enregistrée à votre nom."
        ),
        error_messages={
            "required": _(
                "Cochez la case pour attester l'absence de conflit d'intérêts, ou déclarez le conflit."
            )
        },
    )


class ScoresForm(forms.Form):
    """One value (0 to the criterion's maximum) and one comment per criterion of the grid.

    Field names are those of scores_save's errors: criterion_<id> and comment_<id>.
    """

    prefix = "scores"

    def __init__(self, *args: Any, criteria: list[Criterion], scores: list[Score], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        saved = {score.criterion_id: score for score in scores}
        for criterion in criteria:
            choices = [("", _("Pas encore notée"))] + [
                (str(n), str(n)) for n in range(criterion.scale_max + 1)
            ]
            score = saved.get(criterion.pk)
            # An integer rather than a choice: a value out of the scale gets the service's message.
            self.fields[f"criterion_{criterion.pk}"] = forms.IntegerField(
                label=_("Note de « %(label)s » (de 0 à %(max)d)")
                % {"label": criterion.label, "max": criterion.scale_max},
                required=False,
                # Django's select, written in Python (core.widgets): same HTML, no template per option.
                widget=Select(choices=choices),
                help_text=criterion.help_text,
                initial=score.value if score else None,
                error_messages={"invalid": _("Choisissez une note dans la liste.")},
            )
            self.fields[f"comment_{criterion.pk}"] = forms.CharField(
                label=_("Commentaire sur « %(label)s »") % {"label": criterion.label},
                required=False,
                max_length=5000,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text=_("Obligatoire pour ce critère.") if criterion.comment_required else "",
                initial=score.comment if score else "",
            )

    def rows(self) -> list[tuple[Criterion, BoundField, BoundField]]:
        return [(c, self[f"criterion_{c.pk}"], self[f"comment_{c.pk}"]) for c in self.criteria]

    def values(self) -> dict[int, tuple[int | None, str]]:
        """The shape scores_save takes: criterion id -> (value or None, comment)."""
        return {
            c.pk: (self.cleaned_data[f"criterion_{c.pk}"], self.cleaned_data[f"comment_{c.pk}"])
            for c in self.criteria
        }


class EligibilityForm(forms.Form):
    """Yes or no for each eligibility condition of the call, with an optional observation."""

    prefix = "eligibility"

    def __init__(
        self,
        *args: Any,
        checks: list[EligibilityCheck],
        answers: list[EligibilityAnswer],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.checks = checks
        known = {answer.condition_id: answer for answer in answers}
        for check in checks:
            answer = known.get(check.pk)
            self.fields[f"check_{check.pk}"] = forms.ChoiceField(
                label=check.label,
                choices=[(YES, _("Oui, vérifiée")), (NO, _("Non"))],
                widget=forms.RadioSelect,
                help_text=check.help_text,
                initial=(YES if answer.satisfied else NO) if answer else None,
                error_messages={"required": _("Indiquez si cette condition est vérifiée.")},
            )
            self.fields[f"note_{check.pk}"] = forms.CharField(
                label=_("Observation (facultatif)"),
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2}),
                initial=answer.note if answer else "",
            )

    def rows(self) -> list[tuple[EligibilityCheck, BoundField, BoundField]]:
        return [(c, self[f"check_{c.pk}"], self[f"note_{c.pk}"]) for c in self.checks]

    def answers(self) -> dict[int, tuple[bool, str]]:
        """The shape eligibility_record takes: check id -> (satisfied, note)."""
        return {
            c.pk: (self.cleaned_data[f"check_{c.pk}"] == YES, self.cleaned_data[f"note_{c.pk}"])
            for c in self.checks
        }


class AnnotationForm(forms.Form):
    # No field depends on data: rendered once per process (applications/templatetags/static_forms.py).
    renders_the_same = True

    prefix = "annotation"

    body = forms.CharField(
        label=_("Note privée"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Visible de l'équipe d'instruction seulement, jamais du porteur."),
    )


class MessageForm(forms.Form):
    # No field depends on data: rendered once per process (applications/templatetags/static_forms.py).
    renders_the_same = True

    prefix = "message"

    body = forms.CharField(
        label=_("Votre message"), max_length=10000, widget=forms.Textarea(attrs={"rows": 4})
    )
    attachments = MessageFilesField()


class CorrectionsForm(forms.Form):
    """The points to correct and their due date, prefilled with the call's delay: not rendered once
    per process (its date changes with the day and the call)."""

    prefix = "corrections"

    points = forms.CharField(
        label=_("Points à corriger ou à compléter"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=10000,
        help_text=_("Un point par ligne. Le dossier est rouvert au porteur, qui le dépose de nouveau."),
    )
    # Left empty, the call's delay applies; the service checks that the date is after today
    # (applications.services.deadlines).
    due_on = forms.DateField(
        label=_("À compléter avant le"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Indiquez une date valide, par exemple 31/12/2026.")},
    )

    def __init__(
        self, *args: Any, call: Call | None = None, today: date | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if call is None:
            return
        if not self.is_bound:
            self.initial.setdefault("due_on", corrections_default_due(call, today=today))
        help_text = _("Laissée vide : dans %(delay)s jour(s), le délai de l'appel.") % {
            "delay": call.corrections_delay_days
        }
        if call.corrections_reminder_days:
            help_text += " " + _("Le porteur est relancé par courriel %(days)s jour(s) avant cette date.") % {
                "days": call.corrections_reminder_days
            }
        help_text += " " + _("À cette date, vous pourrez classer le dossier sans suite s'il n'a pas répondu.")
        self.fields["due_on"].help_text = help_text

    def point_list(self) -> list[str]:
        return [line.strip(" -\t") for line in self.cleaned_data["points"].splitlines() if line.strip(" -\t")]


AWARD, REFUSE, CLOSE = "award", "refuse", "close"
DECISION_CHOICES = [
    (AWARD, _("Attribuer la subvention")),
    (REFUSE, _("Refuser")),
    (CLOSE, _("Classer sans suite")),
]


class AwardForm(forms.Form):
    """The amount awarded and, optionally, its breakdown by year (else the service's default)."""

    # The amounts' inputs written in Python (core.widgets): the same HTML as MoneyField's own.
    amount = MoneyField(
        widget=TextInput(attrs={"inputmode": "decimal"}),
        label=_("Montant attribué (en euros)"),
        help_text=_("Par exemple : 150 000"),
        error_messages={"required": _("Indiquez le montant attribué, par exemple 150 000.")},
    )

    def __init__(self, *args: Any, years: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.years = years
        for year in range(1, years + 1):
            self.fields[f"yearly_{year}"] = MoneyField(
                widget=TextInput(attrs={"inputmode": "decimal"}),
                label=_("Tranche de l'année %(year)d (facultatif)") % {"year": year},
                required=False,
                help_text=_(
                    "Laissez les tranches vides pour reprendre la répartition demandée par le porteur."
                ),
            )

    def yearly_fields(self) -> list[BoundField]:
        return [self[f"yearly_{year}"] for year in range(1, self.years + 1)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        parts = [cleaned.get(f"yearly_{year}") for year in range(1, self.years + 1)]
        if any(part is not None for part in parts) and any(part is None for part in parts):
            for year, part in enumerate(parts, start=1):
                if part is None and f"yearly_{year}" not in self.errors:
                    self.add_error(
                        f"yearly_{year}", _("Remplissez toutes les tranches de la répartition, ou aucune.")
                    )
        return cleaned

    def yearly(self) -> list[Decimal] | None:
        parts = [self.cleaned_data.get(f"yearly_{year}") for year in range(1, self.years + 1)]
        if all(part is None for part in parts):
            return None
        return [part for part in parts if part is not None]


class RefuseForm(forms.Form):
    # No field depends on data: rendered once per process (applications/templatetags/static_forms.py).
    renders_the_same = True

    # Not required here: an empty motive gets the decision service's own message.
    reasons = forms.CharField(
        label=_("Motifs du refus"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Ils sont imprimés dans la lettre de décision, avec les voies de recours."),
    )


class CloseForm(forms.Form):
    # No field depends on data: rendered once per process (applications/templatetags/static_forms.py).
    renders_the_same = True

    reason = forms.CharField(
        label=_("Motif du classement sans suite"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # Set when the closing is offered on overdue corrections (decision.html): the service refuses
    # it if the applicant has answered since.
    closing_from = forms.CharField(required=False, max_length=30, widget=forms.HiddenInput)


class ReopenForm(forms.Form):
    # No field depends on data: rendered once per process (applications/templatetags/static_forms.py).
    renders_the_same = True

    prefix = "reopen"

    reason = forms.CharField(
        label=_("Motif de la réouverture"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Une subvention attribuée est annulée et son montant rendu à l'enveloppe."),
    )


class ReferencesWidget(forms.Textarea):
    """A textarea (one reference per line) that also reads ticked boxes named the same."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if hasattr(data, "getlist"):
            return "\n".join(data.getlist(name))
        return data.get(name)


class BulkDecisionForm(forms.Form):
    references = forms.CharField(
        label=_("Références des dossiers"),
        widget=ReferencesWidget(attrs={"rows": 5}),
        help_text=_("Une référence par ligne, par exemple FDT-2026-00042."),
        error_messages={"required": _("Indiquez au moins un dossier.")},
    )
    decision = forms.ChoiceField(
        label=_("Décision"),
        choices=DECISION_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choisissez une décision.")},
    )
    amount = MoneyField(
        label=_("Montant attribué à chaque dossier (facultatif)"),
        required=False,
        help_text=_("Pour une attribution ; vide, chaque dossier reçoit le montant qu'il demande."),
    )
    reasons = forms.CharField(
        label=_("Motifs"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Pour un refus ou un classement sans suite : les mêmes motifs pour chaque dossier."),
    )

    def reference_list(self) -> list[str]:
        seen: dict[str, None] = {}
        for chunk in self.cleaned_data["references"].split():
            seen.setdefault(chunk.strip().upper(), None)
        return list(seen)
