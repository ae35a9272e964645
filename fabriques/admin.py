from typing import Any, cast

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.forms import BaseForm
from django.http import HttpRequest

from accounts.admin_tools import ServiceCheckedForm
from accounts.models import User
from fabriques.models import Departement, InstructorScope, LegalCategory, Organisation, Region, TiersLieu
from fabriques.services import (
    ORGANISATION_FIELDS,
    TIERS_LIEU_FIELDS,
    establishment_check,
    instructor_scope_add,
    instructor_scope_change,
    instructor_scope_check,
    instructor_scope_remove,
    organisation_update,
    tiers_lieu_update,
)
from fabriques.sirene import Lookup, lookup_siret
from fabriques.validators import normalise_siret


class ReadOnlyReferenceAdmin(admin.ModelAdmin[Any]):
    """Reference data comes from the INSEE files by migration; it is read here, not edited."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Region)
class RegionAdmin(ReadOnlyReferenceAdmin):
    list_display = ("code", "name", "cog_year")


@admin.register(Departement)
class DepartementAdmin(ReadOnlyReferenceAdmin):
    list_display = ("code", "name", "region", "cog_year")
    list_filter = ("region",)


@admin.register(LegalCategory)
class LegalCategoryAdmin(ReadOnlyReferenceAdmin):
    list_display = ("code", "label", "family")
    list_filter = ("family",)


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _changed(form: BaseForm, allowed: tuple[str, ...]) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.changed_data if name in allowed}


class OrganisationAdminForm(ServiceCheckedForm):
    """A new SIRET is looked up in the directory, as in the portal's form: a closed establishment
    is refused next to the field, an answer marks it verified, no answer « à vérifier » (the
    hourly check asks again). Asked here, before the service's transaction: no network call
    while the row is locked."""

    establishment: Lookup | None = None

    def service_check(self, cleaned_data: dict[str, Any]) -> None:
        siret = normalise_siret(cleaned_data.get("siret") or "")
        if not siret or siret == self.instance.siret:  # the instance keeps its values until saved
            return
        self.establishment = lookup_siret(siret)
        establishment_check(self.establishment)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    """Changes go through organisation_update (audited, before and after).

    Structures are registered by their members in the portal, which makes the registrant a member;
    they hold dossiers, so they are not deleted. The admin only corrects them.
    """

    list_display = ("name", "siret", "legal_category", "departement", "siret_status", "is_demo")
    list_filter = ("is_demo", "siret_status", "legal_category__family", "departement__region")
    search_fields = ("name", "siret")
    readonly_fields = ("created_at", "is_demo", "siret_status", "siret_checked_at")
    form = OrganisationAdminForm
    # As in the portal's form: an address typed without a scheme is an https one.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Organisation, form: BaseForm, change: bool) -> None:
        organisation_update(
            organisation=obj,
            actor=_actor(request),
            establishment=getattr(form, "establishment", None),
            **_changed(form, ORGANISATION_FIELDS),
        )


@admin.register(TiersLieu)
class TiersLieuAdmin(admin.ModelAdmin[TiersLieu]):
    """Changes go through tiers_lieu_update (audited, before and after).

    Places are described by applicants in their dossier or imported from the census; dossiers
    point at them, so the admin corrects them and neither adds nor deletes any.
    """

    list_display = ("name", "commune_name", "departement", "zone", "source")
    list_filter = ("source", "zone", "departement__region")
    search_fields = ("name", "commune_name", "source_id")
    filter_horizontal = ("activities",)
    readonly_fields = ("source", "source_id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: TiersLieu, form: BaseForm, change: bool) -> None:
        tiers_lieu_update(
            place=obj,
            actor=_actor(request),
            activities=form.cleaned_data["activities"] if "activities" in form.changed_data else None,
            **_changed(form, TIERS_LIEU_FIELDS),
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The activities were set by tiers_lieu_update, not by the form's save_m2m."""


class InstructorScopeForm(ServiceCheckedForm):
    class Meta:
        model = InstructorScope
        fields = ("instructor", "region", "departement")

    def service_check(self, cleaned_data: dict[str, Any]) -> None:
        instructor = cleaned_data.get("instructor") or (
            self.instance.instructor if self.instance.pk else None
        )
        instructor_scope_check(
            instructor=instructor,
            region=cleaned_data.get("region"),
            departement=cleaned_data.get("departement"),
        )


@admin.register(InstructorScope)
class InstructorScopeAdmin(admin.ModelAdmin[InstructorScope]):
    """The scope decides which dossiers an instructor sees: every write is a service, audited."""

    form = InstructorScopeForm
    list_display = ("instructor", "region", "departement")
    list_filter = ("region",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A row moves to another région or département; to another instructor, it is a new row.
        return ("instructor",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: InstructorScope, form: BaseForm, change: bool) -> None:
        if change:
            instructor_scope_change(
                scope=obj, region=obj.region, departement=obj.departement, actor=_actor(request)
            )
            return
        scope = instructor_scope_add(
            instructor=obj.instructor, region=obj.region, departement=obj.departement, actor=_actor(request)
        )
        # The admin goes on with `obj` (its log entry, its redirect): it is now the saved row.
        obj.pk, obj._state.adding, obj._state.db = scope.pk, False, scope._state.db

    def delete_model(self, request: HttpRequest, obj: InstructorScope) -> None:
        instructor_scope_remove(scope=obj, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[InstructorScope]) -> None:
        for scope in queryset:
            instructor_scope_remove(scope=scope, actor=_actor(request))
