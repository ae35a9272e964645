"""The admin of generated documents and outgoing e-mails: read-only, with a « Relancer » action.

Registered from accounts.admin because the retry writes an audit row (accounts.services.
notification_retry), and notifications may import none of the business apps (import-linter).
"""

from typing import Any, cast

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.services import notification_retry
from notifications.models import Document, Notification, OutgoingEmail


class ReadOnlyNotificationAdmin(admin.ModelAdmin[Any]):
    """Rows are written by the services that ask for them; here they are read, and retried."""

    actions = ("retry",)
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Relancer"), permissions=["view"])
    def retry(self, request: HttpRequest, queryset: Any) -> None:
        retried, refused = 0, 0
        for row in queryset.order_by("pk"):
            try:
                notification_retry(row=row, actor=cast(User, request.user))
            except ValidationError:
                refused += 1
            else:
                retried += 1
        if retried:
            self.message_user(request, _("%(count)d relance(s) demandée(s).") % {"count": retried})
        if refused:
            self.message_user(
                request,
                _("%(count)d ligne(s) ignorée(s) : seules celles en échec peuvent être relancées.")
                % {"count": refused},
                level=messages.WARNING,
            )


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(ReadOnlyNotificationAdmin):
    list_display = ("created_at", "subject", "recipients", "status", "attempts", "sent_at")
    list_filter = ("status",)
    search_fields = ("key", "to", "subject")
    date_hierarchy = "created_at"

    @admin.display(description=_("destinataires"))
    def recipients(self, obj: OutgoingEmail) -> str:
        return ", ".join(obj.to)


@admin.register(Document)
class DocumentAdmin(ReadOnlyNotificationAdmin):
    list_display = ("created_at", "filename", "kind", "status", "attempts", "rendered_at")
    list_filter = ("status", "kind")
    search_fields = ("key", "filename")
    date_hierarchy = "created_at"
    # The context may hold personal data of a dossier: the row's state is what is looked at here.
    exclude = ("context",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin[Any]):
    """The notification centre's rows, read-only: written by the services, read by their recipient."""

    list_display = ("created_at", "recipient", "kind", "title", "delivery", "read_at")
    list_filter = ("kind", "delivery")
    search_fields = ("key", "title", "recipient__email")
    date_hierarchy = "created_at"
    list_select_related = ("recipient",)
    raw_id_fields = ("recipient", "dossier", "grant", "email")
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
