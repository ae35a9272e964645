"""Each dossier's review columns (migration 0015) stay right when two instructors hand in their
scores on the same dossier at the same moment (PostgreSQL, READ COMMITTED).

`scores_save` locks its own assignment only; the trigger of the second statement must read the
assignments after the first transaction committed, not from a snapshot taken before it waited
for the dossier's row: the trigger locks the dossiers first, then recounts in a statement of its
own."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from applications.counters import review_facts_recount, review_facts_stored
from applications.models import Application, Assignment
from tests.factories import CallFactory, applicant, instructor
from tests.integration.test_labels_concurrency import committed_db  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_two_scorings_handed_in_at_once_leave_no_score_awaited(committed_db: None) -> None:  # noqa: F811
    call = CallFactory()
    dossier = Application.objects.create(
        reference="FCT-2026-99999",
        call=call,
        title="Deux notations à la fois",
        status=Application.Status.IN_REVIEW,
        submitted_at=timezone.now(),
        departement_id="32",
        created_by=applicant(),
    )
    first_assignment = Assignment.objects.create(application=dossier, instructor=instructor())
    second_assignment = Assignment.objects.create(application=dossier, instructor=instructor())
    first_wrote = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                Assignment.objects.filter(pk=first_assignment.pk).update(scores_submitted_at=timezone.now())
                first_wrote.set()
                time.sleep(1)  # the second transaction starts, then waits for the dossier's row
        except BaseException as error:  # pragma: no cover (reported below)
            errors.append(error)
        finally:
            connection.close()

    def second() -> None:
        try:
            assert first_wrote.wait(10)
            with transaction.atomic():
                Assignment.objects.filter(pk=second_assignment.pk).update(scores_submitted_at=timezone.now())
        except BaseException as error:  # pragma: no cover (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    dossier.refresh_from_db()
    assert (dossier.scorer_count, dossier.unscored_count) == (2, 0)
    second_assignment.refresh_from_db()
    assert dossier.last_scored_at == second_assignment.scores_submitted_at
    assert review_facts_stored()[dossier.pk] == review_facts_recount()[dossier.pk]
