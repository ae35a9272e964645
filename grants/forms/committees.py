"""The forms of the committee pages. The services check everything again; the field names match
their error keys (`place`, `visio_url`, `members`, `member_<id>`, `amount`, `yearly_<n>`, `reasons`)."""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from accounts.forms import MoneyField
from accounts.models import User
from applications.models import Call, Wave
from grants.models import CommitteeItem, CommitteeMember


class SessionCreateForm(forms.Form):
    title = forms.CharField(
        label=gettext_lazy("Intitulé de la séance"),
        max_length=200,
        error_messages={"required": gettext_lazy("Donnez un intitulé à la séance.")},
    )
    wave = forms.ModelChoiceField(
        label=gettext_lazy("Vague"),
        queryset=Wave.objects.none(),
        required=False,
        empty_label=gettext_lazy("Toutes les vagues de l'appel"),
    )
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Date et heure"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"],
        help_text=gettext_lazy("Par exemple 12/03/2027 14:00."),
        error_messages={
            "required": gettext_lazy("Indiquez la date et l'heure de la séance."),
            "invalid": gettext_lazy("Saisissez une date et une heure, par exemple 12/03/2027 14:00."),
        },
    )
    place = forms.CharField(label=gettext_lazy("Lieu"), max_length=300, required=False)
    visio_url = forms.CharField(
        label=gettext_lazy("Lien de visioconférence"),
        max_length=500,
        required=False,
        help_text=gettext_lazy("Un lieu, un lien ou les deux."),
    )

    def __init__(self, *args: Any, call: Call, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["wave"].queryset = Wave.objects.filter(call=call).order_by("number")  # type: ignore[attr-defined]


class MembersForm(forms.Form):
    members = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Membres du comité"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Les administrateurs du programme et les instructeurs invités."),
    )

    def __init__(self, *args: Any, candidates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["members"]
        field.queryset = candidates  # type: ignore[attr-defined]
        field.label_from_instance = lambda user: user.get_full_name() or user.email  # type: ignore[attr-defined]


class AttendanceForm(forms.Form):
    """One choice per member, named `member_<id>` as the service's errors are."""

    def __init__(self, *args: Any, members: Iterable[CommitteeMember], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for member in members:
            self.fields[f"member_{member.pk}"] = forms.ChoiceField(
                label=member.user.get_full_name() or member.user.email,
                choices=CommitteeMember.Attendance.choices,
                initial=member.attendance,
                # Left out: unchanged (the service checks the state and each value).
                required=False,
            )

    def attendance(self) -> dict[int, str]:
        return {
            int(name.removeprefix("member_")): value for name, value in self.cleaned_data.items() if value
        }


class MoveForm(forms.Form):
    to = forms.ChoiceField(choices=[], required=False)
    reason = forms.CharField(
        label=gettext_lazy("Motif de l'annulation"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from grants.models import CommitteeSession

        self.fields["to"].choices = CommitteeSession.Status.choices  # type: ignore[attr-defined]


class AgendaAddForm(forms.Form):
    reference = forms.CharField(
        label=gettext_lazy("Référence du dossier"),
        max_length=20,
        help_text=gettext_lazy("Par exemple FDT-2026-00042 : un dossier en instruction, éligible et noté."),
        error_messages={"required": gettext_lazy("Indiquez la référence du dossier à inscrire.")},
    )
    amount = MoneyField(
        label=gettext_lazy("Montant proposé (en euros)"),
        required=False,
        help_text=gettext_lazy("Vide : le montant demandé, dans les bornes de l'appel."),
    )


def _yearly_fields(form: forms.Form, years: int, initial: list[str]) -> None:
    for index in range(1, years + 1):
        form.fields[f"yearly_{index}"] = MoneyField(
            label=gettext_lazy("Répartition : année %(year)d (en euros)") % {"year": index},
            required=False,
            initial=Decimal(initial[index - 1]) if index <= len(initial) else None,
        )


class ProposalForm(forms.Form):
    """The amount proposed for a dossier before the session, and its split (empty: the default split)."""

    amount = MoneyField(
        label=gettext_lazy("Montant proposé (en euros)"),
        error_messages={"required": gettext_lazy("Indiquez le montant proposé.")},
    )

    def __init__(self, *args: Any, item: CommitteeItem, years: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].initial = item.proposed
        _yearly_fields(self, years, item.proposed_yearly)
        self.years = years

    def yearly(self) -> list[Decimal] | None:
        parts = [self.cleaned_data.get(f"yearly_{index}") for index in range(1, self.years + 1)]
        if all(part is None for part in parts):
            return None
        return [part or Decimal("0") for part in parts]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Décision du comité"),
        choices=CommitteeItem.Decision.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    amount = MoneyField(
        label=gettext_lazy("Montant attribué (en euros)"),
        required=False,
        help_text=gettext_lazy("Pour une attribution ; vide : le montant proposé."),
    )
    reasons = forms.CharField(
        label=gettext_lazy("Motifs (refus) ou observation (ajournement)"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Les motifs d'un refus sont imprimés dans la lettre de décision."),
    )

    def __init__(self, *args: Any, item: CommitteeItem, years: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["decision"].initial = item.decision
        self.fields["amount"].initial = item.amount
        self.fields["reasons"].initial = item.reasons
        _yearly_fields(self, years, item.yearly)
        self.years = years

    def yearly(self) -> list[Decimal] | None:
        parts = [self.cleaned_data.get(f"yearly_{index}") for index in range(1, self.years + 1)]
        if all(part is None for part in parts):
            return None
        return [part or Decimal("0") for part in parts]
