import os

import pytest
from django.urls import reverse

from config.celery import app

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_with_the_database_state_and_no_broker_configured(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "not configured"}


def test_healthz_reports_an_unreachable_broker_but_keeps_serving(client, settings, monkeypatch):
    """A broker outage loses nothing (notifications are rows): the web stays in the balancer."""
    # Port 9 on loopback: nothing listens there, the connection is refused at once.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    # Celery reads the environment variable before its own configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:9/0")
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "broker": "error"}


def test_healthz_answers_503_when_the_database_is_unreachable(client, monkeypatch):
    from django.db import OperationalError

    from config import views

    def refused():  # type: ignore[no-untyped-def]
        raise OperationalError("connection refused")

    monkeypatch.setattr(views.connection, "cursor", refused)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["database"] == "error"
    assert response.json()["status"] == "error"


@pytest.mark.redis
def test_healthz_reports_a_reachable_broker(client, settings, monkeypatch):
    url = os.environ["CELERY_BROKER_URL"]
    settings.CELERY_BROKER_URL = url
    monkeypatch.setattr(app.conf, "broker_url", url)
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["broker"] == "ok"
