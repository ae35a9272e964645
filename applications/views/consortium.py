"""The consortium section of a dossier: its members, and adding or removing partners.

Adding and removing work with htmx (the members' block is swapped in place) and without
JavaScript (plain POST forms, answered by a redirect or by the full page with its errors).
"""

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from accounts.permissions import can_use_applicant_space, role_required
from applications.forms_consortium import MemberShareForm, PartnerForm
from applications.models import Application, Member
from applications.selectors import application_completeness
from applications.services import member_add, member_remove, member_update
from applications.services.dossiers import ensure_editable
from applications.views.common import (
    can_edit,
    dossier_context,
    get_editable_application,
    get_visible_application,
)
from core.formatting import format_percent
from core.refusals import apply_refusal, refusal_messages, say_refusal

PAGE_TEMPLATE = "applications/consortium.html"
PARTIAL_TEMPLATE = "applications/partials/consortium_members.html"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _is_htmx(request: HttpRequest) -> bool:
    # Set by django_htmx's middleware: true when htmx sent the request.
    return bool(getattr(request, "htmx", False))


def _lead_share(application: Application) -> Decimal | None:
    return (
        Member.objects.filter(application=application, is_lead=True)
        .values_list("share_percent", flat=True)
        .first()
    )


def _lead_share_notice(application: Application, before: Decimal | None) -> str:
    """Said when the service gave the lead what remains, so that no share changes unseen."""
    after = _lead_share(application)
    if after is None or after == before:
        return ""
    return " " + _("Le chef de file garde ce qui reste : sa part passe de %(before)s à %(after)s.") % {
        "before": format_percent(before or Decimal("0")),
        "after": format_percent(after),
    }


def _members_context(application: Application, *, editable: bool) -> dict[str, Any]:
    """The members (lead first) and their total share, in a constant number of queries."""
    members = list(
        Member.objects.filter(application=application)
        .select_related("organisation")
        .order_by("-is_lead", "organisation__name", "pk")
    )
    total_share = sum((member.share_percent for member in members), Decimal("0"))
    partners_share = sum((member.share_percent for member in members if not member.is_lead), Decimal("0"))
    return {
        "members": members,
        "total_share": total_share,
        # What the lead keeps when a partner is added: 100 % less the partners' shares.
        "lead_remainder": max(Decimal("0"), Decimal("100") - partners_share),
        "share_balanced": total_share == 100,
        "editable": editable,
    }


def _render(
    request: HttpRequest,
    application: Application,
    *,
    form: PartnerForm | None = None,
    alerts: list[str] | None = None,
    notice: str = "",
) -> HttpResponse:
    """The members' block alone for htmx, the whole page otherwise."""
    extra: dict[str, Any] = {
        "form": form if form is not None else PartnerForm(),
        "alerts": alerts or [],
        "notice": notice,
    }
    if _is_htmx(request):
        context = {
            "application": application,
            **extra,
            **_members_context(application, editable=can_edit(request, application)),
            # The section menu is swapped out of band, so its completeness badges follow.
            "sections": application_completeness(application),
            "current_section": "consortium",
            "oob_menu": True,
        }
        response = render(request, PARTIAL_TEMPLATE, context)
    else:
        context = dossier_context(request, application, "consortium", **extra)
        context.update(_members_context(application, editable=context["editable"]))
        response = render(request, PAGE_TEMPLATE, context)
    # The same address answers a block or a page: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


@role_required(can_use_applicant_space)
@require_GET
def dossier_consortium(request: HttpRequest, reference: str) -> HttpResponse:
    application = get_visible_application(request, reference)
    return _render(request, application)


@role_required(can_use_applicant_space)
@require_POST
def member_add_view(request: HttpRequest, reference: str) -> HttpResponse:
    application = get_editable_application(request, reference)
    form = PartnerForm(request.POST)
    try:
        # Said first, whatever was typed: the form is not shown on a dossier that cannot change.
        ensure_editable(application)
    except ValidationError as error:
        return _render(request, application, form=form, alerts=refusal_messages(error))
    if form.is_valid():
        lead_share = _lead_share(application)
        try:
            member = member_add(
                application=application,
                organisation_fields=form.organisation_fields(),
                role=form.cleaned_data["role"],
                share_percent=form.cleaned_data["share_percent"],
                actor=_user(request),
            )
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            notice = _("La structure « %(name)s » a rejoint le consortium.") % {
                "name": member.organisation.name
            } + _lead_share_notice(application, lead_share)
            if _is_htmx(request):
                return _render(request, application, notice=notice)
            messages.success(request, notice)
            return redirect("applications:dossier-consortium", reference=application.reference)
    return _render(request, application, form=form)


@role_required(can_use_applicant_space)
@require_POST
def member_remove_view(request: HttpRequest, reference: str, member_id: int) -> HttpResponse:
    application = get_editable_application(request, reference)
    member = get_object_or_404(
        Member.objects.select_related("organisation"), pk=member_id, application=application
    )
    name = member.organisation.name
    try:
        member_remove(member=member, actor=_user(request))
    except ValidationError as error:
        if _is_htmx(request):
            return _render(request, application, alerts=refusal_messages(error))
        say_refusal(request, error)
    else:
        notice = _("La structure « %(name)s » a été retirée du consortium.") % {"name": name}
        if _is_htmx(request):
            return _render(request, application, notice=notice)
        messages.success(request, notice)
    return redirect("applications:dossier-consortium", reference=application.reference)


@role_required(can_use_applicant_space)
@require_POST
def member_update_view(request: HttpRequest, reference: str, member_id: int) -> HttpResponse:
    """Change a member's role or share (the lead's share included, so that shares reach 100 %)."""
    application = get_editable_application(request, reference)
    member = get_object_or_404(
        Member.objects.select_related("organisation"), pk=member_id, application=application
    )
    form = MemberShareForm(request.POST, prefix=f"membre-{member.pk}")
    alerts: list[str] = []
    notice = ""
    if form.is_valid():
        lead_share = _lead_share(application)
        try:
            member_update(
                member=member,
                role=form.cleaned_data["role"],
                share_percent=form.cleaned_data["share_percent"],
                actor=_user(request),
            )
        except ValidationError as error:
            alerts = refusal_messages(error)
        else:
            notice = _("La part de « %(name)s » est enregistrée.") % {
                "name": member.organisation.name
            } + _lead_share_notice(application, lead_share)
    else:
        alerts = [
            f"{form.fields[field].label} : {message}" if field in form.fields else str(message)
            for field, messages_ in form.errors.items()
            for message in messages_
        ]
    if _is_htmx(request):
        return _render(request, application, alerts=alerts, notice=notice)
    for alert in alerts:
        messages.error(request, alert)
    if notice:
        messages.success(request, notice)
    return redirect("applications:dossier-consortium", reference=application.reference)
