"""One decision on several dossiers (award, refusal or closing), after its recap; each dossier
is decided, or refused, on its own."""

from dataclasses import dataclass
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from accounts.confirmation import Recap, is_confirmed, lines, recap_response, wants_edit
from accounts.models import User
from applications.forms_review import AWARD, CLOSE, BulkDecisionForm
from applications.selectors import applications_reviewable_by
from applications.views.review import review_required
from core.formatting import format_money
from grants.services import decisions_bulk
from grants.services.bulk_decisions import BulkPreviewRow, decisions_bulk_preview
from grants.services.decisions import AwardPreview
from grants.views.common import (
    user_of,
)
from grants.views.decisions import lead_names


@dataclass(frozen=True)
class BulkRow:
    reference: str
    done: bool
    message: str


def _yearly_text(preview: AwardPreview) -> str:
    """« 2026 : 100 000 € (dont bonus 50 000 €) », one line a year: the tranches as the award builds them."""
    parts = []
    for index, (year, part) in enumerate(zip(preview.calendar_years, preview.yearly, strict=True), start=1):
        if index == 1 and preview.bonus:
            parts.append(
                _("%(year)d : %(amount)s (dont bonus %(bonus)s)")
                % {
                    "year": year,
                    "amount": format_money(part + preview.bonus),
                    "bonus": format_money(preview.bonus),
                }
            )
        else:
            parts.append(_("%(year)d : %(amount)s") % {"year": year, "amount": format_money(part)})
    return "\n".join(parts)


def bulk_recap(
    form: BulkDecisionForm, previews: list[BulkPreviewRow], missing: list[str], action_url: str
) -> Recap:
    decision = form.cleaned_data["decision"]
    amount = form.cleaned_data["amount"]
    reasons = form.cleaned_data["reasons"]
    label = dict(BulkDecisionForm.base_fields["decision"].choices)[decision]  # type: ignore[attr-defined]
    rows = []
    for row in previews:
        application = row.application
        structure, _representative = lead_names(application)
        cells: tuple[str, ...] = (application.reference, application.title, structure or "—")
        if decision == AWARD:
            preview = row.preview
            if preview is not None and row.remaining_after is not None:
                cells = (
                    *cells,
                    format_money(preview.amount),
                    format_money(preview.bonus) if preview.bonus else "—",
                    _yearly_text(preview),
                    format_money(row.remaining_after),
                )
            else:
                cells = (*cells, "—", "—", "—", "—")
        outcome = _("Sera refusé : %(reason)s") % {"reason": row.refusal} if row.refusal else _("Sera décidé")
        rows.append((*cells, outcome))
    header: tuple[str, ...] = (_("Dossier"), _("Projet"), _("Structure cheffe de file"))
    if decision == AWARD:
        header = (
            *header,
            _("Montant attribué"),
            _("Bonus FNT"),
            _("Répartition par année"),
            _("Reste sur l'enveloppe après cette attribution"),
        )
    header = (*header, _("Résultat prévu"))
    facts = [(_("Décision"), str(label))]
    doable = [row for row in previews if row.done]
    refused = [row for row in previews if not row.done]
    if decision == AWARD:
        facts.append(
            (
                _("Montant"),
                _("%(amount)s pour chaque dossier") % {"amount": format_money(amount)}
                if amount
                else _("Le montant demandé par chaque dossier, réparti comme il l'a demandé"),
            )
        )
        committed = sum(
            (row.preview.amount + row.preview.bonus for row in doable if row.preview is not None),
            Decimal("0"),
        )
        facts.append((_("Total engagé (bonus compris)"), format_money(committed)))
        # The remainder of each call's envelope once every award of the list is committed.
        last: dict[int, tuple[str, Decimal]] = {}
        for row in doable:
            if row.remaining_after is not None:
                last[row.application.call_id] = (row.application.call.title, row.remaining_after)
        for title, remainder in last.values():
            facts.append(
                (
                    _("Reste à engager sur l'enveloppe de « %(call)s » après toutes ces attributions")
                    % {"call": title},
                    format_money(remainder),
                )
            )
    elif reasons.strip():
        facts.append((_("Motifs, les mêmes pour chaque dossier"), reasons.strip()))
    if refused:
        facts.append(
            (
                _("Dossiers qui seront refusés (motif dans le tableau)"),
                ", ".join(row.application.reference for row in refused),
            )
        )
    if missing:
        facts.append((_("Références introuvables ou hors de votre périmètre (ignorées)"), ", ".join(missing)))
    count = len(previews)
    if decision == CLOSE:
        notified = [
            _(
                "Pour chaque dossier, le porteur et les membres de la structure cheffe de file sont "
                "prévenus du classement sans suite par courriel, avec le motif (sans lettre de décision)."
            )
        ]
    else:
        notified = [
            _(
                "Pour chaque dossier, le représentant légal et les membres de la structure cheffe de "
                "file recevront la lettre de décision par courriel."
            )
        ]
    irreversible = [
        _(
            "Chaque dossier est décidé séparément : une décision refusée pour un dossier "
            "n'empêche pas les autres."
        ),
        _("Seul un administrateur du programme pourra rouvrir un dossier décidé, avec un motif."),
    ]
    if decision == AWARD:
        irreversible.insert(0, _("Les montants sont engagés sur l'enveloppe et les conventions établies."))
    return Recap(
        title=_("Confirmer la décision groupée"),
        intro=ngettext(
            "Vous allez appliquer la décision « %(decision)s » à %(count)d dossier.",
            "Vous allez appliquer la décision « %(decision)s » à %(count)d dossiers.",
            count,
        )
        % {"decision": label, "count": count},
        action_url=action_url,
        confirm_label=ngettext(
            "Confirmer la décision pour %(count)d dossier",
            "Confirmer la décision pour %(count)d dossiers",
            count,
        )
        % {"count": count},
        lines=lines(facts),
        table_caption=_("Dossiers concernés"),
        table_header=header,
        table_rows=rows,
        notified=notified,
        irreversible=irreversible,
    )


def _bulk_decide(
    request: HttpRequest, form: BulkDecisionForm, user: User
) -> list[BulkRow] | HttpResponse | None:
    """The recap (a response), the rows of a confirmed decision, or None with an error on the form."""
    references = form.reference_list()
    found = {
        application.reference: application
        for application in applications_reviewable_by(user)
        .filter(reference__in=references)
        .select_related("call", "created_by")
    }
    if not found:
        form.add_error("references", _("Aucun de ces dossiers n'est dans votre périmètre d'instruction."))
        return None
    # The preview and the decision take the same arguments: what the recap shows is what is done.
    arguments = {
        "applications": [found[reference] for reference in references if reference in found],
        "decision": form.cleaned_data["decision"],
        "actor": user,
        "reasons": form.cleaned_data["reasons"],
        "amount": form.cleaned_data["amount"],
    }
    if not is_confirmed(request):
        previews = decisions_bulk_preview(**arguments)
        return recap_response(
            request,
            bulk_recap(
                form,
                previews,
                [reference for reference in references if reference not in found],
                reverse("grants:review-bulk"),
            ),
        )
    results = decisions_bulk(**arguments)
    by_reference = {result.reference: result for result in results}
    rows = []
    for reference in references:
        result = by_reference.get(reference)
        if result is None:
            rows.append(BulkRow(reference, False, _("Dossier introuvable ou hors de votre périmètre.")))
        else:
            rows.append(BulkRow(result.reference, result.done, result.message))
    return rows


@review_required
@require_http_methods(["GET", "HEAD", "POST"])
def review_bulk(request: HttpRequest) -> HttpResponse:
    """One decision on several dossiers, after its recap: each is decided or refused on its own."""
    user = user_of(request)
    form = BulkDecisionForm(request.POST or None)
    rows: list[BulkRow] | None = None
    if request.method == "POST" and form.is_valid() and not wants_edit(request):
        outcome = _bulk_decide(request, form, user)
        if isinstance(outcome, HttpResponse):
            return outcome
        rows = outcome
    return render(
        request,
        "applications/review/bulk.html",
        {
            "title": _("Décisions groupées"),
            "form": form,
            "rows": rows,
            "done_count": sum(1 for row in rows if row.done) if rows is not None else 0,
        },
    )
