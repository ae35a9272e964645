"""Payments and yearly reports of a grant: the beneficiary's page and the instruction page.

The beneficiary's page fetches the dossier through `applications_visible_to(user)` and the
instruction page through `applications_reviewable_by(user)`: anyone else gets a 404. Each form
posts to its own view, which calls one service: a PermissionDenied becomes a 403, a ValidationError
naming a field goes back next to it (the page re-rendered with the bound form), any other refusal
becomes a message. IBANs are shown masked but for their last four characters; the payment request
PDF carries them in full.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.confirmation import Recap, is_confirmed, lines, recap_response, wants_edit
from accounts.models import Role
from accounts.permissions import can_use_applicant_space, role_required
from accounts.roles import has_role
from applications.models import Application
from applications.selectors import applications_reviewable_by, applications_visible_to
from applications.views.common import issued_document_response
from applications.views.review import review_required
from core.formatting import format_date, format_money
from core.refusals import apply_refusal, is_page_refusal, say_refusal
from core.responses import document_response
from grants.forms.payments import (
    CancelForm,
    PayForm,
    PaymentRequestForm,
    ReportReviewForm,
    ReportUploadForm,
    ScheduleForm,
)
from grants.models import Agreement, Grant, Report, ReportKind, Tranche
from grants.services.payments import (
    agreement_of,
    cancellation_settles_agreement,
    grant_years,
    iban_masked,
    is_beneficiary,
    schedule_update,
    tranche_cancel,
    tranche_cancel_check,
    tranche_pay,
    tranche_pay_check,
    tranche_request,
    tranche_request_refusals,
    tranche_validate,
)
from grants.services.recipients import representative_recipients
from grants.services.reminders import year_end
from grants.services.reports import report_review, report_upload
from grants.views.common import admin_required, beneficiary_lines, user_of
from notifications.models import Status

T = Tranche.Status


# --- what the pages show ------------------------------------------------------------------------


@dataclass
class TrancheRow:
    tranche: Tranche
    iban: str
    pdf_ready: bool
    refusals: list[str] = field(default_factory=list)
    request_form: PaymentRequestForm | None = None
    can_validate: bool = False
    pay_form: PayForm | None = None
    cancel_form: CancelForm | None = None


@dataclass
class ReportSlot:
    year: int
    kind: str
    label: str
    reports: list[Report]
    live: Report | None
    form: ReportUploadForm | None = None
    review_form: ReportReviewForm | None = None


@dataclass
class YearReports:
    year: int
    due_from: date | None
    slots: list[ReportSlot]


def _active_grant(application: Application) -> Grant:
    return get_object_or_404(
        Grant.objects.select_related("application", "call"),
        application=application,
        status=Grant.Status.ACTIVE,
    )


def _visible(request: HttpRequest, reference: str) -> tuple[Application, Grant]:
    """The dossier and its grant if the user may see the dossier; anyone else's is a 404."""
    application = get_object_or_404(applications_visible_to(user_of(request)), reference=reference)
    return application, _active_grant(application)


def _reviewable(request: HttpRequest, reference: str) -> tuple[Application, Grant]:
    """The dossier and its grant if the user reviews the dossier (territory, or admin), else a 404."""
    application = get_object_or_404(applications_reviewable_by(user_of(request)), reference=reference)
    return application, _active_grant(application)


def _tranches(grant: Grant) -> list[Tranche]:
    return list(grant.tranches.select_related("payment_request").order_by("year_index"))


def _row(tranche: Tranche) -> TrancheRow:
    document = tranche.payment_request
    iban = ""
    if document is not None:
        iban = iban_masked(str(document.context.get("iban", "")))
    return TrancheRow(
        tranche=tranche,
        iban=iban,
        pdf_ready=document is not None and document.status == Status.DONE and bool(document.file),
    )


def _report_years(grant: Grant, tranches: list[Tranche], agreement: Agreement | None) -> list[YearReports]:
    reports: dict[tuple[int, str], list[Report]] = {}
    for report in grant.reports.select_related("uploaded_by").order_by("uploaded_at", "pk"):
        reports.setdefault((report.year_index, report.kind), []).append(report)
    by_year = {tranche.year_index: tranche for tranche in tranches}
    years = []
    for year in range(1, grant_years(grant) + 1):
        slots = []
        for kind in ReportKind:
            history = reports.get((year, kind.value), [])
            live = next((r for r in reversed(history) if r.status != Report.Status.REJECTED), None)
            slots.append(ReportSlot(year, kind.value, str(kind.label), history, live))
        tranche = by_year.get(year)
        years.append(YearReports(year, year_end(tranche, agreement) if tranche else None, slots))
    return years


def _page_base(application: Application, grant: Grant) -> dict[str, Any]:
    agreement = agreement_of(grant)
    tranches = _tranches(grant)
    return {
        "application": application,
        "grant": grant,
        "agreement": agreement,
        "tranches": tranches,
        "rows": [_row(tranche) for tranche in tranches],
        "report_years": _report_years(grant, tranches, agreement),
    }


def _render_beneficiary(
    request: HttpRequest,
    application: Application,
    grant: Grant,
    bound: dict[str, forms.Form] | None = None,
    refusal: str = "",
) -> HttpResponse:
    bound = bound or {}
    placed: set[str] = set()
    context = _page_base(application, grant)
    beneficiary = is_beneficiary(user_of(request), grant)
    agreement = context["agreement"]
    next_shown = False
    for row in context["rows"]:
        tranche = row.tranche
        if tranche.status != T.SCHEDULED or next_shown:
            continue
        # The next tranche to request: its form when it may be requested, else why not.
        next_shown = True
        row.refusals = tranche_request_refusals(tranche, agreement)
        if beneficiary and not row.refusals:
            key = f"demande-{tranche.year_index}"
            placed.add(key)
            row.request_form = bound.get(key) or PaymentRequestForm(prefix=key)
    if beneficiary:
        for year in context["report_years"]:
            for slot in year.slots:
                if slot.live is not None and slot.live.status == Report.Status.ACCEPTED:
                    continue
                key = f"rapport-{slot.year}-{slot.kind}"
                placed.add(key)
                slot.form = bound.get(key) or ReportUploadForm(prefix=key)
    _say_unshown(request, bound, placed, refusal)
    context.update(
        {
            "beneficiary": beneficiary,
            "title": _("Subvention et versements – %(reference)s") % {"reference": application.reference},
        }
    )
    return render(request, "grants/payments/grant_detail.html", context)


def _render_manage(
    request: HttpRequest,
    application: Application,
    grant: Grant,
    bound: dict[str, forms.Form] | None = None,
    refusal: str = "",
) -> HttpResponse:
    bound = bound or {}
    placed: set[str] = set()
    user = user_of(request)
    is_admin = has_role(user, Role.ADMIN)
    context = _page_base(application, grant)
    for row in context["rows"]:
        tranche = row.tranche
        year = tranche.year_index
        row.can_validate = tranche.status == T.REQUESTED
        if is_admin and tranche.status == T.VALIDATED:
            placed.add(f"versement-{year}")
            row.pay_form = bound.get(f"versement-{year}") or PayForm(
                prefix=f"versement-{year}", initial={"paid_on": timezone.localdate()}
            )
        if is_admin and tranche.status in (T.SCHEDULED, T.REQUESTED, T.VALIDATED):
            placed.add(f"annulation-{year}")
            row.cancel_form = bound.get(f"annulation-{year}") or CancelForm(prefix=f"annulation-{year}")
    for year_reports in context["report_years"]:
        for slot in year_reports.slots:
            if slot.live is not None and slot.live.status == Report.Status.SUBMITTED:
                key = f"examen-{slot.live.pk}"
                placed.add(key)
                slot.review_form = bound.get(key) or ReportReviewForm(prefix=key)
    schedule_form = None
    if is_admin and any(t.status == T.SCHEDULED for t in context["tranches"]):
        placed.add("echeancier")
        schedule_form = bound.get("echeancier") or ScheduleForm(tranches=context["tranches"])
    _say_unshown(request, bound, placed, refusal)
    context.update(
        {
            "is_admin": is_admin,
            "schedule_form": schedule_form,
            "title": _("Versements et rapports – %(reference)s") % {"reference": application.reference},
        }
    )
    return render(request, "grants/payments/grant_manage.html", context)


def _detail_url(application: Application) -> str:
    return reverse("grants:tranche-grant", kwargs={"reference": application.reference})


def _manage_url(application: Application) -> str:
    return reverse("grants:tranche-manage", kwargs={"reference": application.reference})


def _refused(
    request: HttpRequest,
    application: Application,
    grant: Grant,
    error: ValidationError,
    *,
    key: str,
    form: forms.Form,
    manage: bool,
) -> HttpResponse:
    """A service's refusal of a form posted from the beneficiary's page or the instruction page
    (`manage`): next to the fields it names, on the page shown again; any other, as a message."""
    if is_page_refusal(error, form=form):
        say_refusal(request, error)
        return redirect(_manage_url(application) if manage else _detail_url(application))
    apply_refusal(form, error)
    render = _render_manage if manage else _render_beneficiary
    return render(request, application, grant, {key: form})


def _say_unshown(request: HttpRequest, bound: dict[str, forms.Form], placed: set[str], refusal: str) -> None:
    """A refused form that the page no longer shows (its tranche or report moved on): say why.

    Its field errors would be lost with it, and would not be the reason anyway: the action is
    not offered in the object's state. The page shows that state.
    """
    if any(key not in placed for key in bound):
        messages.error(
            request,
            refusal or _("Cette action n'est pas possible dans l'état actuel de la subvention."),
        )


def _tranche_refusal(tranche: Tranche) -> str:
    return _("Cette action n'est pas possible : la tranche de l'année %(year)d est « %(status)s ».") % {
        "year": tranche.year_index,
        "status": tranche.get_status_display(),
    }


# --- the beneficiary's page ----------------------------------------------------------------------


@role_required(can_use_applicant_space)
@require_GET
def grant_detail(request: HttpRequest, reference: str) -> HttpResponse:
    application, grant = _visible(request, reference)
    return _render_beneficiary(request, application, grant)


@role_required(can_use_applicant_space)
@require_POST
def tranche_request_view(request: HttpRequest, reference: str, year: int) -> HttpResponse:
    application, grant = _visible(request, reference)
    tranche = get_object_or_404(Tranche, grant=grant, year_index=year)
    key = f"demande-{year}"
    form = PaymentRequestForm(request.POST, prefix=key)
    if not form.is_valid():
        refusal = (
            _tranche_refusal(tranche)
            if tranche.status != T.SCHEDULED
            else " ".join(tranche_request_refusals(tranche, agreement_of(grant)))
        )
        return _render_beneficiary(request, application, grant, {key: form}, refusal)
    try:
        tranche_request(tranche=tranche, iban=form.cleaned_data["iban"], actor=user_of(request))
    except ValidationError as error:
        return _refused(request, application, grant, error, key=key, form=form, manage=False)
    messages.success(
        request,
        _(
            "La tranche de l'année %(year)d est demandée. La demande de versement est en cours de "
            "production ; le paiement intervient dans les 60 jours."
        )
        % {"year": year},
    )
    return redirect(_detail_url(application))


@role_required(can_use_applicant_space)
@require_POST
def report_upload_view(request: HttpRequest, reference: str, year: int, kind: str) -> HttpResponse:
    application, grant = _visible(request, reference)
    if kind not in ReportKind.values:
        raise Http404
    key = f"rapport-{year}-{kind}"
    form = ReportUploadForm(request.POST, request.FILES, prefix=key)
    if not form.is_valid():
        refusal = _(
            "Ce rapport ne peut pas être déposé : l'année %(year)d n'en attend plus, ou n'existe pas "
            "dans cette subvention."
        ) % {"year": year}
        return _render_beneficiary(request, application, grant, {key: form}, refusal)
    upload = form.cleaned_data["file"]
    try:
        report = report_upload(
            grant=grant,
            year_index=year,
            kind=kind,
            file=upload,
            filename=upload.name or "",
            actor=user_of(request),
        )
    except ValidationError as error:
        return _refused(request, application, grant, error, key=key, form=form, manage=False)
    messages.success(
        request,
        _("%(kind)s de l'année %(year)d déposé : il sera examiné par l'équipe d'instruction.")
        % {"kind": report.get_kind_display(), "year": year},
    )
    return redirect(f"{_detail_url(application)}#rapports-{year}")


@login_required  # beneficiaries, instructors and admins alike: the scoped lookup decides (else a 404)
@require_GET
def report_download(request: HttpRequest, reference: str, report_id: int) -> FileResponse:
    application = get_object_or_404(applications_visible_to(user_of(request)), reference=reference)
    report = get_object_or_404(Report, pk=report_id, grant__application=application)
    return document_response(report.file, filename=report.original_name, content_type="application/pdf")


@login_required  # beneficiaries, instructors and admins alike: the scoped lookup decides (else a 404)
@require_GET
def tranche_request_pdf(request: HttpRequest, reference: str, year: int) -> HttpResponseBase:
    application, grant = _visible(request, reference)
    tranche = get_object_or_404(
        Tranche.objects.select_related("payment_request"),
        grant=grant,
        year_index=year,
        payment_request__isnull=False,
    )
    document = tranche.payment_request
    if document is None:  # excluded by the query; keeps the type checker informed
        raise Http404
    return issued_document_response(
        request,
        document,
        back=_detail_url(application) if can_use_applicant_space(request.user) else _manage_url(application),
        failed=_(
            "La demande de versement n'a pas pu être produite. Réessayez plus tard ; si le "
            "problème persiste, contactez l'équipe du programme."
        ),
        pending=_("La demande de versement est en cours de production, réessayez dans un instant."),
    )


# --- the instruction page -----------------------------------------------------------------------


@review_required
@require_GET
def grant_manage(request: HttpRequest, reference: str) -> HttpResponse:
    application, grant = _reviewable(request, reference)
    return _render_manage(request, application, grant)


@review_required
@require_POST
def tranche_validate_view(request: HttpRequest, reference: str, year: int) -> HttpResponse:
    application, grant = _reviewable(request, reference)
    tranche = get_object_or_404(Tranche, grant=grant, year_index=year)
    try:
        tranche_validate(tranche=tranche, actor=user_of(request))
    except ValidationError as error:
        say_refusal(request, error)
        return redirect(_manage_url(application))
    messages.success(request, _("La tranche de l'année %(year)d est validée.") % {"year": year})
    return redirect(_manage_url(application))


F = TypeVar("F", PayForm, CancelForm)


def _posted_to_tranche(
    request: HttpRequest, reference: str, year: int, form_class: type[F], prefix: str
) -> tuple[Application, Grant, Tranche, str, F]:
    """A form posted about one tranche from the instruction page: the dossier and its grant
    (reviewable by the user, else a 404), the tranche, the form's prefix and the bound form."""
    application, grant = _reviewable(request, reference)
    tranche = get_object_or_404(Tranche, grant=grant, year_index=year)
    key = f"{prefix}-{year}"
    return application, grant, tranche, key, form_class(request.POST, prefix=key)


def payment_recap(
    application: Application, grant: Grant, tranche: Tranche, form: PayForm, settles: bool
) -> Recap:
    """What recording a payment states: the amount paid, to whom, when, under which reference."""
    agreement = agreement_of(grant)
    row = _row(tranche)
    facts = [
        *beneficiary_lines(application),
        (_("Convention"), agreement.number if agreement is not None else "—"),
        (_("Tranche"), _("Année %(year)d") % {"year": tranche.year_index}),
        (_("Montant versé"), format_money(tranche.amount)),
        (_("Compte crédité (IBAN)"), row.iban or "—"),
        (_("Date du versement"), format_date(form.cleaned_data["paid_on"])),
        (_("Référence du paiement"), form.cleaned_data["payment_reference"].strip()),
    ]
    irreversible = [
        _(
            "Un versement enregistré ne s'annule pas : la tranche reste « Versée » avec cette date "
            "et cette référence."
        )
    ]
    if settles:
        irreversible.append(_("C'est la dernière tranche à verser : la convention sera soldée."))
    return Recap(
        title=_("Confirmer le versement – %(reference)s") % {"reference": application.reference},
        intro=_("Vous allez enregistrer le versement de %(amount)s pour la tranche de l'année %(year)d.")
        % {"amount": format_money(tranche.amount), "year": tranche.year_index},
        action_url=reverse(
            "grants:tranche-pay", kwargs={"reference": application.reference, "year": tranche.year_index}
        ),
        confirm_label=_("Confirmer le versement de %(amount)s") % {"amount": format_money(tranche.amount)},
        lines=lines(facts),
        notified=[
            _(
                "Le représentant légal du bénéficiaire est prévenu par courriel du versement (montant, "
                "date et référence) : %(emails)s."
            )
            % {"emails": ", ".join(representative_recipients(application))},
            _("La tranche versée, avec sa date et sa référence, figure sur la page de la subvention."),
        ],
        irreversible=irreversible,
    )


@admin_required
@require_POST
def tranche_pay_view(request: HttpRequest, reference: str, year: int) -> HttpResponse:
    """Record a payment once its recap is confirmed; without the confirmation, only the recap."""
    application, grant, tranche, key, form = _posted_to_tranche(
        request, reference, year, PayForm, "versement"
    )
    if not form.is_valid() or wants_edit(request):
        return _render_manage(request, application, grant, {key: form}, _tranche_refusal(tranche))
    arguments = {
        "tranche": tranche,
        "paid_on": form.cleaned_data["paid_on"],
        "payment_reference": form.cleaned_data["payment_reference"],
        "actor": user_of(request),
    }
    try:
        if not is_confirmed(request):
            settles = tranche_pay_check(**arguments)
            return recap_response(request, payment_recap(application, grant, tranche, form, settles))
        tranche_pay(**arguments)
    except ValidationError as error:
        return _refused(request, application, grant, error, key=key, form=form, manage=True)
    messages.success(
        request, _("Le versement de la tranche de l'année %(year)d est enregistré.") % {"year": year}
    )
    return redirect(_manage_url(application))


def cancellation_recap(
    application: Application, grant: Grant, tranche: Tranche, reason: str, released: Decimal
) -> Recap:
    """What cancelling a tranche does: its amount not paid, released, what stays committed."""
    live = sum(
        grant.tranches.exclude(status=Tranche.Status.CANCELLED).values_list("amount", flat=True), Decimal("0")
    )
    facts = [
        *beneficiary_lines(application),
        (
            _("Tranche"),
            _("Année %(year)d (« %(status)s »)")
            % {"year": tranche.year_index, "status": tranche.get_status_display()},
        ),
        (_("Montant annulé"), format_money(tranche.amount)),
        (_("Motif"), reason.strip()),
        (_("Rendu à l'enveloppe de l'appel"), format_money(released)),
        (_("Montant qui reste engagé pour cette subvention"), format_money(live - released)),
    ]
    return Recap(
        title=_("Confirmer l'annulation – tranche de l'année %(year)d") % {"year": tranche.year_index},
        intro=_("Vous allez annuler la tranche de l'année %(year)d (%(amount)s) du dossier %(reference)s.")
        % {
            "year": tranche.year_index,
            "amount": format_money(tranche.amount),
            "reference": application.reference,
        },
        action_url=reverse(
            "grants:tranche-cancel", kwargs={"reference": application.reference, "year": tranche.year_index}
        ),
        confirm_label=_("Confirmer l'annulation de %(amount)s") % {"amount": format_money(tranche.amount)},
        lines=lines(facts),
        notified=[
            _(
                "Le représentant légal du bénéficiaire est prévenu par courriel de l'annulation, avec le "
                "motif : %(emails)s."
            )
            % {"emails": ", ".join(representative_recipients(application))}
        ],
        irreversible=[
            _("Une tranche annulée ne se rétablit pas : elle ne sera pas versée."),
            *(
                [_("Plus aucune tranche ne reste à verser : la convention sera soldée.")]
                if cancellation_settles_agreement(tranche)
                else []
            ),
        ],
    )


@admin_required
@require_POST
def tranche_cancel_view(request: HttpRequest, reference: str, year: int) -> HttpResponse:
    """Cancel a tranche once its recap is confirmed; without the confirmation, only the recap."""
    application, grant, tranche, key, form = _posted_to_tranche(
        request, reference, year, CancelForm, "annulation"
    )
    if not form.is_valid() or wants_edit(request):
        return _render_manage(request, application, grant, {key: form}, _tranche_refusal(tranche))
    arguments = {"tranche": tranche, "reason": form.cleaned_data["reason"], "actor": user_of(request)}
    try:
        if not is_confirmed(request):
            released = tranche_cancel_check(**arguments)
            return recap_response(
                request,
                cancellation_recap(application, grant, tranche, form.cleaned_data["reason"], released),
            )
        tranche_cancel(**arguments)
    except ValidationError as error:
        return _refused(request, application, grant, error, key=key, form=form, manage=True)
    messages.success(request, _("La tranche de l'année %(year)d est annulée.") % {"year": year})
    return redirect(_manage_url(application))


@admin_required
@require_POST
def schedule_update_view(request: HttpRequest, reference: str) -> HttpResponse:
    application, grant = _reviewable(request, reference)
    form = ScheduleForm(request.POST, tranches=_tranches(grant))
    if not form.is_valid():
        refusal = _("L'échéancier ne peut plus être modifié : aucune tranche n'est encore prévue.")
        return _render_manage(request, application, grant, {"echeancier": form}, refusal)
    try:
        schedule_update(grant=grant, parts=form.parts(), due_dates=form.due_dates(), actor=user_of(request))
    except ValidationError as error:
        if not is_page_refusal(error):
            apply_refusal(form, error)
            return _render_manage(request, application, grant, {"echeancier": form})
        say_refusal(request, error)
        return redirect(_manage_url(application))
    messages.success(request, _("L'échéancier est modifié."))
    return redirect(_manage_url(application))


@review_required
@require_POST
def report_review_view(request: HttpRequest, reference: str, report_id: int) -> HttpResponse:
    application, grant = _reviewable(request, reference)
    report = get_object_or_404(Report, pk=report_id, grant=grant)
    key = f"examen-{report.pk}"
    form = ReportReviewForm(request.POST, prefix=key)
    if not form.is_valid():
        refusal = _("Ce rapport n'est plus à examiner : il est « %(status)s ».") % {
            "status": report.get_status_display()
        }
        return _render_manage(request, application, grant, {key: form}, refusal)
    accept = form.cleaned_data["decision"] == ReportReviewForm.ACCEPT
    try:
        report_review(report=report, accept=accept, note=form.cleaned_data["note"], actor=user_of(request))
    except ValidationError as error:
        return _refused(request, application, grant, error, key=key, form=form, manage=True)
    message = (
        _("%(kind)s de l'année %(year)d accepté.")
        if accept
        else _("%(kind)s de l'année %(year)d renvoyé au bénéficiaire pour reprise.")
    )
    messages.success(request, message % {"kind": report.get_kind_display(), "year": report.year_index})
    return redirect(f"{_manage_url(application)}#rapports-{report.year_index}")
