"""Processing times (issue 14 §6): a dossier's stays from its state changes, and the medians of a
call per state, per département, per instructor and per wave, on a time-travelled fixture whose
every figure is worked out by hand below."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from applications import selectors_times
from applications.models import Application, Assignment, Call, StatusChange, Wave
from applications.selectors_times import (
    Median,
    call_stays,
    call_times,
    state_totals,
    stays_from_changes,
)
from tests.factories import CallFactory, applicant, instructor

pytestmark = pytest.mark.django_db

S = Application.Status
# Every `at` below is so many days before NOW; the selectors are given NOW as « now ».
NOW = timezone.now().replace(microsecond=0)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@dataclass
class Fixture:
    call: Call
    dossiers: dict[str, Application]
    alice: User
    bob: User


def dossier(
    call: Call, name: str, departement: str, wave: Wave | None, moves: list[tuple[str, str, float]]
) -> Application:
    """A dossier with its history: (from, to, days ago) per move, written with chosen dates."""
    application = Application.objects.create(
        reference=f"DLI-2026-{name}",
        call=call,
        wave=wave,
        title=f"Dossier {name}",
        status=moves[-1][1],
        submitted_at=days_ago(moves[1][2]) if len(moves) > 1 else None,
        departement_id=departement,
        created_by=applicant(),
    )
    StatusChange.objects.bulk_create(
        StatusChange(application=application, from_status=origin, to_status=to, at=days_ago(ago))
        for origin, to, ago in moves
    )
    return application


def build(call: Call | None = None) -> Fixture:
    """Four dossiers of one call (Gers 32 and Landes 40, waves 1 and 2), one of another call.

    Their stays, in days (« * »: en cours):
      A1 (32, wave 1): draft 10, submitted 5, in review 10, awarded 5*
      A2 (32, wave 1): draft 5, submitted 2, in review 8, corrections 2, submitted 2, in review 6*
      A3 (40, wave 2): draft 10, submitted 20, in review 10*
      A4 (40, wave 1): draft 0 (submitted at the same moment: the id breaks the tie),
                       submitted 10, in review 2*
    Alice is assigned A1 and A2, Bob A2 and A3; Carol declared a conflict on A4 (left out).
    """
    call = call or CallFactory(documents=False)
    one = Wave.objects.create(call=call, number=1, name="Vague 1", deadline=days_ago(-30))
    two = Wave.objects.create(call=call, number=2, name="Vague 2", deadline=days_ago(-60))
    draft, submitted, review, fixes = S.DRAFT, S.SUBMITTED, S.IN_REVIEW, S.CORRECTIONS
    dossiers = {
        "A1": dossier(
            call,
            "A1",
            "32",
            one,
            [("", draft, 30), (draft, submitted, 20), (submitted, review, 15), (review, S.AWARDED, 5)],
        ),
        "A2": dossier(
            call,
            "A2",
            "32",
            one,
            [
                ("", draft, 25),
                (draft, submitted, 20),
                (submitted, review, 18),
                (review, fixes, 10),
                (fixes, submitted, 8),
                (submitted, review, 6),
            ],
        ),
        "A3": dossier(
            call, "A3", "40", two, [("", draft, 40), (draft, submitted, 30), (submitted, review, 10)]
        ),
        "A4": dossier(
            call, "A4", "40", one, [("", draft, 12), (draft, submitted, 12), (submitted, review, 2)]
        ),
    }
    # Another call's dossier: none of its stays may count.
    dossier(CallFactory(documents=False), "B1", "32", None, [("", draft, 90), (draft, submitted, 80)])
    alice = instructor(first_name="Alice", last_name="Martin")
    bob = instructor(first_name="Bob", last_name="Durand")
    carol = instructor(first_name="Carol", last_name="Petit")
    for person, names in ((alice, ("A1", "A2")), (bob, ("A2", "A3"))):
        for name in names:
            Assignment.objects.create(application=dossiers[name], instructor=person)
    Assignment.objects.create(application=dossiers["A4"], instructor=carol, conflict_of_interest=True)
    return Fixture(call, dossiers, alice, bob)


def medians(row_medians: dict[str, Median]) -> dict[str, tuple[float | None, int]]:
    return {state: (median.days, median.count) for state, median in row_medians.items()}


NONE = (None, 0)


def test_a_dossiers_stays_run_from_each_change_to_the_next_and_the_last_is_running() -> None:
    fixture = build()
    a2 = fixture.dossiers["A2"]
    stays = [
        (stay.status, round(stay.days, 1), stay.current)
        for stay, _where in call_stays(fixture.call, NOW)
        if stay.application_id == a2.pk
    ]
    assert stays == [
        (S.DRAFT, 5.0, False),
        (S.SUBMITTED, 2.0, False),
        (S.IN_REVIEW, 8.0, False),
        (S.CORRECTIONS, 2.0, False),
        (S.SUBMITTED, 2.0, False),
        (S.IN_REVIEW, 6.0, True),
    ]
    # Two changes at the same moment: the window orders them by id, the draft's stay lasts 0 days.
    a4 = fixture.dossiers["A4"]
    assert [
        (stay.status, round(stay.days, 1), stay.current)
        for stay, _where in call_stays(fixture.call, NOW)
        if stay.application_id == a4.pk
    ] == [(S.DRAFT, 0.0, False), (S.SUBMITTED, 10.0, False), (S.IN_REVIEW, 2.0, True)]
    # The other call's dossier is not read.
    assert {stay.application_id for stay, _where in call_stays(fixture.call, NOW)} == {
        application.pk for application in fixture.dossiers.values()
    }


def test_the_dossier_page_pairing_of_its_history_gives_the_stays_of_the_sql_window() -> None:
    fixture = build()
    from_sql = [stay for stay, _where in call_stays(fixture.call, NOW)]
    for application in fixture.dossiers.values():
        history = application.status_changes.order_by("at", "pk")
        assert stays_from_changes(history, NOW) == [s for s in from_sql if s.application_id == application.pk]


def test_a_dossiers_days_per_state_add_up_its_visits_and_name_the_current_state() -> None:
    fixture = build()
    history = fixture.dossiers["A2"].status_changes.order_by("at", "pk")
    assert state_totals(stays_from_changes(history, NOW)) == [
        ("Brouillon", 5.0, False),
        ("Déposé", 4.0, False),
        ("En instruction", 14.0, True),
        ("Compléments demandés", 2.0, False),
    ]


def test_the_medians_per_state_departement_instructor_and_wave_are_those_worked_out_by_hand() -> None:
    fixture = build()
    times = call_times(fixture.call, NOW)
    assert times.dossier_count == 4
    # Finished stays: submitted 5, 2, 2, 20, 10; in review 10, 8; corrections 2.
    assert medians(times.finished) == {S.SUBMITTED: (5.0, 5), S.IN_REVIEW: (9.0, 2), S.CORRECTIONS: (2.0, 1)}
    # Running: in review 6 (A2), 10 (A3), 2 (A4); the laureate's stay is not a processing step.
    assert medians(times.current) == {S.SUBMITTED: NONE, S.IN_REVIEW: (6.0, 3), S.CORRECTIONS: NONE}

    by_departement = {row.name: (medians(row.medians), medians(row.current)) for row in times.by_departement}
    assert list(by_departement) == ["Gers (32)", "Landes (40)"]
    assert by_departement["Gers (32)"] == (
        {S.SUBMITTED: (2.0, 3), S.IN_REVIEW: (9.0, 2), S.CORRECTIONS: (2.0, 1)},
        {S.SUBMITTED: NONE, S.IN_REVIEW: (6.0, 1), S.CORRECTIONS: NONE},
    )
    assert by_departement["Landes (40)"] == (
        {S.SUBMITTED: (15.0, 2), S.IN_REVIEW: NONE, S.CORRECTIONS: NONE},
        {S.SUBMITTED: NONE, S.IN_REVIEW: (6.0, 2), S.CORRECTIONS: NONE},
    )

    by_wave = {row.name: (medians(row.medians), medians(row.current)) for row in times.by_wave}
    assert list(by_wave) == ["Vague 1", "Vague 2"]
    assert by_wave["Vague 1"] == (  # A1, A2, A4
        {S.SUBMITTED: (3.5, 4), S.IN_REVIEW: (9.0, 2), S.CORRECTIONS: (2.0, 1)},
        {S.SUBMITTED: NONE, S.IN_REVIEW: (4.0, 2), S.CORRECTIONS: NONE},
    )
    assert by_wave["Vague 2"] == (  # A3
        {S.SUBMITTED: (20.0, 1), S.IN_REVIEW: NONE, S.CORRECTIONS: NONE},
        {S.SUBMITTED: NONE, S.IN_REVIEW: (10.0, 1), S.CORRECTIONS: NONE},
    )

    # Instructors: the stays in review of their dossiers; Carol's conflicted dossier is not hers.
    by_instructor = {
        row.name: (medians(row.medians)[S.IN_REVIEW], medians(row.current)[S.IN_REVIEW])
        for row in times.by_instructor
    }
    assert by_instructor == {"Alice Martin": ((9.0, 2), (6.0, 1)), "Bob Durand": ((8.0, 1), (8.0, 2))}
    assert [row.name for row in times.by_instructor] == ["Alice Martin", "Bob Durand"]


def test_small_samples_are_flagged_and_never_called_the_slowest(monkeypatch: pytest.MonkeyPatch) -> None:
    fixture = build()
    times = call_times(fixture.call, NOW)
    # Under five stays everywhere: flagged, and no row singled out.
    assert all(row.medians[S.SUBMITTED].small_sample for row in times.by_departement)
    assert not any(row.slowest for row in [*times.by_departement, *times.by_wave, *times.by_instructor])

    monkeypatch.setattr(selectors_times, "SMALL_SAMPLE", 2)
    times = call_times(fixture.call, NOW)
    slowest = {row.name: row.slowest for row in times.by_departement}
    # Submitted: Landes 15 days (2 stays) over Gers 2 days; in review: only Gers has 2 stays;
    # corrections: a single stay, never the slowest.
    assert slowest == {"Gers (32)": {S.IN_REVIEW}, "Landes (40)": {S.SUBMITTED}}
    assert {row.name: row.slowest for row in times.by_instructor} == {
        "Alice Martin": {S.IN_REVIEW},
        "Bob Durand": set(),
    }


def test_the_call_times_read_two_queries_whatever_the_number_of_dossiers() -> None:
    fixture = build()
    with CaptureQueriesContext(connection) as few:
        call_times(fixture.call, NOW)
    wave = fixture.call.waves.get(number=2)
    for number in range(10):
        dossier(
            fixture.call,
            f"X{number}",
            "40",
            wave,
            [("", S.DRAFT, 9), (S.DRAFT, S.SUBMITTED, 8), (S.SUBMITTED, S.IN_REVIEW, 3)],
        )
    with CaptureQueriesContext(connection) as many:
        times = call_times(fixture.call, NOW)
    assert times.dossier_count == 14
    assert len(few.captured_queries) == len(many.captured_queries) == 2


def test_a_territory_narrows_every_figure_to_its_dossiers() -> None:
    from fabriques.models import Departement

    fixture = build()
    times = call_times(fixture.call, NOW, departements=Departement.objects.filter(code="32"))
    assert times.dossier_count == 2  # A1 and A2
    assert [row.name for row in times.by_departement] == ["Gers (32)"]
    assert medians(times.finished) == {S.SUBMITTED: (2.0, 3), S.IN_REVIEW: (9.0, 2), S.CORRECTIONS: (2.0, 1)}
    # Bob's Landes dossier is out of the territory: only A2's stays in review are left to him.
    by_instructor = {
        row.name: (medians(row.medians)[S.IN_REVIEW], medians(row.current)[S.IN_REVIEW])
        for row in times.by_instructor
    }
    assert by_instructor == {"Alice Martin": ((9.0, 2), (6.0, 1)), "Bob Durand": ((8.0, 1), (6.0, 1))}
    # A territory's query count is the call's.
    with CaptureQueriesContext(connection) as captured:
        call_times(fixture.call, NOW, departements=Departement.objects.filter(code="32"))
    assert len(captured.captured_queries) == 2
