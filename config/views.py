"""Project-wide pages: the public home page, the legal pages and the health check."""

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/home.html", {"title": _("Accueil")})


def legal_notice(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/legal_notice.html", {"title": _("Mentions légales")})


def personal_data(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/personal_data.html", {"title": _("Données personnelles")})


def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/accessibility.html", {"title": _("Accessibilité")})


def _check_database() -> str:
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
    checks = {"database": _check_database(), "broker": _check_broker()}
    if checks["database"] != "ok":
        status = "error"
    elif checks["broker"] == "error":
        status = "degraded"
    else:
        status = "ok"
    return JsonResponse({"status": status, **checks}, status=503 if status == "error" else 200)
