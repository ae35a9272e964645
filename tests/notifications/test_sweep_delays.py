"""The sweep's delays: production's constants, shortened only by a run's settings (the chaos run)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import services
from notifications.models import OutgoingEmail, Status

pytestmark = pytest.mark.django_db


def a_pending_email(age: timedelta) -> OutgoingEmail:
    email = OutgoingEmail.objects.create(key="mail:sweep", to=["porteur@exemple.fr"], subject="S", body="B")
    OutgoingEmail.objects.filter(pk=email.pk).update(created_at=timezone.now() - age)
    return email


def test_without_the_settings_a_row_waits_the_production_grace(settings, task_queues) -> None:  # type: ignore[no-untyped-def]
    assert not hasattr(settings, "NOTIFICATIONS_SWEEP_GRACE")
    a_pending_email(timedelta(seconds=30))

    assert services.sweep_delays() == (services.SWEEP_GRACE, services.SENDING_STALE)
    assert services.notifications_sweep() == {"documents": 0, "emails": 0}


def test_the_chaos_settings_shorten_the_grace_and_the_stale_claim(settings, task_queues) -> None:  # type: ignore[no-untyped-def]
    settings.NOTIFICATIONS_SWEEP_GRACE = timedelta(seconds=15)
    settings.NOTIFICATIONS_SENDING_STALE = timedelta(seconds=75)
    email = a_pending_email(timedelta(seconds=30))
    sending = OutgoingEmail.objects.create(
        key="mail:sending",
        to=["porteur@exemple.fr"],
        subject="S",
        body="B",
        status="sending",
        sending_since=timezone.now() - timedelta(seconds=90),
    )

    assert services.notifications_sweep() == {"documents": 0, "emails": 2}
    sending.refresh_from_db()
    assert sending.status == Status.PENDING
    assert "Interrupted while sending" in sending.last_error
    email.refresh_from_db()
    assert email.status == Status.PENDING
