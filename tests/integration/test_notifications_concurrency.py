"""The notification centre under concurrent writes on PostgreSQL: eight deliveries of one event at
once notify each person once and count it once; eight readers marking all read at once lower the
counter by what was unread, never below zero.

Skipped (reason shown) without DATABASE_URL=postgres://...; failing instead with CI=true.
"""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from accounts.models import User
from notifications.models import Notification, NotificationKind
from notifications.services_inbox import Event, notifications_mark_all_read, notify, unread_recount
from tests.factories import instructor

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

THREADS = 8


@pytest.fixture
def committed_db(transactional_db, django_db_serialized_rollback) -> None:  # type: ignore[no-untyped-def]
    """Rows committed for real, so that the threads' connections see them."""


def at_once(work: Callable[[int], Any]) -> list[str]:
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            work(index)
            outcomes.append("done")
        except BaseException as error:  # noqa: BLE001 - reported by the assertions
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def test_one_event_delivered_eight_times_at_once_notifies_each_person_once(committed_db: None) -> None:
    people = [instructor().pk for _ in range(3)]
    event = Event(
        kind=NotificationKind.DOSSIER_ASSIGNED, key="concurrent:1", title="Dossier", text="", link="/"
    )

    outcomes = at_once(
        lambda index: notify(event=event, recipient_ids=people[index % 3 :] + people[: index % 3])
    )
    assert outcomes == ["done"] * THREADS
    for pk in people:
        assert Notification.objects.filter(recipient_id=pk).count() == 1
        assert User.objects.get(pk=pk).unread_notifications == 1


def test_eight_mark_all_at_once_lower_the_counter_by_what_was_unread(committed_db: None) -> None:
    person = instructor()
    for index in range(5):
        notify(
            event=Event(
                kind=NotificationKind.DOSSIER_OVERDUE, key=f"c:{index}", title="T", text="", link="/"
            ),
            recipient_ids=[person.pk],
        )
    outcomes = at_once(lambda index: notifications_mark_all_read(user=User.objects.get(pk=person.pk)))
    assert outcomes == ["done"] * THREADS
    assert User.objects.get(pk=person.pk).unread_notifications == 0 == unread_recount(user_id=person.pk)
