"""« Mes notifications » in the account: how each kind of notification is e-mailed to me."""

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.forms import NotificationPreferencesForm
from accounts.models import User
from accounts.roles import notification_kinds_for
from accounts.services import notification_preferences_set
from core.refusals import apply_refusal
from notifications.models import KIND_RULES, NotificationKind
from notifications.services_inbox import frequencies_of


@login_required
@require_http_methods(["GET", "POST"])
def notification_preferences(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    kinds = notification_kinds_for(user)
    choosable = [kind for kind in kinds if not KIND_RULES[kind].official]
    current = {kind: frequency for (_pk, kind), frequency in frequencies_of([user.pk], choosable).items()}
    form = NotificationPreferencesForm(request.POST or None, kinds=choosable, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            notification_preferences_set(user=user, choices=dict(form.cleaned_data), actor=user)
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(request, _("Vos préférences de notification sont enregistrées."))
            return redirect("accounts:notification-preferences")
    official = [NotificationKind(kind).label for kind in kinds if KIND_RULES[kind].official]
    return render(
        request,
        "accounts/notification_preferences.html",
        {"form": form, "official": official, "title": _("Préférences de notification")},
    )
