from django.contrib import admin
from django.db import models

from accounts.forms import MoneyField
from applications.models import Application, Call, RequiredDocument, StatusChange, TerritoryMove, Wave


class WaveInline(admin.TabularInline):
    model = Wave
    extra = 0


class RequiredDocumentInline(admin.TabularInline):
    model = RequiredDocument
    extra = 0


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    """Every figure of a call (envelope, target, bounds, yearly cap, bonus) is set here."""

    list_display = ("title", "status", "opens_at", "closes_at", "envelope", "target_count")
    list_filter = ("status",)
    prepopulated_fields = {"slug": ("title",)}
    inlines = (WaveInline, RequiredDocumentInline)
    # Amounts prefilled and read the French way (« 50 000,00 »), not as « 50000.00 ».
    formfield_overrides = {models.DecimalField: {"form_class": MoneyField}}


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "actor", "at", "note", "document")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class TerritoryMoveInline(admin.TabularInline):
    """Moves to another département, made from the instruction page (a reason, a recap, e-mails)."""

    model = TerritoryMove
    extra = 0
    can_delete = False
    readonly_fields = ("from_departement", "to_departement", "reason", "actor", "at")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    """Read-only: dossiers change through the portal's services, which keep their history."""

    list_display = ("reference", "title", "call", "status", "submitted_at")
    list_filter = ("call", "status", "kind")
    search_fields = ("reference", "title", "members__organisation__name", "members__organisation__siret")
    inlines = (StatusChangeInline, TerritoryMoveInline)

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
