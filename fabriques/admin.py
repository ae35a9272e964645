from django.contrib import admin

from fabriques.models import Departement, InstructorScope, LegalCategory, Organisation, Region, TiersLieu


class ReadOnlyReferenceAdmin(admin.ModelAdmin):
    """Reference data comes from the INSEE files by migration; it is read here, not edited."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
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


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "siret", "legal_category", "departement", "is_demo")
    list_filter = ("is_demo", "legal_category__family", "departement__region")
    search_fields = ("name", "siret")
    readonly_fields = ("created_at",)


@admin.register(TiersLieu)
class TiersLieuAdmin(admin.ModelAdmin):
    list_display = ("name", "commune_name", "departement", "zone", "source")
    list_filter = ("source", "zone", "departement__region")
    search_fields = ("name", "commune_name", "source_id")
    filter_horizontal = ("activities",)


@admin.register(InstructorScope)
class InstructorScopeAdmin(admin.ModelAdmin):
    list_display = ("instructor", "region", "departement")
    list_filter = ("region",)
