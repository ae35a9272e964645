from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from grants.models import (
    AgreementStatusChange,
    GrantStatusChange,
    ReportStatusChange,
    TrancheStatusChange,
)


class ReadOnlyLogAdmin(admin.ModelAdmin[Any]):
    """Read-only: the money's moves are written by the funnels of grants.workflow alone."""

    list_display_links = None
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AgreementStatusChange)
class AgreementStatusChangeAdmin(ReadOnlyLogAdmin):
    list_display = ("at", "agreement", "from_status", "to_status", "actor", "note")
    list_filter = ("to_status",)
    list_select_related = ("agreement", "actor")
    search_fields = ("agreement__number",)
    date_hierarchy = "at"


@admin.register(TrancheStatusChange)
class TrancheStatusChangeAdmin(ReadOnlyLogAdmin):
    list_display = ("at", "tranche", "from_status", "to_status", "actor", "note")
    list_filter = ("to_status",)
    list_select_related = ("tranche__grant__application", "actor")
    search_fields = ("tranche__grant__application__reference",)
    date_hierarchy = "at"


@admin.register(GrantStatusChange)
class GrantStatusChangeAdmin(ReadOnlyLogAdmin):
    list_display = ("at", "grant", "from_status", "to_status", "actor", "note")
    list_filter = ("to_status",)
    list_select_related = ("grant__application", "actor")
    search_fields = ("grant__application__reference",)
    date_hierarchy = "at"


@admin.register(ReportStatusChange)
class ReportStatusChangeAdmin(ReadOnlyLogAdmin):
    list_display = ("at", "report", "from_status", "to_status", "actor", "note")
    list_filter = ("to_status",)
    list_select_related = ("report__grant__application", "actor")
    search_fields = ("report__grant__application__reference",)
    date_hierarchy = "at"
