"""The notification centre: every logged-in person's notifications, newest first.

Views fetch through the person's own rows (`recipient=request.user`): another person's
notification is a 404. The page reads the rows and the kinds present; the header's count comes
from the user row (`unread_notifications`), already loaded by the authentication.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from core.pagination import pagination_context
from notifications.models import Notification, NotificationKind
from notifications.services_inbox import notification_mark_read, notifications_mark_all_read

PER_PAGE = 20


class CentreFilterForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Type"), required=False)
    unread = forms.BooleanField(label=gettext_lazy("Non lues seulement"), required=False)

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, str]] = [("", _("Tous les types"))]
        choices += [(kind.value, str(kind.label)) for kind in NotificationKind if kind.value in kinds]
        self.fields["kind"].choices = choices  # type: ignore[attr-defined]


@login_required
@require_GET
def centre(request: HttpRequest) -> HttpResponse:
    mine = Notification.objects.filter(recipient_id=request.user.pk)
    kinds = list(mine.order_by().values_list("kind", flat=True).distinct())
    form = CentreFilterForm(request.GET, kinds=kinds)
    rows = mine
    if form.is_valid():
        if form.cleaned_data["kind"]:
            rows = rows.filter(kind=form.cleaned_data["kind"])
        if form.cleaned_data["unread"]:
            rows = rows.filter(read_at__isnull=True)
    page = Paginator(rows.order_by("-created_at", "-pk"), PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/centre.html",
        {"form": form, "title": _("Notifications"), **pagination_context(page)},
    )


@login_required
@require_GET
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follow a notification's link, marking it read on the way."""
    notification = get_object_or_404(Notification, pk=notification_id, recipient_id=request.user.pk)
    notification_mark_read(notification=notification, user=request.user)
    # The link is a path written by the portal; checked all the same before redirecting to it.
    if not url_has_allowed_host_and_scheme(notification.link, allowed_hosts=None):
        return redirect("notifications:centre")
    return redirect(notification.link)


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    marked = notifications_mark_all_read(user=request.user)
    if marked:
        messages.success(
            request,
            ngettext(
                "%(count)d notification marquée comme lue.",
                "%(count)d notifications marquées comme lues.",
                marked,
            )
            % {"count": marked},
        )
    return redirect("notifications:centre")
