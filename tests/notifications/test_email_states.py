"""An e-mail's states: claimed « sending » before the relay is called, one Message-ID for every copy.

What is guaranteed (docs/operations.md): at most one attempt at the relay per claim; across a
worker killed inside SMTP, at least once, each copy carrying the same Message-ID.
"""

from datetime import timedelta
from itertools import product
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import transaction
from django.utils import timezone

from notifications import services
from notifications.models import EmailStatus, OutgoingEmail
from notifications.services import (
    EMAIL_TRANSITIONS,
    SENDING_STALE,
    email_message_id,
    email_queue,
    email_send,
    notifications_sweep,
)

pytestmark = pytest.mark.django_db

E = EmailStatus
# What the relay saw: the Message-ID of each message handed over, and the row's state then.
HANDED: list[tuple[str, str, bool]] = []
FAIL_NEXT: list[Exception] = []


class RecordingBackend(LocmemBackend):
    """The locmem backend, recording the row's state at the moment of sending; can fail once."""

    def send_messages(self, messages: Any) -> int:
        for message in messages:
            message_id = message.extra_headers["Message-ID"]
            # The row's id is the last part of the Message-ID's left-hand side.
            pk = int(message_id.split("@")[0].rsplit(".", 1)[1])
            row = OutgoingEmail.objects.get(pk=pk)
            HANDED.append((message_id, row.status, row.sending_since is not None))
        if FAIL_NEXT:
            raise FAIL_NEXT.pop()
        return super().send_messages(messages)


@pytest.fixture
def relay(settings) -> list[tuple[str, str, bool]]:
    settings.EMAIL_BACKEND = f"{__name__}.RecordingBackend"
    HANDED.clear()
    FAIL_NEXT.clear()
    return HANDED


def queue(key: str = "dossier:7:receipt-email") -> OutgoingEmail:
    with transaction.atomic():
        return email_queue(key=key, to=["porteur@exemple.fr"], subject="Accusé", body="Reçu.")


def test_the_row_is_sending_committed_when_the_message_is_handed_to_the_relay(relay):
    email = queue()
    email_send(email_id=email.pk)

    assert relay == [(email_message_id(email), E.SENDING, True)]
    email.refresh_from_db()
    assert (email.status, email.attempts) == (E.DONE, 1)
    assert email.sent_at is not None and email.sending_since is not None
    assert [message.extra_headers["Message-ID"] for message in mail.outbox] == [email_message_id(email)]


def test_the_message_id_is_derived_from_the_key_and_stable_across_attempts(relay, settings):
    settings.DEFAULT_FROM_EMAIL = "Fabriques de territoires <ne-pas-repondre@fabriques.example>"
    email = queue()
    FAIL_NEXT.append(ConnectionRefusedError("relay down"))

    with pytest.raises(ConnectionRefusedError):
        email_send(email_id=email.pk)
    email.refresh_from_db()
    # Not accepted: back to pending, the attempt counted, the error kept.
    assert (email.status, email.attempts) == (E.PENDING, 1)
    assert "relay down" in email.last_error
    assert mail.outbox == []

    email_send(email_id=email.pk)
    email.refresh_from_db()
    assert (email.status, email.attempts) == (E.DONE, 2)
    first, second = (handed[0] for handed in relay)
    assert first == second == email_message_id(email)
    assert first.startswith("<") and first.endswith(f".{email.pk}@fabriques.example>")
    assert mail.outbox[0].message()["Message-ID"] == first
    # Another row gets another Message-ID.
    other = queue(key="dossier:8:receipt-email")
    assert email_message_id(other) != first


def test_a_row_left_sending_by_a_killed_worker_is_not_sent_by_a_redelivery_but_by_the_sweep(
    relay, task_queues
):
    email = queue()
    # A worker killed inside SMTP leaves its claim: « sending », one attempt counted.
    assert services._claim_attempt(OutgoingEmail, email.pk) is True
    email.refresh_from_db()
    assert (email.status, email.attempts) == (E.SENDING, 1)

    # The redelivered task (acks_late) finds it « sending »: at most one attempt per claim.
    email_send(email_id=email.pk)
    assert relay == [] and mail.outbox == []
    # The sweep leaves a fresh claim alone: its attempt may still be talking to the relay.
    assert notifications_sweep(now=timezone.now() + timedelta(minutes=1))["emails"] == 0
    email.refresh_from_db()
    assert email.status == E.SENDING

    # Past SENDING_STALE the claim was interrupted: sent again, with the same Message-ID.
    later = timezone.now() + SENDING_STALE + timedelta(seconds=1)
    assert notifications_sweep(now=later) == {"documents": 0, "emails": 1}
    email.refresh_from_db()
    assert (email.status, email.attempts) == (E.PENDING, 1)
    assert task_queues.sent == ["notifications.tasks.email_send_task"]
    task_queues.drain()
    email.refresh_from_db()
    assert (email.status, email.attempts) == (E.DONE, 2)
    assert [message.extra_headers["Message-ID"] for message in mail.outbox] == [email_message_id(email)]
    # Sent: the note of the interruption is cleared with the other errors.
    assert email.last_error == ""


def test_a_failed_record_after_the_relay_accepted_does_not_send_again_on_retry(relay, monkeypatch):
    from django.db import OperationalError

    email = queue()
    real_move = services._email_move

    def move_failing_on_done(row: OutgoingEmail, to_status: str, **fields: Any) -> None:
        if to_status == E.DONE:
            raise OperationalError("connection lost while recording the send")
        real_move(row, to_status, **fields)

    monkeypatch.setattr(services, "_email_move", move_failing_on_done)
    # The relay accepted the message; recording it failed (the task's retry policy sees the error).
    with pytest.raises(OperationalError):
        email_send(email_id=email.pk)
    services.notification_record_failure(model=OutgoingEmail, pk=email.pk, error="connection lost")
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == (E.SENDING, 1)

    # The task's retries, within the claim's freshness, find it « sending »: nothing is sent again.
    monkeypatch.setattr(services, "_email_move", real_move)
    email_send(email_id=email.pk)
    email_send(email_id=email.pk)
    assert len(mail.outbox) == 1 and len(relay) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == (E.SENDING, 1)


def test_attempts_used_up_move_the_row_to_failed(relay):
    email = queue()
    OutgoingEmail.objects.filter(pk=email.pk).update(attempts=services.MAX_ATTEMPTS)
    email_send(email_id=email.pk)
    email.refresh_from_db()
    assert email.status == E.FAILED
    assert relay == [] and mail.outbox == []


@pytest.mark.parametrize(("from_status", "to_status"), list(product(E.values, E.values)))
def test_the_funnel_allows_the_moves_of_the_table_and_refuses_every_other(relay, from_status, to_status):
    email = queue()
    fields = {"sending_since": timezone.now(), "sent_at": timezone.now()}
    OutgoingEmail.objects.filter(pk=email.pk).update(status=from_status, **fields)
    email.refresh_from_db()
    if (from_status, to_status) in EMAIL_TRANSITIONS:
        services._email_move(email, to_status)
        email.refresh_from_db()
        assert email.status == to_status
    else:
        with pytest.raises(ValueError, match="no move from"):
            services._email_move(email, to_status)
        email.refresh_from_db()
        assert email.status == from_status
