"""Forms of the expert opinions: the instruction's request, the expert's answer, the cancellation.

The rules are the services' (applications.services.opinions); these forms only read the posted
values and show the services' refusals next to their fields."""

from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.forms_messaging import MessageFilesField
from applications.models import Call, Opinion
from applications.services.opinions import ANSWERS, opinion_default_due

CONFIDENTIALITY = [
    ("confidential", _("Confidentiel : lu par l'instruction seulement")),
    ("shared", _("Partagé : montré au porteur sur son dossier, une fois rendu")),
]


class OpinionRequestForm(forms.Form):
    """The request, on the review page; its files are joined on the recap (nothing is stored before
    the confirmation). Not rendered once per process: its due date follows the day and the call."""

    prefix = "opinion"

    organisation_name = forms.CharField(
        label=_("Service consulté"),
        max_length=200,
        help_text=_("Par exemple : préfecture du Gers, service politique de la ville."),
    )
    email = forms.EmailField(
        label=_("Adresse e-mail de l'expert"),
        help_text=_(
            "Sans compte sur le portail, il en reçoit un et choisit son mot de passe ; il ne voit que les "
            "dossiers sur lesquels son avis est demandé, et seulement jusqu'à sa réponse."
        ),
    )
    question = forms.CharField(
        label=_("Question posée"), max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
    answer_kind = forms.ChoiceField(
        label=_("Forme de la réponse"),
        choices=Opinion.AnswerKind.choices,
        initial=Opinion.AnswerKind.VERDICT,
        widget=forms.RadioSelect,
    )
    due_on = forms.DateField(
        label=_("À rendre avant le"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Indiquez une date valide, par exemple 31/12/2026.")},
    )
    confidentiality = forms.ChoiceField(
        label=_("Diffusion de l'avis"),
        choices=CONFIDENTIALITY,
        initial="confidential",
        widget=forms.RadioSelect,
    )

    def __init__(
        self, *args: Any, call: Call | None = None, today: date | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if call is None:
            return
        if not self.is_bound:
            self.initial.setdefault("due_on", opinion_default_due(call, today=today))
        help_text = _("Laissée vide : dans %(delay)s jour(s), le délai de l'appel.") % {
            "delay": call.opinion_delay_days
        }
        if call.opinion_reminder_days:
            help_text += " " + _("L'expert est relancé par courriel %(days)s jour(s) avant cette date.") % {
                "days": call.opinion_reminder_days
            }
        self.fields["due_on"].help_text = help_text

    @property
    def confidential(self) -> bool:
        return bool(self.cleaned_data["confidentiality"] != "shared")


class OpinionFilesForm(forms.Form):
    """The files joined on a recap (the request's, or the answer's)."""

    attachments = MessageFilesField()


class OpinionAnswerForm(forms.Form):
    """The expert's answer: a verdict or a yes/no, as the request asked, and a comment."""

    prefix = "answer"

    verdict = forms.ChoiceField(label=_("Votre avis"), widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("Commentaire"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Obligatoire pour un avis réservé ou défavorable."),
    )

    def __init__(self, *args: Any, opinion: Opinion, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        answers = ANSWERS[opinion.answer_kind]
        field = self.fields["verdict"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 (declared above)
        field.choices = [(value, Opinion.Verdict(value).label) for value in answers]
        if opinion.answer_kind == Opinion.AnswerKind.YES_NO:
            field.label = _("Votre réponse")
            field.error_messages["required"] = _("Répondez par oui ou par non.")
        else:
            field.error_messages["required"] = _("Choisissez un avis : favorable, réservé ou défavorable.")


class OpinionCancelForm(forms.Form):
    prefix = "cancel"

    reason = forms.CharField(
        label=_("Motif de l'annulation"),
        max_length=1000,
        error_messages={"required": _("Indiquez pourquoi la demande est annulée.")},
    )
