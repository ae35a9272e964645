"""docs/operations.md states how long a worker killed whole delays a pending row: keep it true."""

from datetime import timedelta
from pathlib import Path

from django.conf import settings

from notifications.services import SENDING_STALE, SWEEP_GRACE

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


def test_the_documented_recovery_of_an_e_mail_caught_mid_send_follows_its_setting():
    every = settings.CELERY_BEAT_SCHEDULE["notifications-sweep"]["schedule"]
    assert SENDING_STALE == timedelta(minutes=10)
    # A « sending » row is taken back by the first sweep after its claim is SENDING_STALE old.
    longest = SENDING_STALE + every
    text = " ".join(OPERATIONS.read_text().split())
    assert (
        f"an e-mail caught mid-send is recovered {SENDING_STALE.seconds // 60} to "
        f"{longest.seconds // 60} minutes after its claim" in text
    )
    assert f"`SENDING_STALE` ({SENDING_STALE.seconds // 60} minutes" in text
