from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from allocation.models import ScenarioChange


@admin.register(ScenarioChange)
class ScenarioChangeAdmin(admin.ModelAdmin[Any]):
    """Read-only: a scenario's moves are written by allocation.workflow alone; the scenarios
    themselves are read and written on their pages, through the services."""

    list_display = ("at", "scenario", "from_status", "to_status", "actor", "note")
    list_display_links = None
    list_filter = ("to_status",)
    list_select_related = ("scenario", "actor")
    date_hierarchy = "at"
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
