"""The forms of the grant's pages: payment requests and reports (the beneficiary), payments,
cancellations, report reviews and the schedule (the instruction). The services check the rest;
their error keys match these fields."""

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.forms import MoneyField
from core.uploads import UploadFileField
from grants.models import Tranche
from grants.services.reports import REPORT_MAX_SIZE_MB

T = Tranche.Status


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PaymentRequestForm(forms.Form):
    iban = forms.CharField(
        label=gettext_lazy("IBAN du compte à créditer"),
        max_length=50,
        help_text=gettext_lazy(
            "Celui du RIB de la structure cheffe de file, par exemple FR76 3000 6000 0112 3456 7890 189. "
            "Il figure en entier sur la demande de versement."
        ),
        error_messages={"required": gettext_lazy("Indiquez l'IBAN du compte à créditer.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class ReportUploadForm(forms.Form):
    # Empty files reach the service, whose message names the file.
    file = UploadFileField(
        label=gettext_lazy("Fichier PDF"),
        allow_empty_file=True,
        widget=forms.FileInput(attrs={"accept": ".pdf,application/pdf"}),
        error_messages={"required": gettext_lazy("Choisissez le fichier PDF à déposer.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _("Format PDF. Taille maximale : %(size)d Mo.") % {
            "size": REPORT_MAX_SIZE_MB
        }


class PayForm(forms.Form):
    paid_on = forms.DateField(
        label=gettext_lazy("Date du versement"),
        widget=_date_widget(),
        error_messages={"required": gettext_lazy("Indiquez la date du versement.")},
    )
    payment_reference = forms.CharField(
        label=gettext_lazy("Référence du paiement"),
        max_length=100,
        help_text=gettext_lazy("Numéro de mandat ou de virement."),
        error_messages={"required": gettext_lazy("Indiquez la référence du paiement.")},
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Motif de l'annulation"),
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": gettext_lazy("L'annulation d'une tranche doit être motivée.")},
    )


class ReportReviewForm(forms.Form):
    ACCEPT, REJECT = "accept", "reject"

    decision = forms.ChoiceField(
        label=gettext_lazy("Décision"),
        choices=[(ACCEPT, gettext_lazy("Accepter")), (REJECT, gettext_lazy("À reprendre"))],
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("Choisissez d'accepter le rapport ou de le faire reprendre.")
        },
    )
    note = forms.CharField(
        label=gettext_lazy("Observation"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Obligatoire pour un rapport à reprendre ; elle est envoyée au bénéficiaire."),
    )


class ScheduleForm(forms.Form):
    """The schedule as a whole: one amount and one due date per year; only scheduled ones change."""

    prefix = "echeancier"

    def __init__(self, *args: Any, tranches: list[Tranche], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tranches = tranches
        for tranche in tranches:
            year = tranche.year_index
            fixed = tranche.status != T.SCHEDULED
            self.fields[f"part_{year}"] = MoneyField(
                label=_("Montant de l'année %(year)d") % {"year": year},
                initial=tranche.amount,
                disabled=fixed,
                error_messages={"required": _("Indiquez le montant de l'année %(year)d.") % {"year": year}},
            )
            self.fields[f"due_date_{year}"] = forms.DateField(
                label=_("Échéance de l'année %(year)d") % {"year": year},
                initial=tranche.due_date,
                disabled=fixed,
                widget=_date_widget(),
                error_messages={"required": _("Indiquez l'échéance de l'année %(year)d.") % {"year": year}},
            )

    def years(self) -> list[tuple[Tranche, forms.BoundField, forms.BoundField]]:
        return [(t, self[f"part_{t.year_index}"], self[f"due_date_{t.year_index}"]) for t in self.tranches]

    def parts(self) -> list[Decimal]:
        return [self.cleaned_data[f"part_{t.year_index}"] for t in self.tranches]

    def due_dates(self) -> list[date]:
        return [self.cleaned_data[f"due_date_{t.year_index}"] for t in self.tranches]
