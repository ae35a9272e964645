"""Labels under concurrent writes on PostgreSQL: eight admins creating the same name in eight cases
at once get one label and seven French refusals; eight instructors setting a dossier's labels at
once leave one of their sets, each link once, and no error.

Skipped (reason shown) without DATABASE_URL=postgres://...; failing instead with CI=true.
"""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import AuditEvent, User
from applications.models import Application, ApplicationLabel, Call, Label
from applications.services.labels import application_labels_set, label_create
from tests.factories import CallFactory, in_review_application, programme_admin

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

THREADS = 8


@pytest.fixture
def committed_db(transactional_db, django_db_serialized_rollback) -> None:  # type: ignore[no-untyped-def]
    """Rows committed for real, so that the threads' connections see them; the data of the
    migrations restored first, as an earlier flush may have removed it."""


def at_once(work: Callable[[int], Any]) -> dict[int, tuple[str, Any]]:
    """`work(index)` in eight threads released together; each outcome, or the error it raised."""
    barrier = threading.Barrier(THREADS)
    outcomes: dict[int, tuple[str, Any]] = {}

    def run(index: int) -> None:
        # Each thread has its own connection (django.db.connection is per thread), closed at the end.
        try:
            prepared = work(index)
            barrier.wait(timeout=60)
            try:
                outcomes[index] = ("done", prepared())
            except ValidationError as error:
                outcomes[index] = ("refused", error.message_dict)
        except BaseException as error:  # noqa: BLE001 - reported by the assertions
            outcomes[index] = ("crashed", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def test_eight_admins_creating_one_name_in_eight_cases_at_once_get_one_label(committed_db: None) -> None:
    call = CallFactory()
    admins = [programme_admin() for _ in range(THREADS)]
    names = ["Comité", "COMITÉ", "comité", "Comité ", " comité", "CoMiTé", "COMITé", "cOMITÉ"]

    def work(index: int) -> Callable[[], Any]:
        own_call = Call.objects.get(pk=call.pk)
        actor = User.objects.get(pk=admins[index].pk)
        return lambda: label_create(call=own_call, name=names[index], colour="pink-tuile", actor=actor).pk

    outcomes = at_once(work)
    assert [outcome for outcome, _ in outcomes.values()].count("done") == 1, outcomes
    refused = [detail for outcome, detail in outcomes.values() if outcome == "refused"]
    assert len(refused) == THREADS - 1, outcomes
    # Refused before the insert (the name read taken) or by the unique index (taken meanwhile).
    for detail in refused:
        assert list(detail) == ["name"]
        assert detail["name"][0].startswith("Une étiquette de cet appel ")
    assert Label.objects.filter(call=call).count() == 1
    assert AuditEvent.objects.filter(action="label.create").count() == 1


def test_eight_instructors_setting_a_dossier_s_labels_at_once_leave_one_set_and_no_error(
    committed_db: None,
) -> None:
    application, reviewer = in_review_application()
    admin = programme_admin()
    labels = [
        label_create(call=application.call, name=f"Étiquette {number}", colour="green-menthe", actor=admin)
        for number in range(4)
    ]
    # Overlapping sets: each thread adds some labels another removes.
    wanted = [[labels[index % 4], labels[(index + 1) % 4]] for index in range(THREADS)]

    def work(index: int) -> Callable[[], Any]:
        own = Application.objects.get(pk=application.pk)
        actor = User.objects.get(pk=reviewer.pk)
        chosen = [Label.objects.get(pk=label.pk) for label in wanted[index]]
        return lambda: [
            label.pk for label in application_labels_set(application=own, labels=chosen, actor=actor)
        ]

    outcomes = at_once(work)
    assert all(outcome == "done" for outcome, _ in outcomes.values()), outcomes
    carried = sorted(
        ApplicationLabel.objects.filter(application=application).values_list("label_id", flat=True)
    )
    assert carried in [sorted(label.pk for label in chosen) for chosen in wanted]
