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
    # Celery's configuration first: monkeypatch keeps the value it replaces, to put it back, and
    # Celery reads the variable and Django's settings live: patched after them, the value kept
    # would be port 9, and the app would stay pointed at it for the tests that follow.
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:9/0")
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:9/0")
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


# --- liveness and readiness (config/observability/health.py) --------------------------------------


def test_liveness_answers_without_the_database(client, monkeypatch):
    from django.db import OperationalError

    from config import views

    def refused():  # type: ignore[no-untyped-def]
        raise OperationalError("connection refused")

    monkeypatch.setattr(views.connection, "cursor", refused)
    response = client.get(reverse("healthz-live"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readiness_answers_200_when_the_database_answers_and_every_migration_is_applied(client, monkeypatch):
    from config.observability import health

    monkeypatch.setattr(health, "_migrations_applied", False)
    response = client.get(reverse("healthz-ready"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "migrations": "ok"}


def test_readiness_answers_503_while_a_migration_is_pending(client, monkeypatch):
    """The migration graph as a release brings it, before `migrate` ran: one node not applied."""
    from django.db.migrations.executor import MigrationExecutor

    from config.observability import health

    monkeypatch.setattr(health, "_migrations_applied", False)
    real_plan = MigrationExecutor.migration_plan

    def plan_with_one_pending(self, targets, clean_start=False):  # type: ignore[no-untyped-def]
        # The last migration of notifications, as if it were not recorded in django_migrations.
        self.loader.applied_migrations.pop(
            max(k for k in self.loader.applied_migrations if k[0] == "notifications")
        )
        return real_plan(self, targets, clean_start)

    monkeypatch.setattr(MigrationExecutor, "migration_plan", plan_with_one_pending)
    response = client.get(reverse("healthz-ready"))
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "migrations": "pending"}
    # And the same process turns ready once it is applied.
    monkeypatch.setattr(MigrationExecutor, "migration_plan", real_plan)
    assert client.get(reverse("healthz-ready")).status_code == 200


def test_readiness_answers_503_when_the_database_is_unreachable(client, monkeypatch):
    from django.db import OperationalError

    from config import views

    def refused():  # type: ignore[no-untyped-def]
        raise OperationalError("connection refused")

    monkeypatch.setattr(views.connection, "cursor", refused)
    response = client.get(reverse("healthz-ready"))
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error", "migrations": "unknown"}
