"""Sub-envelopes under concurrent awards on PostgreSQL (READ COMMITTED), as the call's envelope is
tested in test_decisions_chain.py.

- Eight awards at once in one région whose sub-envelope holds three: exactly three pass, the
  others are refused with the région's message, and neither the région's sub-envelope nor the
  call's envelope is over-committed.
- Awards in a département with its own sub-envelope, elsewhere in its région, and outside any
  delegation (call level), with a programme admin changing the sub-envelopes meanwhile: no
  deadlock, every counter right.

Skipped (reason shown) without DATABASE_URL=postgres://...; failing instead with CI=true.
"""

import threading
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from applications.models import Application, Call
from applications.services.review import assignment_create, eligibility_record
from core.formatting import format_money
from grants.models import Grant, SubEnvelope
from grants.services import application_award
from grants.services.envelope import envelope_drift_lines, envelope_recount
from grants.services.sub_envelopes import sub_envelopes_set
from notifications import services
from tests.factories import CallFactory, grid, occitanie_instructor, programme_admin, submitted_application
from tests.integration.test_labels_concurrency import committed_db  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

AWARD = Decimal("150000")
OCCITANIE, GERS, HAUTE_GARONNE, PARIS, BRETAGNE = "76", "32", "31", "75", "53"


@pytest.fixture
def no_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """About money: no PDF rendered, no e-mail sent (their rows stay pending)."""
    monkeypatch.setattr(services, "_enqueue_render", lambda document_id: None)
    monkeypatch.setattr(services, "_enqueue_send", lambda email_id: None)


def dossiers_in(call: Call, departements: list[str]) -> list[Application]:
    """One dossier in review asking 150 000 € per département listed, committed."""
    reviewer = occitanie_instructor()
    result = []
    for departement in departements:
        application = submitted_application(call=call)
        assignment_create(application=application, instructor=reviewer, actor=reviewer)
        eligibility_record(
            application=application,
            answers={check.pk: (True, "") for check in call.eligibility_checks.all()},
            actor=reviewer,
        )
        Application.objects.filter(pk=application.pk).update(departement_id=departement)
        application.refresh_from_db()
        assert application.status == Application.Status.IN_REVIEW
        result.append(application)
    return result


def at_once(works: list[Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Each work in its own thread (its own connection), released together; each outcome."""
    barrier = threading.Barrier(len(works))
    outcomes: list[tuple[str, Any]] = [("not run", None)] * len(works)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            try:
                outcomes[index] = ("done", works[index]())
            except ValidationError as error:
                outcomes[index] = ("refused", error.messages)
        except BaseException as error:  # noqa: BLE001 - reported by the callers' assertions
            outcomes[index] = ("crashed", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def award(application_id: int, actor_id: int) -> Callable[[], Any]:
    def work() -> Any:
        application = Application.objects.get(pk=application_id)
        return application_award(application=application, amount=AWARD, actor=User.objects.get(pk=actor_id))

    return work


def assert_sound(call: Call) -> None:
    assert envelope_drift_lines(envelope_recount(call)) == []
    out = StringIO()
    call_command("envelope_check", "--call", call.slug, stdout=out)
    assert "sans écart" in out.getvalue()


def test_eight_awards_at_once_in_a_region_commit_exactly_what_its_sub_envelope_holds(
    committed_db: None,  # noqa: F811
    no_tasks: None,
) -> None:
    call = CallFactory(envelope=Decimal("900000"), fnt_bonus=Decimal("0"))
    grid(call)
    admin = programme_admin()
    dossiers = dossiers_in(call, [GERS, HAUTE_GARONNE] * 4)
    sub_envelopes_set(call=call, regions={OCCITANIE: 3 * AWARD}, departements={}, actor=admin)

    outcomes = at_once([award(application.pk, admin.pk) for application in dossiers])

    assert [outcome for outcome in outcomes if outcome[0] not in {"done", "refused"}] == []
    assert sum(1 for outcome, _detail in outcomes if outcome == "done") == 3
    message = (
        f"L'enveloppe déléguée à la région Occitanie ne permet pas d'engager {format_money(AWARD)} : il n'y "
        f"reste que {format_money(Decimal('0'))}."
    )
    assert [detail for outcome, detail in outcomes if outcome == "refused"] == [[message]] * 5
    region = SubEnvelope.objects.get(call=call, region_id=OCCITANIE)
    assert region.committed_amount == 3 * AWARD == region.amount
    call.refresh_from_db()
    assert (call.committed_amount, call.laureate_count) == (3 * AWARD, 3)
    assert Grant.objects.filter(call=call, status=Grant.Status.ACTIVE).count() == 3
    assert_sound(call)


def test_region_departement_and_call_level_awards_at_once_never_deadlock(
    committed_db: None,  # noqa: F811
    no_tasks: None,
) -> None:
    # 900 000 €: 300 000 € delegated to Occitanie (150 000 € of them to the Gers); Paris has no
    # sub-envelope and draws on the call's envelope only, whose 600 000 € left cover its four.
    call = CallFactory(envelope=Decimal("900000"), fnt_bonus=Decimal("0"))
    grid(call)
    admin = programme_admin()
    gers = dossiers_in(call, [GERS] * 3)
    haute_garonne = dossiers_in(call, [HAUTE_GARONNE] * 3)
    paris = dossiers_in(call, [PARIS] * 4)
    sub_envelopes_set(call=call, regions={OCCITANIE: 2 * AWARD}, departements={GERS: AWARD}, actor=admin)

    def set_amounts() -> Any:
        # An admin delegates to another région meanwhile: the call's lock, then the sub-envelopes'.
        return sub_envelopes_set(
            call=Call.objects.get(pk=call.pk),
            regions={OCCITANIE: 2 * AWARD, BRETAGNE: AWARD},
            departements={GERS: AWARD},
            actor=User.objects.get(pk=admin.pk),
        )

    works = [award(application.pk, admin.pk) for application in [*gers, *haute_garonne, *paris]]
    works.insert(5, set_amounts)
    outcomes = at_once(works)
    crashed = [outcome for outcome in outcomes if outcome[0] not in {"done", "refused"}]
    assert crashed == []  # a deadlock would show here as « deadlock detected »
    assert outcomes[5][0] == "done"
    awarded = set(
        Grant.objects.filter(call=call, status=Grant.Status.ACTIVE).values_list("application_id", flat=True)
    )
    assert {application.pk for application in paris} <= awarded
    occitanie = awarded - {application.pk for application in paris}
    assert len(occitanie) == 2
    assert len(occitanie & {application.pk for application in gers}) <= 1
    refusals = [detail for outcome, detail in outcomes if outcome == "refused"]
    assert len(refusals) == 4
    # Refused by the sub-envelope, or, once the Paris awards have spent the rest of the call's
    # envelope, by the call's envelope, which is checked first: which one depends on the order the
    # threads took the call's lock. Never anything else.
    assert all(
        detail[0].startswith(("L'enveloppe déléguée ", "L'enveloppe de l'appel n'a plus que "))
        for detail in refusals
    ), refusals
    rows = {sub.departement_id or sub.region_id: sub for sub in SubEnvelope.objects.filter(call=call)}
    assert rows[OCCITANIE].committed_amount == 2 * AWARD
    assert rows[GERS].committed_amount <= AWARD
    assert rows[BRETAGNE].amount == AWARD
    call.refresh_from_db()
    assert (call.committed_amount, call.laureate_count) == (6 * AWARD, 6)
    assert_sound(call)
