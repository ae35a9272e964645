"""What every dossier page does first: fetch the dossier through a scoped queryset."""

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from accounts.models import User
from applications.models import Application
from applications.selectors import (
    application_completeness,
    applications_editable_by,
    applications_visible_to,
)
from applications.workflow import EDITABLE_STATES


def get_visible_application(request: HttpRequest, reference: str) -> Application:
    """The dossier if the user may see it; anyone else's dossier is a 404, never a 403."""
    user: User = request.user  # type: ignore[assignment]
    return get_object_or_404(
        applications_visible_to(user).select_related("call", "wave"), reference=reference
    )


def get_editable_application(request: HttpRequest, reference: str) -> Application:
    """The dossier if the user may change it (lead structure or invited editor), else a 404."""
    user: User = request.user  # type: ignore[assignment]
    return get_object_or_404(
        applications_editable_by(user).select_related("call", "wave"), reference=reference
    )


def can_edit(request: HttpRequest, application: Application) -> bool:
    user: User = request.user  # type: ignore[assignment]
    return (
        application.status in EDITABLE_STATES
        and applications_editable_by(user).filter(pk=application.pk).exists()
    )


def dossier_context(
    request: HttpRequest, application: Application, current: str, **extra: Any
) -> dict[str, Any]:
    """The frame of every dossier page: header, section menu with completeness, edit rights."""
    sections = application_completeness(application)
    return {
        "application": application,
        "sections": sections,
        "sections_done": sum(1 for section in sections if section.complete),
        "current_section": current,
        "editable": can_edit(request, application),
        "title": f"{application.reference} – {application.title}",
        **extra,
    }
