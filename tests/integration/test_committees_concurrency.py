"""Applying a committee's decisions on PostgreSQL, under concurrent writes: four admins pressing
« Appliquer les décisions » at once, with an envelope that covers only some of the awards, get each
dossier decided once, the envelope never over-committed, the refused awards reported on their
items, and a session left « en séance » until what is left is applied.

Skipped (reason shown) without DATABASE_URL=postgres://...; failing instead with CI=true.
"""

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import AuditEvent, User
from applications.models import Application, Call
from grants.models import CommitteeItem, CommitteeSession, Grant
from grants.services.committees import (
    committee_agenda_build,
    committee_apply,
    committee_convene,
    committee_decision_record,
    committee_open,
)
from tests.factories import CallFactory, programme_admin
from tests.grants.committees import a_session, scored_dossiers

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

THREADS = 4


@pytest.fixture
def committed_db(transactional_db, django_db_serialized_rollback) -> None:  # type: ignore[no-untyped-def]
    """Rows committed for real, so that the threads' connections see them."""


def test_four_admins_applying_at_once_decide_each_dossier_once_within_the_envelope(
    committed_db: None,
) -> None:
    # Room for two awards of 150 000 € out of four.
    call = CallFactory(envelope=Decimal("300000"))
    dossiers = scored_dossiers(call, ["95", "90", "85", "80"])
    admins = [programme_admin() for _ in range(THREADS)]
    session = a_session(admins[0], call)
    committee_agenda_build(session=session, actor=admins[0])
    committee_convene(session=session, actor=admins[0])
    committee_open(session=session, actor=admins[0])
    for item in CommitteeItem.objects.filter(session=session):
        committee_decision_record(item=item, decision=CommitteeItem.Decision.AWARD, actor=admins[0])

    barrier = threading.Barrier(THREADS)
    outcomes: dict[int, tuple[str, Any]] = {}

    def run(index: int) -> None:
        try:
            own = CommitteeSession.objects.get(pk=session.pk)
            actor = User.objects.get(pk=admins[index].pk)
            barrier.wait(timeout=60)
            try:
                outcomes[index] = ("done", committee_apply(session=own, actor=actor))
            except ValidationError as error:
                outcomes[index] = ("refused", error.messages)
        except BaseException as error:  # noqa: BLE001 - reported by the assertions
            outcomes[index] = ("crashed", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads)
    assert all(outcome != "crashed" for outcome, _ in outcomes.values()), outcomes

    # Each dossier awarded at most once, the two best within the envelope, the others refused.
    awarded = set(Grant.objects.filter(call=call).values_list("application_id", flat=True))
    assert awarded == {dossiers[0].pk, dossiers[1].pk}
    for dossier in dossiers:
        assert Grant.objects.filter(application=dossier).count() == (1 if dossier.pk in awarded else 0)
    call = Call.objects.get(pk=call.pk)
    assert call.committed_amount == Decimal("300000.00") and call.laureate_count == 2
    items = {item.application_id: item for item in CommitteeItem.objects.filter(session=session)}
    assert {pk for pk, item in items.items() if item.outcome == "applied"} == awarded
    for dossier in dossiers[2:]:
        assert items[dossier.pk].outcome == "failed"
        assert "L'enveloppe de l'appel n'a plus que" in items[dossier.pk].outcome_message
        assert Application.objects.get(pk=dossier.pk).status == "in_review"
    # Every dossier applied once, whoever applied it.
    applied = AuditEvent.objects.filter(action="committee.apply_item").values_list("data__dossier", flat=True)
    assert sorted(applied) == sorted(dossier.reference for dossier in dossiers[:2])
    assert AuditEvent.objects.filter(action="decision.award").count() == 2
    assert CommitteeSession.objects.get(pk=session.pk).status == "held"
