"""The applicant's journey: list, create, fill section by section, submit, withdraw, share."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.confirmation import Recap, is_confirmed, lines, recap_response
from accounts.models import User
from accounts.permissions import can_use_applicant_space, role_required
from applications.forms import (
    AccessInviteForm,
    BudgetForm,
    DossierCreateForm,
    PlaceCreateForm,
    PlacesForm,
    ProjectForm,
    WithdrawForm,
)
from applications.forms_territory import CensusSearchForm, TerritoryChoiceForm
from applications.models import Access, Application, Call
from applications.rules import BUDGET_FIELDS, budget_field_name, budget_running, budget_totals, typed_amount
from applications.selectors import (
    application_list_for_applicant,
    application_territory,
)
from applications.selectors_opinions import opinions_shared_with_applicant
from applications.services import (
    access_invite,
    access_revoke,
    application_create,
    application_set_budget,
    application_set_places,
    application_submit,
    application_update_sections,
    application_withdraw,
)
from applications.services.access import access_accept as accept_invitation
from applications.services.access import is_lead_staff
from applications.services.dossiers import SECTION_FIELDS
from applications.services.submission import receipt_recipients, submission_check
from applications.services.territory import application_choose_departement
from applications.views.common import (
    dossier_context,
    get_editable_application,
    get_visible_application,
)
from core.formatting import format_money
from core.page_cache import cached_page
from core.refusals import apply_refusal, say_refusal
from fabriques.models import TiersLieu
from fabriques.selectors import CENSUS_RESULTS, census_search, organisations_of
from fabriques.services import tiers_lieu_create


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _census_search(request: HttpRequest) -> tuple[CensusSearchForm, list[TiersLieu] | None]:
    """The search form as typed, and its results (None when nothing was searched).

    A search that cannot be run (a NUL character, too long, an unknown département) runs
    nothing and says why in a message.
    """
    search = CensusSearchForm(request.GET)
    if not search.is_valid():
        for errors in search.errors.values():
            for message in errors:
                messages.error(request, str(message))
        return CensusSearchForm(), None
    query, departement = search.cleaned_data["q"], search.cleaned_data["departement"]
    if not query.strip() and departement is None:
        return search, None
    return search, census_search(query=query, departement=departement)


@role_required(can_use_applicant_space)
def dossier_list(request: HttpRequest) -> HttpResponse:
    applications = application_list_for_applicant(_user(request))
    return render(
        request, "applications/dossier_list.html", {"title": _("Mes dossiers"), "applications": applications}
    )


@role_required(can_use_applicant_space)
@require_http_methods(["GET", "POST"])
def dossier_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    now = timezone.now()
    calls = Call.objects.filter(status=Call.Status.OPEN, opens_at__lte=now, closes_at__gte=now)
    organisations = organisations_of(user=user)
    refused = Application.objects.filter(
        status=Application.Status.REFUSED, members__is_lead=True, members__organisation__in=organisations
    )
    form = DossierCreateForm(request.POST or None, calls=calls, organisations=organisations, refused=refused)
    if request.method == "POST" and form.is_valid():
        try:
            application = application_create(
                call=form.cleaned_data["call"],
                lead_organisation=form.cleaned_data["lead_organisation"],
                title=form.cleaned_data["title"],
                kind=form.cleaned_data["kind"],
                previous_application=form.cleaned_data["previous_application"],
                actor=user,
            )
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(
                request, _("Le dossier %(reference)s est créé.") % {"reference": application.reference}
            )
            return redirect("applications:dossier-project", reference=application.reference)
    return render(
        request,
        "applications/dossier_create.html",
        {"title": _("Nouveau dossier"), "form": form, "has_organisations": organisations.exists()},
    )


@role_required(can_use_applicant_space)
@cached_page
def dossier_detail(request: HttpRequest, reference: str) -> HttpResponse:
    application = get_visible_application(request, reference)
    history = application.status_changes.select_related("actor", "document").order_by("at", "pk")
    return render(
        request,
        "applications/dossier_detail.html",
        dossier_context(
            request,
            application,
            "overview",
            history=history,
            territory=application_territory(application),
            # The expert opinions the instruction chose to share, once given.
            shared_opinions=opinions_shared_with_applicant(application),
        ),
    )


@role_required(can_use_applicant_space)
@require_http_methods(["GET", "POST"])
def dossier_project(request: HttpRequest, reference: str) -> HttpResponse:
    application = get_visible_application(request, reference)
    form = ProjectForm(request.POST or None, instance=application)
    if request.method == "POST":
        application = get_editable_application(request, reference)
        form = ProjectForm(request.POST, instance=application)
        if form.is_valid():
            try:
                application_update_sections(
                    application=application,
                    actor=_user(request),
                    **{name: form.cleaned_data[name] for name in SECTION_FIELDS},
                )
            except ValidationError as error:
                apply_refusal(form, error)
            else:
                messages.success(request, _("Le projet est enregistré."))
                return redirect("applications:dossier-project", reference=reference)
    return render(
        request, "applications/project.html", dossier_context(request, application, "project", form=form)
    )


def _place_choices(application: Application) -> object:
    organisations = application.members.values("organisation")
    return (
        TiersLieu.objects.filter(Q(organisation__in=organisations) | Q(applications=application))
        .distinct()
        .select_related("departement")
        .order_by("name")
    )


@role_required(can_use_applicant_space)
@require_http_methods(["GET", "POST"])
def dossier_places(request: HttpRequest, reference: str) -> HttpResponse:
    application = get_visible_application(request, reference)
    user = _user(request)
    choices = _place_choices(application)
    form = PlacesForm(initial={"places": list(application.places.all())}, places=choices)
    place_form = PlaceCreateForm(prefix="lieu")
    search, census = _census_search(request)
    territory = application_territory(application)
    territory_form = TerritoryChoiceForm(
        initial={"departement": territory.chosen if territory.chosen in territory.choices else None},
        choices=territory.choices,
    )
    if request.method == "POST":
        application = get_editable_application(request, reference)
        action = request.POST.get("action")
        try:
            if action == "create":
                place_form = PlaceCreateForm(request.POST, prefix="lieu")
                if place_form.is_valid():
                    lead = application.members.select_related("organisation").get(is_lead=True).organisation
                    data = {k: v for k, v in place_form.cleaned_data.items() if k != "activities"}
                    place = tiers_lieu_create(
                        actor=user,
                        organisation=lead,
                        activities=place_form.cleaned_data["activities"],
                        **data,
                    )
                    application_set_places(
                        application=application, places=[*application.places.all(), place], actor=user
                    )
                    messages.success(
                        request, _("Le lieu « %(name)s » est ajouté au dossier.") % {"name": place.name}
                    )
                    return redirect("applications:dossier-places", reference=reference)
            elif action == "territory":
                if not territory.can_choose:
                    # The form is not on the page: nothing to choose, or the dossier already submitted.
                    messages.error(
                        request,
                        _(
                            "Le département d'instruction découle des lieux du dossier : "
                            "il n'y a pas de choix à faire."
                        )
                        if not territory.settled
                        else _(
                            "Le dossier a déjà été déposé : son département d'instruction ne change plus."
                        ),
                    )
                    return redirect("applications:dossier-places", reference=reference)
                territory_form = TerritoryChoiceForm(request.POST, choices=territory.choices)
                if territory_form.is_valid():
                    chosen = territory_form.cleaned_data["departement"]
                    application_choose_departement(application=application, departement=chosen, actor=user)
                    messages.success(
                        request,
                        _("Le dossier sera instruit dans le département %(departement)s.")
                        % {"departement": f"{chosen.name} ({chosen.code})"},
                    )
                    return redirect("applications:dossier-places", reference=reference)
            elif action == "census":
                place_id = request.POST.get("place", "")
                if not place_id.isdigit():
                    raise Http404
                place = get_object_or_404(TiersLieu, pk=int(place_id), source=TiersLieu.Source.CGET_2019)
                application_set_places(
                    application=application, places=[*application.places.all(), place], actor=user
                )
                messages.success(
                    request, _("Le lieu « %(name)s » est ajouté au dossier.") % {"name": place.name}
                )
                return redirect("applications:dossier-places", reference=reference)
            else:
                form = PlacesForm(request.POST, places=choices)
                if form.is_valid():
                    application_set_places(
                        application=application, places=form.cleaned_data["places"], actor=user
                    )
                    messages.success(request, _("Les lieux du dossier sont enregistrés."))
                    return redirect("applications:dossier-places", reference=reference)
        except ValidationError as error:
            target = {"create": place_form, "territory": territory_form}.get(action or "", form)
            apply_refusal(target, error)
    return render(
        request,
        "applications/places.html",
        dossier_context(
            request,
            application,
            "places",
            form=form,
            place_form=place_form,
            search=search,
            census=census[:CENSUS_RESULTS] if census is not None else None,
            census_more=census is not None and len(census) > CENSUS_RESULTS,
            territory=territory,
            territory_form=territory_form,
            places=application.places.select_related("departement").prefetch_related("activities"),
        ),
    )


@role_required(can_use_applicant_space)
@require_http_methods(["GET", "POST"])
def dossier_budget(request: HttpRequest, reference: str) -> HttpResponse:
    application = get_visible_application(request, reference)
    rows = list(application.budget_years.order_by("year_index"))
    initial = {
        budget_field_name(field, row.year_index): getattr(row, field)
        for row in rows
        for field in BUDGET_FIELDS
    }
    form = BudgetForm(initial=initial, years=application.call.years)
    if request.method == "POST":
        application = get_editable_application(request, reference)
        form = BudgetForm(request.POST, years=application.call.years)
        if form.is_valid():
            try:
                application_set_budget(application=application, years=form.years_data(), actor=_user(request))
            except ValidationError as error:
                apply_refusal(form, error)
            else:
                messages.success(request, _("Le budget est enregistré."))
                return redirect("applications:dossier-budget", reference=reference)
    table = [
        {"year": year, "fields": [form[budget_field_name(field, year)] for field in BUDGET_FIELDS]}
        for year in application.call.years
    ]
    # The running total of what is typed (what was posted, else what is saved), so that the page
    # never contradicts the amounts in its fields; static/js/budget.js keeps it current as one types.
    running = budget_running(
        call=application.call,
        requested={
            year: typed_amount(form[budget_field_name("requested", year)].value())
            for year in application.call.years
        },
    )
    return render(
        request,
        "applications/budget.html",
        dossier_context(
            request,
            application,
            "budget",
            form=form,
            table=table,
            totals=budget_totals(rows),
            running=running,
        ),
    )


def submission_recap(request: HttpRequest, application: Application) -> Recap:
    """What submitting does: the dossier frozen, the receipt e-mailed, the instruction begun."""
    lead = application.members.select_related("organisation").filter(is_lead=True).first()
    budget = list(application.budget_years.order_by("year_index"))
    totals = budget_totals(budget)
    members = application.members.count()
    resubmission = application.status == Application.Status.CORRECTIONS
    territory = application_territory(application)
    if territory.departement is not None:
        where = _("%(departement)s (%(code)s), région %(region)s") % {
            "departement": territory.departement.name,
            "code": territory.departement.code,
            "region": territory.region.name if territory.region else "—",
        }
    else:
        where = "—"
    return Recap(
        title=_("Confirmer le dépôt – %(reference)s") % {"reference": application.reference},
        intro=_(
            "Vous allez déposer le dossier %(reference)s « %(title)s » à l'appel « %(call)s ». "
            "Vérifiez ce récapitulatif avant de confirmer."
        )
        % {"reference": application.reference, "title": application.title, "call": application.call.title},
        action_url=reverse("applications:dossier-submit", kwargs={"reference": application.reference}),
        confirm_label=_("Confirmer le dépôt du dossier"),
        lines=lines(
            [
                (_("Structure cheffe de file"), lead.organisation.name if lead else "—"),
                (_("Territoire d'instruction"), where),
                (
                    _("Consortium"),
                    ngettext("%(count)d structure", "%(count)d structures", members) % {"count": members},
                ),
                (_("Subvention demandée"), format_money(totals["requested"])),
                (_("Coût total de fonctionnement"), format_money(totals["total_cost"])),
            ]
        ),
        table_caption=_("Subvention demandée par année"),
        table_header=(_("Année"), _("Subvention demandée"), _("Autres financements"), _("Coût total")),
        table_rows=[
            (
                str(year.year_index),
                format_money(year.requested),
                format_money(year.other_funding),
                format_money(year.total_cost),
            )
            for year in budget
        ],
        notified=[
            _("L'accusé de réception (PDF) sera envoyé par courriel à : %(emails)s.")
            % {"emails": ", ".join(receipt_recipients(application, _user(request)))},
            _("Le dossier retourne à ses instructeurs, qui reprennent l'instruction.")
            if resubmission
            else _("Les instructeurs du département %(where)s le reçoivent pour instruction.")
            % {"where": where},
        ],
        irreversible=[
            _(
                "Une fois déposé, le dossier ne peut plus être modifié, sauf si l'instruction vous "
                "demande des compléments."
            ),
            _("La date et l'heure du dépôt figurent sur l'accusé de réception."),
        ],
        can_edit=False,
        back_url=reverse("applications:dossier-detail", kwargs={"reference": application.reference}),
        back_label=_("Revenir au dossier sans déposer"),
    )


@role_required(can_use_applicant_space)
@require_POST
def dossier_submit(request: HttpRequest, reference: str) -> HttpResponse:
    """Submit once the recap is confirmed; a post without the confirmation only shows the recap."""
    application = get_editable_application(request, reference)
    if not is_confirmed(request):
        # Read-only: the checks the submission itself runs, so a dossier that cannot be submitted
        # gets their messages, never a recap; nothing is written before the confirmation.
        try:
            submission_check(application=application)
        except ValidationError as error:
            say_refusal(request, error)
            return redirect("applications:dossier-detail", reference=reference)
        return recap_response(
            request,
            submission_recap(request, application),
            template="applications/submit_confirm.html",
            extra=dossier_context(request, application, "overview"),
        )
    try:
        application_submit(application=application, actor=_user(request))
    except ValidationError as error:
        say_refusal(request, error)
    else:
        messages.success(
            request,
            _("Votre dossier %(reference)s est déposé. L'accusé de réception vous est envoyé par courriel.")
            % {"reference": reference},
        )
    return redirect("applications:dossier-detail", reference=reference)


@role_required(can_use_applicant_space)
@require_http_methods(["GET", "POST"])
def dossier_withdraw(request: HttpRequest, reference: str) -> HttpResponse:
    application = get_editable_application(request, reference)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            application_withdraw(
                application=application, actor=_user(request), reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            say_refusal(request, error)
        else:
            messages.success(request, _("Le dossier %(reference)s est retiré.") % {"reference": reference})
        return redirect("applications:dossier-detail", reference=reference)
    return render(
        request, "applications/withdraw.html", dossier_context(request, application, "overview", form=form)
    )


@role_required(can_use_applicant_space)
@require_http_methods(["GET", "POST"])
def dossier_access(request: HttpRequest, reference: str) -> HttpResponse:
    application = get_visible_application(request, reference)
    user = _user(request)
    lead_staff = is_lead_staff(user, application)
    form = AccessInviteForm(request.POST or None)
    if request.method == "POST":
        if not lead_staff:
            raise PermissionDenied
        revoke = request.POST.get("revoke")
        if revoke:
            if not revoke.isdigit():
                raise Http404
            access = get_object_or_404(Access, pk=int(revoke), application=application)
            access_revoke(access=access, actor=user)
            messages.success(request, _("L'accès de %(email)s est retiré.") % {"email": access.email})
            return redirect("applications:dossier-access", reference=reference)
        if form.is_valid():
            try:
                access_invite(
                    application=application,
                    email=form.cleaned_data["email"],
                    permission=form.cleaned_data["permission"],
                    actor=user,
                )
            except ValidationError as error:
                apply_refusal(form, error)
            else:
                messages.success(
                    request,
                    _("Une invitation est envoyée à %(email)s.") % {"email": form.cleaned_data["email"]},
                )
                return redirect("applications:dossier-access", reference=reference)
    accesses = application.accesses.select_related("user", "invited_by").order_by("invited_at")
    return render(
        request,
        "applications/access.html",
        dossier_context(request, application, "access", form=form, accesses=accesses, lead_staff=lead_staff),
    )


@login_required
def access_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        access = accept_invitation(token=token, user=_user(request))
    except ValidationError as error:
        return render(
            request,
            "applications/access_invalid.html",
            {"title": _("Invitation invalide"), "messages_list": error.messages},
            status=404,
        )
    messages.success(
        request,
        _("Vous avez maintenant accès au dossier %(reference)s.")
        % {"reference": access.application.reference},
    )
    return redirect("applications:dossier-detail", reference=access.application.reference)
