from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.permissions import can_use_applicant_space, role_required
from core.formatting import french_sorted
from core.refusals import apply_refusal
from fabriques.forms import OrganisationCreateForm, OrganisationForm
from fabriques.selectors import organisations_of
from fabriques.services import ORGANISATION_FIELDS, organisation_create, organisation_update


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


@role_required(can_use_applicant_space)
def organisation_create_view(request: HttpRequest) -> HttpResponse:
    form = OrganisationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organisation = organisation_create(
                actor=request.user,  # type: ignore[arg-type]
                job_title=form.cleaned_data["job_title"],
                is_legal_representative=form.cleaned_data["is_legal_representative"],
                **_organisation_fields(form),
            )
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(
                request, _("La structure « %(name)s » est enregistrée.") % {"name": organisation.name}
            )
            return redirect("fabriques:organisation-detail", pk=organisation.pk)
    return render(
        request, "fabriques/organisation_form.html", {"title": _("Enregistrer une structure"), "form": form}
    )


@role_required(can_use_applicant_space)
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # Scoped queryset: the structure of somebody else is a 404, not a 403.
    organisation = get_object_or_404(organisations_of(user=request.user), pk=pk)  # type: ignore[arg-type]
    form = OrganisationForm(request.POST or None, instance=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            organisation_update(
                organisation=organisation,
                actor=request.user,  # type: ignore[arg-type]
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
