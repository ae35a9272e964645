"""A broadcast confirmed eight times at once on PostgreSQL (a double click, a reload, several tabs):
one broadcast, one message per dossier, one e-mail per dossier, one audit row, and no error.

Skipped (reason shown) without DATABASE_URL=postgres://...; failing instead with CI=true.
"""

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import AuditEvent, User
from applications.models import Application, Broadcast, Message
from applications.services.messaging import broadcast_send
from notifications.models import OutgoingEmail
from tests.factories import occitanie_instructor, submitted_application
from tests.integration.test_labels_concurrency import THREADS, at_once, committed_db  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_eight_confirmations_of_one_recap_at_once_write_the_broadcast_once(committed_db: None) -> None:  # noqa: F811
    dossiers = [submitted_application() for _ in range(3)]
    reviewer = occitanie_instructor()
    token = uuid.uuid4()

    def work(index: int) -> Callable[[], Any]:
        actor = User.objects.get(pk=reviewer.pk)
        return lambda: broadcast_send(
            token=token,
            subject="Comité du 12 mars",
            body="Le comité se réunira le 12 mars.",
            dossiers=Application.objects.all(),
            actor=actor,
        )[1]

    outcomes = at_once(work)
    assert sorted(outcome for outcome, _ in outcomes.values()) == ["done"] * THREADS, outcomes
    assert [created for _, created in outcomes.values()].count(True) == 1, outcomes
    broadcast = Broadcast.objects.get()
    assert Message.objects.filter(broadcast=broadcast).count() == len(dossiers)
    assert OutgoingEmail.objects.filter(key__startswith=f"broadcast:{broadcast.pk}:").count() == len(dossiers)
    assert AuditEvent.objects.filter(action="message.broadcast").count() == 1
