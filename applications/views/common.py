"""What every dossier page does first: fetch the dossier through a scoped queryset; and how a
page hands over a PDF the portal generated for a dossier (receipts, letters, agreements...)."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _

from accounts.models import User
from applications.models import Application
from applications.selectors import (
    application_completeness,
    applications_editable_by,
    applications_visible_to,
)
from applications.services.deadlines import corrections_overdue
from applications.workflow import EDITABLE_STATES
from core.responses import document_response
from notifications.models import Document, Status


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
    """The frame of every dossier page: header, section menu with completeness, edit rights.

    A page that shows the dossier's territory passes it as `territory`: the completeness uses it
    instead of reading it again."""
    sections = application_completeness(application, territory=extra.get("territory"))
    return {
        "application": application,
        "sections": sections,
        "sections_done": sum(1 for section in sections if section.complete),
        "current_section": current,
        "editable": can_edit(request, application),
        "corrections_overdue": corrections_overdue(application),
        "title": f"{application.reference} – {application.title}",
        **extra,
    }


def issued_document_response(
    request: HttpRequest,
    document: Document,
    *,
    back: str,
    failed: str = "",
    pending: str = "",
) -> HttpResponseBase:
    """A PDF the portal generated, as a download once rendered; until then, the page at `back`
    with a message saying that it failed (`failed`) or is still being produced (`pending`).

    The document is rendered by a worker after the commit that asked for it, so a link shown at
    once may be followed before its file exists.
    """
    if document.status == Status.DONE and document.file:
        return document_response(document.file, filename=document.filename, content_type="application/pdf")
    if document.status == Status.FAILED:
        messages.error(
            request,
            failed
            or _(
                "Le document n'a pas pu être produit. Réessayez plus tard ; si le problème "
                "persiste, contactez l'équipe du programme."
            ),
        )
    else:
        messages.info(
            request, pending or _("Le document est en cours de production, réessayez dans quelques instants.")
        )
    return redirect(back)
