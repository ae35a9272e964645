from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from retention.models import RetentionAction


@admin.register(RetentionAction)
class RetentionActionAdmin(admin.ModelAdmin[Any]):
    """Read-only: written by the retention run alone (retention.services), one row per rule and object."""

    list_display = ("applied_at", "rule", "target_type", "target_id")
    list_display_links = None
    list_filter = ("rule",)
    date_hierarchy = "applied_at"
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
