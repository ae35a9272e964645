"""Grant agreements: the beneficiary's page and the programme's actions on it.

Every page fetches the agreement through the dossiers the user may see
(`applications_visible_to`): another structure's agreement is a 404, never a 403. On that page the
lead structure's legal representative accepts the agreement, its members upload the signed copy,
and programme admins activate, complete, terminate or amend it (their views are refused to anyone
else with a 403). The services check the rest again; their errors go back next to the fields, or
into a message when they refuse the action as a whole.

Their forms are in grants.forms.agreements.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.confirmation import Recap, is_confirmed, lines, recap_response, wants_edit
from accounts.models import Role, User
from accounts.roles import has_role
from applications.views.common import issued_document_response
from core.formatting import format_date, format_money
from core.page_cache import cached_page
from core.pagination import pagination_context
from core.refusals import apply_refusal, is_page_refusal, say_refusal
from core.responses import document_response
from fabriques.models import Organisation, OrganisationMembership
from grants.forms.agreements import AcceptForm, ActivateForm, AmendForm, SignedCopyForm, TerminateForm
from grants.models import Agreement, Amendment, Tranche
from grants.selectors.agreements import agreement_list_page, agreement_page_queryset, agreements_visible_to
from grants.services.agreements import (
    CompletionPreview,
    TerminationPreview,
    agreement_accept,
    agreement_activate,
    agreement_activation_check,
    agreement_complete,
    agreement_completion_check,
    agreement_terminate,
    agreement_termination_check,
    agreement_upload_signed_copy,
    amendment_create,
    is_lead_legal_representative,
    termination_document,
)
from grants.services.envelope import add_years
from grants.services.recipients import representative_recipients
from grants.views.common import (
    admin_required,
    beneficiary_lines,
    cancelled_tranches_table,
    dossier_line,
    user_of,
)
from notifications.models import Document

A = Agreement.Status

# Rows per page of the agreements' list.
AGREEMENTS_PER_PAGE = 50


# --- lookups -------------------------------------------------------------------------------------


def visible_agreement(request: HttpRequest, number: str) -> Agreement:
    return get_object_or_404(
        agreements_visible_to(user_of(request)).select_related(
            "grant__application__call", "grant__application__created_by", "document", "accepted_by"
        ),
        number=number,
    )


def _detail(agreement: Agreement) -> HttpResponse:
    return redirect("grants:agreement-detail", number=agreement.number)


def _state_refusal(agreement: Agreement) -> str:
    return _("Cette action n'est pas possible : la convention %(number)s est « %(status)s ».") % {
        "number": agreement.number,
        "status": agreement.get_status_display(),
    }


# --- the agreement's page ------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadSide:
    """The lead structure as the page needs it: its legal representative and the user's place in it."""

    organisation: Organisation | None
    representative: OrganisationMembership | None
    is_member: bool
    is_representative: bool


def _lead_side(agreement: Agreement, user: User) -> LeadSide:
    """Read from the prefetched members and memberships: no query of its own."""
    lead = next((member for member in agreement.grant.application.members.all() if member.is_lead), None)
    if lead is None:
        return LeadSide(None, None, False, False)
    memberships = sorted(lead.organisation.memberships.all(), key=lambda m: (m.created_at, m.pk))
    representatives = [m for m in memberships if m.is_legal_representative and m.user.is_active]
    return LeadSide(
        organisation=lead.organisation,
        representative=representatives[0] if representatives else None,
        is_member=any(m.user_id == user.pk for m in memberships),
        is_representative=any(m.user_id == user.pk for m in representatives),
    )


def render_agreement(
    request: HttpRequest, agreement: Agreement, refusal: str = "", **bound: forms.Form
) -> HttpResponse:
    """The agreement's page, with the forms its state and the user's role offer.

    A refused form the page no longer offers (the agreement moved on) is not dropped in silence:
    `refusal` says why, as a message.
    """
    user = user_of(request)
    grant = agreement.grant
    application = grant.application
    lead = _lead_side(agreement, user)
    is_admin = has_role(user, Role.ADMIN)
    live = grant.status == grant.Status.ACTIVE
    tranches = list(grant.tranches.all())
    context: dict[str, Any] = {
        "title": _("Convention %(number)s") % {"number": agreement.number},
        "agreement": agreement,
        "grant": grant,
        "application": application,
        "call": application.call,
        "tranches": tranches,
        "amendments": list(grant.amendments.all()),
        "history": list(agreement.status_changes.all()),
        "lead": lead,
        "is_admin": is_admin,
        "live": live,
        "paid_total": sum((t.amount for t in tranches if t.status == Tranche.Status.PAID), Decimal("0")),
        "termination": termination_document(agreement) if agreement.status == A.TERMINATED else None,
        "accept_form": None,
        "upload_form": None,
        "activate_form": None,
        "can_complete": False,
        "can_terminate": False,
        "can_amend": False,
    }
    if live and agreement.status == A.AWAITING_SIGNATURE and lead.is_representative:
        context["accept_form"] = bound.get("accept_form") or AcceptForm()
    if live and agreement.status in (A.AWAITING_SIGNATURE, A.SIGNED) and (lead.is_member or is_admin):
        context["upload_form"] = bound.get("upload_form") or SignedCopyForm()
    if is_admin and live:
        if agreement.status == A.SIGNED:
            context["activate_form"] = bound.get("activate_form") or ActivateForm()
        context["can_complete"] = (
            agreement.status == A.ACTIVE
            and any(t.status == Tranche.Status.PAID for t in tranches)
            and all(t.status in (Tranche.Status.PAID, Tranche.Status.CANCELLED) for t in tranches)
        )
        context["can_terminate"] = agreement.status in (A.SIGNED, A.ACTIVE)
        context["can_amend"] = agreement.status in (A.AWAITING_SIGNATURE, A.SIGNED, A.ACTIVE)
    if any(context.get(key) is not form for key, form in bound.items()):
        messages.error(request, refusal or _state_refusal(agreement))
    return render(request, "grants/agreements/detail.html", context)


def _page_agreement(request: HttpRequest, number: str) -> Agreement:
    return get_object_or_404(agreement_page_queryset(user_of(request)), number=number)


@login_required  # applicants, instructors and admins: the scoped lookup decides (else a 404)
@require_http_methods(["GET", "HEAD"])
def agreement_detail(request: HttpRequest, number: str) -> HttpResponse:
    return render_agreement(request, _page_agreement(request, number))


@login_required
@require_http_methods(["GET", "HEAD"])
@cached_page
def agreement_list(request: HttpRequest) -> HttpResponse:
    """The agreements the user may see: their structures' for applicants, every one for admins.

    Paginated, never cut: a programme admin sees every agreement of the programme, page by page.
    """
    page = agreement_list_page(
        user=user_of(request), number=request.GET.get("page"), per_page=AGREEMENTS_PER_PAGE
    )
    return render(
        request,
        "grants/agreements/list.html",
        {"title": _("Conventions"), "agreements": page.object_list, **pagination_context(page)},
    )


@login_required
@require_POST
def agreement_accept_view(request: HttpRequest, number: str) -> HttpResponse:
    agreement = visible_agreement(request, number)
    form = AcceptForm(request.POST)
    if not form.is_valid():
        refusal = ""
        if agreement.status != A.AWAITING_SIGNATURE:
            refusal = _("La convention %(number)s est « %(status)s » : elle ne peut plus être acceptée.") % {
                "number": agreement.number,
                "status": agreement.get_status_display(),
            }
        elif not is_lead_legal_representative(user_of(request), agreement.grant.application):
            refusal = _(
                "Seul le représentant légal de la structure chef de file peut accepter la convention "
                "au nom de la structure."
            )
        return render_agreement(request, _page_agreement(request, number), refusal, accept_form=form)
    try:
        agreement_accept(agreement=agreement, actor=user_of(request))
    except (ValidationError, PermissionDenied) as error:
        say_refusal(request, error)
        return _detail(agreement)
    messages.success(
        request,
        _("Vous avez accepté la convention %(number)s au nom de la structure. Elle est signée.")
        % {"number": agreement.number},
    )
    return _detail(agreement)


@login_required
@require_POST
def agreement_signed_copy_view(request: HttpRequest, number: str) -> HttpResponse:
    agreement = visible_agreement(request, number)
    form = SignedCopyForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            agreement_upload_signed_copy(
                agreement=agreement, file=upload, filename=upload.name or "", actor=user_of(request)
            )
        except PermissionDenied as error:
            say_refusal(request, error)
            return _detail(agreement)
        except ValidationError as error:
            if is_page_refusal(error):
                say_refusal(request, error)
                return _detail(agreement)
            apply_refusal(form, error)
        else:
            messages.success(
                request,
                _("L'exemplaire signé de la convention %(number)s a été déposé.")
                % {"number": agreement.number},
            )
            return _detail(agreement)
    return render_agreement(request, _page_agreement(request, number), upload_form=form)


# --- downloads -----------------------------------------------------------------------------------


def _serve_document(
    request: HttpRequest, agreement: Agreement, document: Document | None
) -> HttpResponseBase:
    if document is None:
        raise Http404
    return issued_document_response(request, document, back=_agreement_url(agreement))


@login_required
def agreement_download(request: HttpRequest, number: str) -> HttpResponseBase:
    """The generated agreement (PDF)."""
    agreement = visible_agreement(request, number)
    return _serve_document(request, agreement, agreement.document)


@login_required
def agreement_termination_download(request: HttpRequest, number: str) -> HttpResponseBase:
    agreement = visible_agreement(request, number)
    return _serve_document(request, agreement, termination_document(agreement))


@login_required
def agreement_amendment_download(
    request: HttpRequest, number: str, amendment_number: int
) -> HttpResponseBase:
    agreement = visible_agreement(request, number)
    amendment = get_object_or_404(
        Amendment.objects.select_related("document"), grant=agreement.grant, number=amendment_number
    )
    return _serve_document(request, agreement, amendment.document)


@login_required
def agreement_signed_copy_download(request: HttpRequest, number: str) -> FileResponse:
    agreement = visible_agreement(request, number)
    if not agreement.signed_copy:
        raise Http404
    return document_response(
        agreement.signed_copy,
        filename=f"convention-{agreement.number}-signee.pdf",
        content_type="application/pdf",
    )


# --- the programme's actions ---------------------------------------------------------------------


def activation_recap(
    agreement: Agreement, user: User, commitment_number: str, starts_on: date, ends_on: date
) -> Recap:
    """What activating states: the commitment number, the agreement's dates, the schedule from then."""
    grant = agreement.grant
    application = grant.application
    lead = _lead_side(agreement, user)
    rows = [
        (
            _("Année %(year)d") % {"year": tranche.year_index},
            format_money(tranche.amount),
            format_date(add_years(starts_on, tranche.year_index - 1))
            if tranche.status == Tranche.Status.SCHEDULED
            else (format_date(tranche.due_date) if tranche.due_date else "—"),
            tranche.get_status_display(),
        )
        for tranche in grant.tranches.all()
    ]
    return Recap(
        title=_("Confirmer l'activation – convention %(number)s") % {"number": agreement.number},
        intro=_(
            "Vous allez rendre exécutoire la convention %(number)s (%(amount)s) avec le numéro d'engagement "
            "juridique %(commitment)s."
        )
        % {
            "number": agreement.number,
            "amount": format_money(grant.committed),
            "commitment": commitment_number,
        },
        action_url=reverse("grants:agreement-activate", kwargs={"number": agreement.number}),
        confirm_label=_("Confirmer l'activation de la convention"),
        lines=lines(
            [
                dossier_line(application),
                (_("Bénéficiaire"), lead.organisation.name if lead.organisation else "—"),
                (_("Montant de la subvention"), format_money(grant.committed)),
                (_("Numéro d'engagement juridique"), commitment_number),
                (
                    _("Période d'exécution"),
                    _("du %(start)s au %(end)s")
                    % {"start": format_date(starts_on), "end": format_date(ends_on)},
                ),
            ]
        ),
        table_caption=_("Échéancier à partir de la signature"),
        table_header=(_("Tranche"), _("Montant"), _("Échéance"), _("État")),
        table_rows=rows,
        notified=[
            _(
                "Le représentant légal du bénéficiaire est prévenu par courriel que la convention est en "
                "cours d'exécution et que la première tranche peut être demandée : %(emails)s."
            )
            % {"emails": ", ".join(representative_recipients(application))},
            _("Le numéro d'engagement figure sur chaque demande de paiement."),
        ],
        irreversible=[
            _(
                "Une convention en cours d'exécution ne revient pas à l'état « Signée » : elle ne change "
                "plus que par avenant ou par résiliation."
            )
        ],
    )


@admin_required
@require_POST
def agreement_activate_view(request: HttpRequest, number: str) -> HttpResponse:
    """Activate once the recap is confirmed; without the confirmation, only the recap."""
    agreement = visible_agreement(request, number)
    form = ActivateForm(request.POST)
    if form.is_valid() and not wants_edit(request):
        try:
            if not is_confirmed(request):
                commitment, starts_on, ends_on = agreement_activation_check(
                    agreement=agreement,
                    commitment_number=form.cleaned_data["commitment_number"],
                    actor=user_of(request),
                )
                return recap_response(
                    request, activation_recap(agreement, user_of(request), commitment, starts_on, ends_on)
                )
            agreement_activate(
                agreement=agreement,
                commitment_number=form.cleaned_data["commitment_number"],
                actor=user_of(request),
            )
        except ValidationError as error:
            if is_page_refusal(error):
                say_refusal(request, error)
                return _detail(agreement)
            apply_refusal(form, error)
        else:
            messages.success(
                request,
                _("La convention %(number)s est en cours d'exécution.") % {"number": agreement.number},
            )
            return _detail(agreement)
    return render_agreement(request, _page_agreement(request, number), activate_form=form)


def _agreement_url(agreement: Agreement) -> str:
    return reverse("grants:agreement-detail", kwargs={"number": agreement.number})


def _beneficiary_lines(agreement: Agreement) -> list[tuple[str, str]]:
    grant = agreement.grant
    return [
        (_("Convention"), agreement.number),
        *beneficiary_lines(grant.application),
        (_("Montant de la subvention"), format_money(grant.committed)),
    ]


def completion_recap(agreement: Agreement, preview: CompletionPreview) -> Recap:
    """What completing states: every tranche settled, what was paid, nothing left to pay."""
    facts = [
        *_beneficiary_lines(agreement),
        (_("Total versé"), format_money(preview.paid)),
        (_("Montant qui reste engagé pour cette subvention"), format_money(preview.paid)),
    ]
    if preview.cancelled:
        facts.append(
            (
                _("Tranches annulées (déjà rendues à l'enveloppe)"),
                format_money(preview.cancelled),
            )
        )
    facts.append((_("Rendu à l'enveloppe par le solde"), format_money(Decimal("0"))))
    return Recap(
        title=_("Confirmer le solde – convention %(number)s") % {"number": agreement.number},
        intro=_(
            "Vous allez solder la convention %(number)s : toutes ses tranches sont versées ou annulées "
            "(%(paid)s versés)."
        )
        % {"number": agreement.number, "paid": format_money(preview.paid)},
        action_url=reverse("grants:agreement-complete", kwargs={"number": agreement.number}),
        confirm_label=_("Confirmer le solde de la convention"),
        lines=lines(facts),
        notified=[
            _(
                "Le représentant légal du bénéficiaire est prévenu par courriel que la convention est "
                "soldée : %(emails)s."
            )
            % {"emails": ", ".join(preview.recipients)}
        ],
        irreversible=[
            _(
                "Une convention soldée ne revient pas « En cours d'exécution » : elle ne se modifie plus par "
                "avenant et ne se résilie plus."
            )
        ],
        can_edit=False,
        back_url=_agreement_url(agreement),
    )


@admin_required
@require_POST
def agreement_complete_view(request: HttpRequest, number: str) -> HttpResponse:
    """Complete (solder) once the recap is confirmed; without the confirmation, only the recap."""
    agreement = visible_agreement(request, number)
    try:
        if not is_confirmed(request):
            preview = agreement_completion_check(agreement=agreement, actor=user_of(request))
            return recap_response(request, completion_recap(agreement, preview))
        agreement_complete(agreement=agreement, actor=user_of(request))
    except ValidationError as error:
        say_refusal(request, error)
        return _detail(agreement)
    messages.success(request, _("La convention %(number)s est soldée.") % {"number": agreement.number})
    return _detail(agreement)


def termination_recap(agreement: Agreement, reason: str, preview: TerminationPreview) -> Recap:
    """What terminating does to the money: tranches cancelled and released, the clawback, the rest."""
    facts = [
        *_beneficiary_lines(agreement),
        (_("Motifs de la résiliation"), reason.strip()),
        (_("Déjà versé"), format_money(preview.paid)),
        (_("Montant à reverser par le bénéficiaire"), format_money(preview.clawback)),
        (_("Rendu à l'enveloppe de l'appel (tranches non versées)"), format_money(preview.released)),
        (_("Montant qui reste engagé pour cette subvention"), format_money(preview.stays_committed)),
    ]
    return Recap(
        title=_("Confirmer la résiliation – convention %(number)s") % {"number": agreement.number},
        intro=_(
            "Vous allez résilier la convention %(number)s : ses tranches non versées (%(released)s) sont "
            "annulées et %(clawback)s sont à reverser."
        )
        % {
            "number": agreement.number,
            "released": format_money(preview.released),
            "clawback": format_money(preview.clawback),
        },
        action_url=reverse("grants:agreement-terminate", kwargs={"number": agreement.number}),
        confirm_label=_("Confirmer la résiliation"),
        lines=lines(facts),
        **cancelled_tranches_table(
            [
                (
                    _("Année %(year)d") % {"year": tranche.year_index},
                    format_money(tranche.amount),
                    tranche.get_status_display(),
                )
                for tranche in preview.cancelled
            ]
        ),
        notified=[
            _(
                "La décision de résiliation, avec ses motifs et ses suites financières, est envoyée par "
                "courriel au porteur et aux membres de la structure cheffe de file : %(emails)s."
            )
            % {"emails": ", ".join(preview.recipients)}
        ],
        irreversible=[
            _("Une convention résiliée ne reprend pas : ses tranches annulées ne seront pas versées."),
        ],
        back_url=_agreement_url(agreement),
    )


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def agreement_terminate_view(request: HttpRequest, number: str) -> HttpResponse:
    """The form, then the recap of what the termination does, then the termination once confirmed."""
    agreement = visible_agreement(request, number)
    form = TerminateForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and not wants_edit(request):
        arguments = {
            "agreement": agreement,
            "reason": form.cleaned_data["reason"],
            "clawback_amount": form.clawback(),
            "actor": user_of(request),
        }
        try:
            if not is_confirmed(request):
                preview = agreement_termination_check(**arguments)
                return recap_response(
                    request, termination_recap(agreement, form.cleaned_data["reason"], preview)
                )
            agreement_terminate(**arguments)
        except ValidationError as error:
            if is_page_refusal(error):
                say_refusal(request, error)
                return _detail(agreement)
            apply_refusal(form, error)
        else:
            messages.success(
                request,
                _(
                    "La convention %(number)s est résiliée : les tranches non versées sont annulées et "
                    "la décision de résiliation est en cours de production."
                )
                % {"number": agreement.number},
            )
            return _detail(agreement)
    paid = sum(
        agreement.grant.tranches.filter(status=Tranche.Status.PAID).values_list("amount", flat=True),
        Decimal("0"),
    )
    return render(
        request,
        "grants/agreements/terminate.html",
        {
            "title": _("Résilier la convention %(number)s") % {"number": agreement.number},
            "agreement": agreement,
            "form": form,
            "paid": format_money(paid),
        },
    )


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def agreement_amend_view(request: HttpRequest, number: str) -> HttpResponse:
    agreement = visible_agreement(request, number)
    grant = agreement.grant
    call = grant.application.call
    tranches = list(grant.tranches.order_by("year_index"))
    # The breakdown typed is the operating grant's: the FNT bonus rides on the first tranche apart.
    initial = {"amount": grant.amount} | {
        f"yearly_{t.year_index}": t.amount - (grant.bonus if t.year_index == 1 else 0) for t in tranches
    }
    form = AmendForm(request.POST or None, initial=initial, years=call.duration_years)
    if request.method == "POST" and form.is_valid():
        try:
            amendment = amendment_create(
                grant=grant,
                new_amount=form.cleaned_data["amount"],
                yearly=form.yearly(),
                reason=form.cleaned_data["reason"],
                actor=user_of(request),
            )
        except ValidationError as error:
            if is_page_refusal(error):
                say_refusal(request, error)
                return _detail(agreement)
            apply_refusal(form, error)
        else:
            messages.success(
                request,
                _(
                    "L'avenant n° %(amendment)d à la convention %(number)s est établi : la subvention "
                    "passe à %(amount)s."
                )
                % {
                    "amendment": amendment.number,
                    "number": agreement.number,
                    "amount": format_money(amendment.new_amount),
                },
            )
            return _detail(agreement)
    return render(
        request,
        "grants/agreements/amend.html",
        {
            "title": _("Avenant à la convention %(number)s") % {"number": agreement.number},
            "agreement": agreement,
            "grant": grant,
            "call": call,
            "tranches": tranches,
            "form": form,
        },
    )
