"""The decisions on a dossier (an award creates the grant and commits the envelope), and its reopening.

The decision views reuse the instruction page of applications.views.review: its scoped lookup
(a dossier out of the user's territory is a 404), its error handling and its page, re-rendered
with the bound form when a decision is refused.
"""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.confirmation import Recap, is_confirmed, lines, recap_response, wants_edit
from applications.forms_review import (
    AWARD,
    CLOSE,
    REFUSE,
    AwardForm,
    CloseForm,
    RefuseForm,
    ReopenForm,
)
from applications.models import Application, Message
from applications.selectors import dossier_recipients
from applications.views.review import (
    refused_action_response,
    render_review_detail,
    review_detail_url,
    review_required,
    reviewable_application,
)
from core.formatting import format_money
from grants.services import (
    application_award,
    application_close,
    application_refuse,
    application_reopen,
)
from grants.services.decisions import AwardPreview, award_preview, closing_check, decision_check
from grants.services.reopening import ReopenPreview, reopen_preview
from grants.views.common import (
    cancelled_tranches_table,
    dossier_line,
    user_of,
)

# --- the recaps shown before a decision ---------------------------------------------------------


def lead_names(application: Application) -> tuple[str, str]:
    """The lead structure's name and its legal representative's name (either may be empty)."""
    lead = application.members.select_related("organisation").filter(is_lead=True).first()
    if lead is None:
        return "", ""
    representative = (
        lead.organisation.memberships.select_related("user")
        .filter(is_legal_representative=True, user__is_active=True)
        .order_by("created_at", "pk")
        .first()
    )
    name = (representative.user.get_full_name() or representative.user.email) if representative else ""
    return lead.organisation.name, name


def _letter_notified(application: Application) -> list[str]:
    structure, representative = lead_names(application)
    if structure and representative:
        first = _(
            "Le représentant légal de %(structure)s (%(name)s) recevra la lettre de décision par courriel."
        ) % {"structure": structure, "name": representative}
    elif structure:
        first = _("La structure cheffe de file %(structure)s recevra la lettre de décision par courriel.") % {
            "structure": structure
        }
    else:
        first = _("Le porteur du dossier recevra la lettre de décision par courriel.")
    return [
        first,
        _("Adresses destinataires : %(emails)s.")
        % {"emails": ", ".join(dossier_recipients(application, side=Message.Side.APPLICANT))},
    ]


def _dossier_lines(application: Application) -> list[tuple[str, str]]:
    structure, _representative = lead_names(application)
    return [
        dossier_line(application),
        (_("Structure cheffe de file"), structure or "—"),
        (_("Appel"), application.call.title),
    ]


def _decide_url(application: Application) -> str:
    return reverse("grants:review-decide", kwargs={"reference": application.reference})


def award_recap(application: Application, preview: AwardPreview) -> Recap:
    rows = [
        (
            str(year),
            _("Tranche %(index)d") % {"index": index},
            format_money(part + (preview.bonus if index == 1 else Decimal("0"))),
        )
        for index, (year, part) in enumerate(
            zip(preview.calendar_years, preview.yearly, strict=True), start=1
        )
    ]
    facts = [
        *_dossier_lines(application),
        (_("Montant attribué"), format_money(preview.amount)),
    ]
    if preview.bonus:
        facts.append(
            (
                _("Bonus « fabrique numérique de territoire »"),
                _("%(bonus)s, versés avec la première tranche") % {"bonus": format_money(preview.bonus)},
            )
        )
        facts.append((_("Total engagé"), format_money(preview.amount + preview.bonus)))
    facts.append(
        (_("Reste à engager sur l'enveloppe après cette décision"), format_money(preview.remaining_after))
    )
    return Recap(
        title=_("Confirmer l'attribution – %(reference)s") % {"reference": application.reference},
        intro=_(
            "Vous allez attribuer une subvention de %(amount)s au dossier %(reference)s. Vérifiez le "
            "montant et sa répartition par année avant de confirmer."
        )
        % {"amount": format_money(preview.amount), "reference": application.reference},
        action_url=_decide_url(application),
        confirm_label=_("Confirmer l'attribution de %(amount)s") % {"amount": format_money(preview.amount)},
        lines=lines(facts),
        table_caption=_("Répartition par année"),
        table_header=(_("Année"), _("Tranche"), _("Montant")),
        table_rows=rows,
        notified=[
            *_letter_notified(application),
            _("La convention est établie aussitôt et proposée à l'acceptation du représentant légal."),
        ],
        irreversible=[
            _("Le montant est engagé sur l'enveloppe de l'appel et la lettre de décision est envoyée."),
            _(
                "Seul un administrateur du programme pourra rouvrir le dossier, avec un motif, et tant "
                "qu'aucune tranche n'est versée."
            ),
        ],
    )


def refusal_recap(application: Application, reasons: str) -> Recap:
    return Recap(
        title=_("Confirmer le refus – %(reference)s") % {"reference": application.reference},
        intro=_(
            "Vous allez refuser le dossier %(reference)s. Les motifs ci-dessous sont imprimés dans la "
            "lettre de décision, avec les voies et délais de recours."
        )
        % {"reference": application.reference},
        action_url=_decide_url(application),
        confirm_label=_("Confirmer le refus"),
        lines=lines([*_dossier_lines(application), (_("Motifs du refus"), reasons.strip())]),
        notified=_letter_notified(application),
        irreversible=[
            _(
                "La lettre de refus est envoyée au porteur : elle fait courir le délai de recours "
                "de deux mois."
            ),
            _("Seul un administrateur du programme pourra rouvrir le dossier, avec un motif."),
        ],
    )


def closing_recap(application: Application, reason: str) -> Recap:
    return Recap(
        title=_("Confirmer le classement sans suite – %(reference)s") % {"reference": application.reference},
        intro=_("Vous allez classer sans suite le dossier %(reference)s.")
        % {"reference": application.reference},
        action_url=_decide_url(application),
        confirm_label=_("Confirmer le classement sans suite"),
        lines=lines([*_dossier_lines(application), (_("Motif"), reason.strip())]),
        notified=_letter_notified(application),
        irreversible=[
            _(
                "La lettre de classement sans suite, avec le motif, est envoyée au porteur : elle fait "
                "courir le délai de recours de deux mois."
            ),
            _("Seul un administrateur du programme pourra rouvrir le dossier, avec un motif."),
        ],
    )


@review_required
@require_POST
def review_decide(request: HttpRequest, reference: str) -> HttpResponse:
    """Award, refuse or close, according to the posted `decision`, once its recap is confirmed.

    A post without the confirmation flag writes nothing: it answers with the recap (amounts,
    yearly split, who receives the letter, what cannot be undone), whose « Confirmer » posts again.
    """
    application = reviewable_application(request, reference)
    user = user_of(request)
    decision = request.POST.get("decision")
    confirmed = is_confirmed(request)
    if decision == AWARD:
        award = AwardForm(request.POST, years=application.call.duration_years)
        if not award.is_valid() or wants_edit(request):
            return render_review_detail(request, application, award_form=award)
        amount = award.cleaned_data["amount"]
        try:
            if not confirmed:
                preview = award_preview(
                    application=application, amount=amount, yearly=award.yearly(), actor=user
                )
                return recap_response(request, award_recap(application, preview))
            application_award(application=application, amount=amount, yearly=award.yearly(), actor=user)
        except ValidationError as error:
            return refused_action_response(request, application, error, award_form=award)
        messages.success(
            request,
            _(
                "Le dossier %(reference)s est lauréat : subvention de %(amount)s attribuée. "
                "La lettre de décision est en cours de production."
            )
            % {"reference": application.reference, "amount": format_money(amount)},
        )
    elif decision == REFUSE:
        refuse = RefuseForm(request.POST)
        if not refuse.is_valid() or wants_edit(request):
            return render_review_detail(request, application, refuse_form=refuse)
        reasons = refuse.cleaned_data["reasons"]
        try:
            if not confirmed and reasons.strip():
                # An empty motive goes straight to the service, whose message says what is missing.
                decision_check(application=application, actor=user)
                return recap_response(request, refusal_recap(application, reasons))
            application_refuse(application=application, reasons=reasons, actor=user)
        except ValidationError as error:
            return refused_action_response(request, application, error, refuse_form=refuse)
        messages.success(
            request,
            _("Le dossier %(reference)s est refusé. La lettre de décision est en cours de production.")
            % {"reference": application.reference},
        )
    elif decision == CLOSE:
        close = CloseForm(request.POST)
        if not close.is_valid() or wants_edit(request):
            return render_review_detail(request, application, close_form=close)
        reason = close.cleaned_data["reason"]
        try:
            if not confirmed and reason.strip():
                closing_check(application=application, actor=user)
                return recap_response(request, closing_recap(application, reason))
            # Posted by the closing offered on overdue corrections: the state it was offered in.
            expected = close.cleaned_data.get("closing_from") or None
            application_close(application=application, reason=reason, actor=user, expected_status=expected)
        except ValidationError as error:
            return refused_action_response(request, application, error, close_form=close)
        messages.success(
            request,
            _("Le dossier %(reference)s est classé sans suite.") % {"reference": application.reference},
        )
    else:
        messages.error(request, _("Choisissez une décision : attribuer, refuser ou classer sans suite."))
        return redirect(review_detail_url(application, "decision"))
    return redirect(review_detail_url(application))


def reopen_recap(application: Application, reason: str, preview: ReopenPreview) -> Recap:
    """What reopening undoes: the grant and its bonus, the agreement, the tranches not paid."""
    facts = [
        *_dossier_lines(application),
        (_("Décision rouverte"), str(Application.Status(application.status).label)),
        (_("Motif de la réouverture"), reason.strip()),
    ]
    irreversible = [
        _("Le dossier revient en instruction : une nouvelle décision devra être prise, avec sa lettre."),
    ]
    grant = preview.grant
    if grant is not None:
        facts.append((_("Subvention annulée"), format_money(grant.amount)))
        if grant.bonus:
            facts.append((_("Bonus « fabrique numérique de territoire » annulé"), format_money(grant.bonus)))
        if preview.agreement is not None:
            facts.append(
                (
                    _("Convention"),
                    _("%(number)s (« %(status)s »), annulée")
                    % {"number": preview.agreement.number, "status": preview.agreement.get_status_display()}
                    if preview.agreement_cancelled
                    else _("%(number)s (« %(status)s »), inchangée")
                    % {"number": preview.agreement.number, "status": preview.agreement.get_status_display()},
                )
            )
        facts.append((_("Rendu à l'enveloppe de l'appel"), format_money(preview.released)))
        facts.append(
            (_("Reste à engager sur l'enveloppe après la réouverture"), format_money(preview.remaining_after))
        )
        irreversible.insert(
            0,
            _(
                "La subvention, sa convention et ses tranches non versées sont annulées : une nouvelle "
                "attribution établira une nouvelle convention."
            ),
        )
    notified = [
        _(
            "Le représentant légal de la structure cheffe de file est prévenu par courriel, avec le "
            "motif : %(emails)s."
        )
        % {"emails": ", ".join(preview.representative)}
    ]
    if preview.instructors:
        notified.append(
            _("Les instructeurs affectés au dossier sont prévenus par courriel : %(emails)s.")
            % {"emails": ", ".join(preview.instructors)}
        )
    else:
        notified.append(_("Aucun instructeur n'est affecté au dossier : aucun autre courriel n'est envoyé."))
    return Recap(
        title=_("Confirmer la réouverture – %(reference)s") % {"reference": application.reference},
        intro=_("Vous allez rouvrir le dossier %(reference)s, décidé, et le remettre en instruction.")
        % {"reference": application.reference},
        action_url=reverse("grants:review-reopen", kwargs={"reference": application.reference}),
        confirm_label=_("Confirmer la réouverture"),
        lines=lines(facts),
        **cancelled_tranches_table(
            [
                (_("Année %(year)d") % {"year": year}, format_money(amount), label)
                for year, amount, label in preview.tranches
            ]
        ),
        notified=notified,
        irreversible=irreversible,
    )


@review_required
@require_POST
def review_reopen(request: HttpRequest, reference: str) -> HttpResponse:
    """An admin sends a decided dossier back to review, with a reason, once its recap is confirmed."""
    application = reviewable_application(request, reference)
    user = user_of(request)
    form = ReopenForm(request.POST)
    if not form.is_valid() or wants_edit(request):
        return render_review_detail(request, application, reopen_form=form)
    reason = form.cleaned_data["reason"]
    try:
        if not is_confirmed(request):
            preview = reopen_preview(application=application, reason=reason, actor=user)
            return recap_response(request, reopen_recap(application, reason, preview))
        application_reopen(application=application, reason=reason, actor=user)
    except ValidationError as error:
        return refused_action_response(request, application, error, reopen_form=form)
    messages.success(
        request,
        _("Le dossier %(reference)s est rouvert et revient en instruction.")
        % {"reference": application.reference},
    )
    return redirect(review_detail_url(application))
