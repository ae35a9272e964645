"""Two retention runs at once on PostgreSQL (a beat run and a manual command): each dossier's files
are purged once, each idle account warned once, with one audit row each, and no error.

Skipped (reason shown) without DATABASE_URL=postgres://...; failing instead with CI=true.
"""

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from applications.models import Attachment
from applications.services import application_withdraw
from notifications.models import OutgoingEmail
from retention.models import RetentionAction
from retention.services import retention_apply
from tests.factories import submitted_application

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

THREADS = 4


@pytest.fixture
def committed_db(transactional_db, django_db_serialized_rollback) -> None:  # type: ignore[no-untyped-def]
    """Rows committed for real, so that the threads' connections see them."""


def test_runs_at_once_purge_each_dossier_and_warn_each_account_once(committed_db: None) -> None:
    dossiers = [submitted_application() for _ in range(3)]
    for dossier in dossiers:
        application_withdraw(application=dossier, actor=dossier.created_by, reason="")
    now = timezone.now() + timedelta(days=365 * 6)
    barrier = threading.Barrier(THREADS)
    outcomes: dict[int, Any] = {}

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            outcomes[index] = retention_apply(now=now)
        except BaseException as error:  # noqa: BLE001 - reported by the assertions
            outcomes[index] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads)
    assert all(isinstance(outcome, dict) for outcome in outcomes.values()), outcomes

    assert sum(outcome["closed_dossier"] for outcome in outcomes.values()) == len(dossiers)
    assert not Attachment.objects.filter(application__in=dossiers).exists()
    assert RetentionAction.objects.filter(rule="closed_dossier").count() == len(dossiers)
    assert AuditEvent.objects.filter(action="retention.purge_files").count() == len(dossiers)
    warned = sum(outcome["inactive_account_warning"] for outcome in outcomes.values())
    assert warned == RetentionAction.objects.filter(rule="inactive_account_warning").count() > 0
    assert OutgoingEmail.objects.filter(key__startswith="retention-idle:").count() == warned
    assert AuditEvent.objects.filter(action="retention.warn_inactive").count() == warned
