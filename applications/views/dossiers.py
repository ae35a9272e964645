"""The applicant's journey: list, create, fill section by section, submit, withdraw, share."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

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
from applications.models import Access, Application, Call
from applications.rules import BUDGET_FIELDS, budget_field_name, budget_running, budget_totals, typed_amount
from applications.selectors import application_list_for_applicant
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
from applications.views.common import (
    dossier_context,
    error_to_form,
    get_editable_application,
    get_visible_application,
)
from fabriques.models import TiersLieu
from fabriques.selectors import organisations_of
from fabriques.services import tiers_lieu_create


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


class CensusSearchForm(forms.Form):
    """The census search of the places page, read from the query string.

    A form rather than the raw parameter: its CharField refuses NUL characters, which PostgreSQL
    cannot compare (psycopg2 raises ValueError), and over-long strings.
    """

    q = forms.CharField(
        required=False,
        max_length=200,
        error_messages={
            "max_length": gettext_lazy("La recherche est trop longue : 200 caractères au plus."),
            "null_characters_not_allowed": gettext_lazy("La recherche contient un caractère non autorisé."),
        },
    )


def _census_query(request: HttpRequest) -> str:
    """The search typed, or nothing (with the reason as a message) when it cannot be searched."""
    search = CensusSearchForm(request.GET)
    if search.is_valid():
        return str(search.cleaned_data["q"])
    for message in search.errors.get("q", []):
        messages.error(request, str(message))
    return ""


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
            error_to_form(form, error)
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
def dossier_detail(request: HttpRequest, reference: str) -> HttpResponse:
    application = get_visible_application(request, reference)
    history = application.status_changes.select_related("actor", "document").order_by("at", "pk")
    return render(
        request,
        "applications/dossier_detail.html",
        dossier_context(request, application, "overview", history=history),
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
                error_to_form(form, error)
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
    query = _census_query(request)
    census = []
    if query:
        census = list(
            TiersLieu.objects.filter(source=TiersLieu.Source.CGET_2019)
            .filter(Q(name__icontains=query) | Q(commune_name__icontains=query))
            .select_related("departement")
            .order_by("name")[:20]
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
            error_to_form(place_form if action == "create" else form, error)
    return render(
        request,
        "applications/places.html",
        dossier_context(
            request,
            application,
            "places",
            form=form,
            place_form=place_form,
            query=query,
            census=census,
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
                error_to_form(form, error)
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


@role_required(can_use_applicant_space)
@require_POST
def dossier_submit(request: HttpRequest, reference: str) -> HttpResponse:
    application = get_editable_application(request, reference)
    try:
        application_submit(application=application, actor=_user(request))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
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
            for message in error.messages:
                messages.error(request, message)
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
                error_to_form(form, error)
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
