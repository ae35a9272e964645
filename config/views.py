"""Project-wide pages: the public home page, the legal pages, the health check and the error pages."""

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    from applications.models import Call

    # The calls whose laureates page is public (every call but those in preparation).
    public_calls = Call.objects.exclude(status=Call.Status.DRAFT).only("slug", "title")
    return render(request, "pages/home.html", {"title": _("Accueil"), "public_calls": public_calls})


def legal_notice(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/legal_notice.html", {"title": _("Mentions légales")})


def personal_data(request: HttpRequest) -> HttpResponse:
    from retention.rules import rules

    # The durations come from the table the monthly run applies: the notice cannot drift from it.
    context = {"title": _("Données personnelles"), "retention_rules": rules()}
    return render(request, "pages/personal_data.html", context)


def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/accessibility.html", {"title": _("Accessibilité")})


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("Health check: database unreachable")
        return "error"
    return "ok"


def _check_broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "not configured"
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        logger.exception("Health check: broker unreachable")
        return "error"
    return "ok"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The state of the database and, when configured, of the broker. For load balancers.

    Only the database decides the status code: without it no page works (503), while a broker
    outage loses nothing (notifications are rows, re-queued by the sweep once it is back), so the
    web processes keep serving and the outage is reported in the body ("status": "degraded").
    """
    checks = {"database": check_database(), "broker": _check_broker()}
    if checks["database"] != "ok":
        status = "error"
    elif checks["broker"] == "error":
        status = "degraded"
    else:
        status = "ok"
    return JsonResponse({"status": status, **checks}, status=503 if status == "error" else 200)


# --- error pages --------------------------------------------------------------------------------
# Named in config/urls.py (handler400, handler403, handler404, handler500) and by
# CSRF_FAILURE_VIEW. 403 and 404 are full pages (header, navigation): the request is sound. 400 and
# 500 are self-contained (templates/500.html): rendered from the settings alone, since the request,
# the database or a context processor may be what failed.

# The last resort, when even the self-contained template cannot be rendered.
_BARE_500 = (
    '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Erreur inattendue</title></head>'
    "<body><h1>Erreur inattendue</h1><p>Le service rencontre un problème. Réessayez dans quelques "
    'instants.</p><p><a href="/">Page d\'accueil</a></p></body></html>'
)


def _standalone(template_name: str, status: int) -> HttpResponse:
    try:
        content = loader.get_template(template_name).render(
            {"SERVICE_NAME": settings.SERVICE_NAME, "THEME": settings.PORTAL_THEME}
        )
    except Exception:
        logger.exception("Error page %s could not be rendered", template_name)
        content = _BARE_500
    return HttpResponse(content, status=status)


def _full_page(request: HttpRequest, template_name: str, status: int, fallback: str) -> HttpResponse:
    try:
        return render(request, template_name, status=status)
    except Exception:
        # A request refused before the user is known (no request.user for the navigation).
        logger.exception("Error page %s could not be rendered with its request", template_name)
        return _standalone(fallback, status)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _standalone("400.html", 400)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _full_page(request, "403.html", 403, "400.html")


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _full_page(request, "404.html", 404, "400.html")


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    return _standalone("500.html", 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form posted without a valid CSRF token: most often a page left open past its session."""
    logger.warning("CSRF failure on %s: %s", request.path, reason)
    return _full_page(request, "403_csrf.html", 403, "400.html")
