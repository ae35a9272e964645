from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from accounts.permissions import can_use_applicant_space, role_required
from core.formatting import french_sorted
from core.refusals import apply_refusal
from fabriques.forms import OrganisationCreateForm, OrganisationForm, SiretLookupForm, establishment_initial
from fabriques.models import SiretStatus
from fabriques.selectors import organisations_of
from fabriques.services import (
    ORGANISATION_FIELDS,
    closed_establishment_message,
    organisation_create,
    organisation_update,
)
from fabriques.sirene import is_enabled, lookup_siret

TO_VERIFY_MESSAGE = _lazy(
    "L'annuaire des entreprises n'a pas pu confirmer ce SIRET : la structure est enregistrée avec "
    "les informations saisies et signalée « à vérifier » à l'équipe d'instruction."
)


def _organisation_fields(form: OrganisationForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in ORGANISATION_FIELDS}


@role_required(can_use_applicant_space)
def organisation_list(request: HttpRequest) -> HttpResponse:
    # French order (« Éco-lieu » among the E), not the database's collation.
    organisations = french_sorted(organisations_of(user=request.user), key=lambda o: o.name)  # type: ignore[arg-type]
    return render(
        request,
        "fabriques/organisation_list.html",
        {"title": _("Mes structures"), "organisations": organisations},
    )


def _posted_initial(request: HttpRequest, form_class: type[OrganisationForm]) -> dict[str, Any]:
    """What the applicant typed so far, kept when the page comes back from « Rechercher »."""
    return {name: request.POST.get(name) for name in form_class.base_fields if name in request.POST}


def _lookup_step(request: HttpRequest) -> dict[str, Any]:
    """« Rechercher »: the SIRET checked, the directory asked, the form pre-filled from its answer
    for the applicant to confirm (nothing is saved). A closed establishment is refused at once."""
    lookup_form = SiretLookupForm(request.POST)
    initial = _posted_initial(request, OrganisationCreateForm)
    lookup = None
    if lookup_form.is_valid():
        lookup = lookup_siret(lookup_form.cleaned_data["siret"])
        initial["siret"] = lookup_form.cleaned_data["siret"]
        if lookup.establishment is not None and not lookup.establishment.is_active:
            lookup_form.add_error("siret", closed_establishment_message(lookup))
        elif lookup.establishment is not None:
            initial.update(establishment_initial(lookup.establishment))
    return {"form": OrganisationCreateForm(initial=initial), "lookup_form": lookup_form, "lookup": lookup}


@role_required(can_use_applicant_space)
def organisation_create_view(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"lookup_form": None, "lookup": None}
    if request.method == "POST" and "lookup" in request.POST and is_enabled():
        context.update(_lookup_step(request))
    else:
        form = OrganisationCreateForm(request.POST or None)
        context["form"] = form
        if request.method == "POST" and form.is_valid():
            # Asked before the service's transaction: no network call while rows are locked. The
            # answer of « Rechercher » is in the cache, so this costs no second request.
            establishment = lookup_siret(form.cleaned_data["siret"])
            try:
                organisation = organisation_create(
                    actor=request.user,  # type: ignore[arg-type]
                    job_title=form.cleaned_data["job_title"],
                    is_legal_representative=form.cleaned_data["is_legal_representative"],
                    establishment=establishment,
                    **_organisation_fields(form),
                )
            except ValidationError as error:
                apply_refusal(form, error)
            else:
                messages.success(
                    request, _("La structure « %(name)s » est enregistrée.") % {"name": organisation.name}
                )
                if organisation.siret_status == SiretStatus.TO_VERIFY:
                    messages.warning(request, TO_VERIFY_MESSAGE)
                return redirect("fabriques:organisation-detail", pk=organisation.pk)
    return render(
        request,
        "fabriques/organisation_form.html",
        {"title": _("Enregistrer une structure"), "sirene_enabled": is_enabled(), **context},
    )


@role_required(can_use_applicant_space)
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # Scoped queryset: the structure of somebody else is a 404, not a 403.
    organisation = get_object_or_404(organisations_of(user=request.user), pk=pk)  # type: ignore[arg-type]
    # Read before validation: a valid ModelForm writes its values onto the instance.
    siret_before = organisation.siret
    form = OrganisationForm(request.POST or None, instance=organisation)
    if request.method == "POST" and form.is_valid():
        # A new SIRET is asked about before the service's transaction, like at registration.
        new_siret = form.cleaned_data["siret"] != siret_before
        establishment = lookup_siret(form.cleaned_data["siret"]) if new_siret else None
        try:
            organisation_update(
                organisation=organisation,
                actor=request.user,  # type: ignore[arg-type]
                establishment=establishment,
                **_organisation_fields(form),
            )
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(request, _("Les informations de la structure sont enregistrées."))
            return redirect("fabriques:organisation-detail", pk=organisation.pk)
    members = organisation.memberships.select_related("user").order_by("user__last_name")
    return render(
        request,
        "fabriques/organisation_detail.html",
        {"title": organisation.name, "organisation": organisation, "form": form, "members": members},
    )
