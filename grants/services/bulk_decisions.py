"""One decision on several dossiers: each is decided or refused on its own, with its reason.

`decisions_bulk_preview` gives the recap shown before: what each dossier would get, by the
award's own checks (`award_preview`), with the envelope and the sub-envelopes (régions,
départements) counted down across the list.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application, Call
from core.formatting import format_money
from grants.services.decisions import (
    AwardPreview,
    application_award,
    application_close,
    application_refuse,
    award_preview,
    decision_check,
)
from grants.services.envelope import sub_envelope_error, sub_envelopes_covering


@dataclass(frozen=True)
class BulkResult:
    reference: str
    done: bool
    message: str


@dataclass(frozen=True)
class BulkPreviewRow:
    """What a bulk decision would do to one dossier: its award's figures, or why it would be refused."""

    application: Application
    preview: AwardPreview | None
    refusal: str
    # The envelope of the dossier's call once this award and those listed before it are committed.
    remaining_after: Decimal | None = None

    @property
    def done(self) -> bool:
        return not self.refusal


def _error_text(error: ValidationError | PermissionDenied) -> str:
    messages = error.messages if isinstance(error, ValidationError) else [str(error)]
    return " ".join(str(message) for message in messages)


def decisions_bulk_preview(
    *,
    applications: Iterable[Application],
    decision: str,
    actor: User,
    reasons: str = "",
    amount: Decimal | None = None,
) -> list[BulkPreviewRow]:
    """What `decisions_bulk` would do, dossier by dossier and in its order, without writing.

    An award is previewed by `award_preview` (bounds, cap, eligibility, envelope), and the
    envelope is counted down across the list: a dossier the remainder no longer covers is shown
    as refused, as the bulk decision would refuse it.
    """
    rows: list[BulkPreviewRow] = []
    remaining: dict[int, Decimal] = {}
    sub_remaining: dict[int, Decimal] = {}
    calls: dict[int, Call] = {}
    for application in applications:
        try:
            if decision == "award":
                asked = sum(application.budget_years.values_list("requested", flat=True), Decimal("0"))
                preview = award_preview(application=application, amount=amount or asked, actor=actor)
                preview_call = calls.get(application.call_id) or Call.objects.get(pk=application.call_id)
                calls[application.call_id] = preview_call
                left = remaining.setdefault(application.call_id, preview_call.remaining_amount)
                total = preview.amount + preview.bonus
                if total > left:
                    raise ValidationError(
                        _(
                            "L'enveloppe de l'appel n'a plus que %(remaining)s disponibles : %(amount)s ne "
                            "peuvent pas être engagés."
                        )
                        % {"remaining": format_money(left), "amount": format_money(total)},
                        code="envelope",
                    )
                # The sub-envelopes covering the dossier are counted down across the list too.
                covering = sub_envelopes_covering(
                    call=preview_call, departement_id=application.departement_id
                )
                for sub in covering:
                    sub_left = sub_remaining.setdefault(sub.pk, sub.remaining_amount)
                    if total > sub_left:
                        raise sub_envelope_error(sub, total, sub_left)
                for sub in covering:
                    sub_remaining[sub.pk] -= total
                remaining[application.call_id] = left - total
                rows.append(BulkPreviewRow(application, preview, "", left - total))
                continue
            if decision not in ("refuse", "close"):
                raise ValidationError(_("Décision inconnue."))
            decision_check(application=application, actor=actor)
            if not reasons.strip():
                raise ValidationError(
                    _("Une décision de refus doit être motivée.")
                    if decision == "refuse"
                    else _("Indiquez pourquoi le dossier est classé sans suite.")
                )
            rows.append(BulkPreviewRow(application, None, ""))
        except (ValidationError, PermissionDenied) as error:
            rows.append(BulkPreviewRow(application, None, _error_text(error)))
    return rows


def decisions_bulk(
    *,
    applications: Iterable[Application],
    decision: str,
    actor: User,
    reasons: str = "",
    amount: Decimal | None = None,
) -> list[BulkResult]:
    """Apply one decision to several dossiers; each succeeds or fails alone, with its reason."""
    results = []
    for application in applications:
        try:
            with transaction.atomic():
                if decision == "award":
                    asked = sum(application.budget_years.values_list("requested", flat=True), Decimal("0"))
                    application_award(application=application, amount=amount or asked, actor=actor)
                elif decision == "refuse":
                    application_refuse(application=application, reasons=reasons, actor=actor)
                elif decision == "close":
                    application_close(application=application, reason=reasons, actor=actor)
                else:
                    raise ValidationError(_("Décision inconnue."))
        except (ValidationError, PermissionDenied) as error:
            messages = error.messages if isinstance(error, ValidationError) else [str(error)]
            results.append(BulkResult(application.reference, False, " ".join(str(m) for m in messages)))
        else:
            results.append(BulkResult(application.reference, True, _("Décision enregistrée.")))
    return results
