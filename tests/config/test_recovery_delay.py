"""docs/operations.md states how long a worker killed whole delays a pending row: keep it true."""

from datetime import timedelta
from pathlib import Path

from django.conf import settings

from notifications.services import SWEEP_GRACE

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_the_documented_recovery_delay_follows_the_sweep_settings():
    every = settings.CELERY_BEAT_SCHEDULE["notifications-sweep"]["schedule"]
    assert every == timedelta(minutes=5)
    assert SWEEP_GRACE == timedelta(minutes=5)
    # The longest wait: a row created just after a sweep is old enough only one period later,
    # and is re-queued by the sweep after that one.
    longest = SWEEP_GRACE + every
    text = " ".join(OPERATIONS.read_text().split())
    assert (
        f"Recovery therefore takes {SWEEP_GRACE.seconds // 60} to {longest.seconds // 60} minutes "
        "after the row was created" in text
    )
    # And the visibility timeout, which a killed worker's message waits for, is longer still.
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > longest.total_seconds()
