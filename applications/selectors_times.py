"""Processing times: how long dossiers stay in each state, and the medians that show a slow step.

A *stay* runs from one state change of a dossier to its next one (`applications.StatusChange`,
ordered by `at` then `id`, the order of the dossier's history); the last stay runs up to now and is
« en cours ». The stays of a call are read in ONE query with a window (`LEAD(at)` over each
dossier's changes), the same SQL on SQLite and PostgreSQL; the medians are taken in Python
(`statistics.median`), as SQLite has no percentile function. A second query reads the call's
assignments (for the medians per instructor). Two queries whatever the number of dossiers
(tests/applications/test_times.py).

This module sits in `applications` (not `grants.selectors`) because the instruction page of a
dossier, an `applications` view, shows the dossier's own time line, and the import contract
(pyproject.toml) forbids applications from importing grants; the programme's page in grants reads
it from here.
"""

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import Lead
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Application, Assignment, Call, StatusChange
from fabriques.models import Departement

S = Application.Status

# The states where the programme holds the dossier (or waits for the applicant's corrections):
# the steps whose length the medians compare. Drafts are the applicant's writing time, and a
# decided or withdrawn dossier's stay never ends: neither says anything about the instruction.
PROCESSING_STATES: tuple[str, ...] = (S.SUBMITTED, S.IN_REVIEW, S.CORRECTIONS)
# Below this many stays, a median is flagged as a small sample and never called the slowest.
SMALL_SAMPLE = 5
SECONDS_PER_DAY = 86_400


class Stay(NamedTuple):
    """One stay of a dossier in a state: from `started_at` to `ended_at` (None: still there).

    A named tuple rather than a dataclass: a call at 10 000 dossiers has some 30 000 of them.
    """

    application_id: int
    status: str
    started_at: datetime
    ended_at: datetime | None
    days: float

    @property
    def current(self) -> bool:
        return self.ended_at is None

    @property
    def status_label(self) -> str:
        return str(S(self.status).label)


@dataclass(frozen=True)
class Median:
    """The median of some stays in days (None without any), and how many stays it is taken over."""

    days: float | None
    count: int

    @property
    def small_sample(self) -> bool:
        return 0 < self.count < SMALL_SAMPLE


def median_of(days: Sequence[float]) -> Median:
    return Median(round(statistics.median(days), 1) if days else None, len(days))


@dataclass
class Row:
    """A line of a breakdown (a département, an instructor, a wave): its medians per state."""

    key: Any
    name: str
    # The finished stays' medians, and the running stays' (how long the waiting dossiers have
    # waited so far), per processing state.
    medians: dict[str, Median] = field(default_factory=dict)
    current: dict[str, Median] = field(default_factory=dict)
    # The states in which this row holds the slowest median of the breakdown (see _mark_slowest).
    slowest: set[str] = field(default_factory=set)

    @property
    def cells(self) -> list[tuple[str, Median, bool]]:
        """(state, median, slowest) in the order of PROCESSING_STATES, for the templates."""
        return [(state, self.medians[state], state in self.slowest) for state in PROCESSING_STATES]

    @property
    def slowest_in_review(self) -> bool:
        return S.IN_REVIEW in self.slowest


@dataclass
class CallTimes:
    """The processing times of a call, as its programme page shows them."""

    # Per state, over the whole call: the finished stays, and the stays still running.
    finished: dict[str, Median]
    current: dict[str, Median]
    by_departement: list[Row]
    by_instructor: list[Row]
    by_wave: list[Row]
    dossier_count: int


def _days(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / SECONDS_PER_DAY


def stays_from_changes(changes: Iterable[StatusChange], now: datetime | None = None) -> list[Stay]:
    """A dossier's stays from its history, already read in the order of `at`, then `id`.

    The instruction page has the history in hand; pairing its rows gives exactly the stays that
    `call_stays` reads with LEAD (the same order), without another query
    (tests/applications/test_times.py checks that both agree).
    """
    now = now or timezone.now()
    rows = list(changes)
    stays = []
    for index, change in enumerate(rows):
        ended = rows[index + 1].at if index + 1 < len(rows) else None
        stays.append(
            Stay(change.application_id, change.to_status, change.at, ended, _days(change.at, ended or now))
        )
    return stays


def state_totals(stays: Iterable[Stay]) -> list[tuple[str, float, bool]]:
    """A dossier's days per state (a state visited twice adds up), in the order first reached,
    each saying whether the dossier is in it now: (state label, days, current)."""
    totals: dict[str, float] = {}
    now_in = ""
    for stay in stays:
        totals[stay.status] = totals.get(stay.status, 0.0) + stay.days
        now_in = stay.status if stay.current else now_in
    return [(str(S(state).label), round(days, 1), state == now_in) for state, days in totals.items()]


class Where(NamedTuple):
    """Where a stay's dossier is counted: its département (code, name) and its wave."""

    departement_code: str | None
    departement_name: str | None
    wave_id: int | None
    wave_number: int | None
    wave_name: str | None


def _scope(call: Call, departements: QuerySet[Departement] | None) -> Q:
    """The call's dossiers, within `departements` when given (an instructor's territory, drafts
    left out as in every instructor's view), as a filter of rows pointing to a dossier."""
    scope = Q(application__call=call)
    if departements is not None:
        scope &= Q(application__departement__in=departements) & ~Q(application__status=S.DRAFT)
    return scope


def call_stays(
    call: Call, now: datetime | None = None, *, departements: QuerySet[Departement] | None = None
) -> list[tuple[Stay, Where]]:
    """Every stay of the call's dossiers, with the dossier's département and wave: one query.

    The window is computed over the dossier's whole history (the filter is on the dossier, never
    on its changes, so no change of a dossier is left out of its partition).
    """
    now = now or timezone.now()
    rows = (
        StatusChange.objects.filter(_scope(call, departements))
        .annotate(
            next_at=Window(
                Lead("at"),
                partition_by=[F("application_id")],
                order_by=[F("at").asc(), F("id").asc()],
            )
        )
        .order_by("application_id", "at", "id")
        .values_list(
            "application_id",
            "to_status",
            "at",
            "next_at",
            "application__departement_id",
            "application__departement__name",
            "application__wave_id",
            "application__wave__number",
            "application__wave__name",
        )
    )
    return [
        (
            Stay(
                row[0], row[1], row[2], row[3], ((row[3] or now) - row[2]).total_seconds() / SECONDS_PER_DAY
            ),
            Where(*row[4:]),
        )
        for row in rows
    ]


# Per processing state, the days of the finished stays and those of the running ones.
Days = dict[str, tuple[list[float], list[float]]]


def _days_per_state() -> Days:
    return {state: ([], []) for state in PROCESSING_STATES}


def _row(key: Any, name: str, days: Days) -> Row:
    return Row(
        key,
        name,
        {state: median_of(finished) for state, (finished, _running) in days.items()},
        {state: median_of(running) for state, (_finished, running) in days.items()},
    )


def _mark_slowest(rows: list[Row]) -> None:
    """Flag, per state, the row(s) with the longest median over at least SMALL_SAMPLE stays: a
    median of two stays is shown, never singled out."""
    for state in PROCESSING_STATES:
        sized = [row for row in rows if row.medians[state].count >= SMALL_SAMPLE]
        if not sized:
            continue
        longest = max(row.medians[state].days or 0.0 for row in sized)
        for row in sized:
            if row.medians[state].days == longest:
                row.slowest.add(state)


def call_times(
    call: Call, now: datetime | None = None, *, departements: QuerySet[Departement] | None = None
) -> CallTimes:
    """The call's stays, their medians per state, per département, per instructor and per wave.

    Two queries whatever the number of dossiers. A dossier counts in its current département
    (a move of territory carries its history with it) and in its wave. An instructor's medians
    are those of the stays « en instruction » of the dossiers assigned to them, without a declared
    conflict of interest (they do not review those). `departements` narrows it all to a
    territory (an instructor's: `fabriques.selectors.departements_in_scope`).
    """
    now = now or timezone.now()
    stays = call_stays(call, now, departements=departements)
    assignments = list(
        Assignment.objects.filter(_scope(call, departements), conflict_of_interest=False)
        .order_by()
        .values_list(
            "application_id",
            "instructor_id",
            "instructor__first_name",
            "instructor__last_name",
            "instructor__email",
        )
    )

    whole = _days_per_state()
    by_dep: dict[Any, Days] = defaultdict(_days_per_state)
    dep_names: dict[Any, str] = {}
    by_wave: dict[Any, Days] = defaultdict(_days_per_state)
    wave_names: dict[Any, tuple[int, str]] = {}
    # The days of each dossier's stays « en instruction », (finished, running), for its instructors.
    review_days: dict[int, tuple[list[float], list[float]]] = {}
    dossiers = set()
    for stay, where in stays:
        dossiers.add(stay.application_id)
        if stay.status not in whole:
            continue
        running = int(stay.ended_at is None)
        whole[stay.status][running].append(stay.days)
        by_dep[where.departement_code][stay.status][running].append(stay.days)
        by_wave[where.wave_id][stay.status][running].append(stay.days)
        if where.departement_code not in dep_names:
            dep_names[where.departement_code] = (
                f"{where.departement_name} ({where.departement_code})"
                if where.departement_code
                else _("Sans département")
            )
        if where.wave_id not in wave_names:
            wave_names[where.wave_id] = (where.wave_number or 0, where.wave_name or _("Sans vague"))
        if stay.status == S.IN_REVIEW:
            review_days.setdefault(stay.application_id, ([], []))[running].append(stay.days)

    departement_rows = [_row(code, dep_names[code], days) for code, days in by_dep.items()]
    departement_rows.sort(key=lambda row: (row.key is None, str(row.key)))
    wave_rows = [_row(key, wave_names[key][1], days) for key, days in by_wave.items()]
    wave_rows.sort(key=lambda row: (row.key is None, wave_names[row.key][0]))

    per_instructor: dict[int, Days] = defaultdict(_days_per_state)
    instructor_names: dict[int, str] = {}
    for app_id, instructor_id, first, last, email in assignments:
        instructor_names[instructor_id] = f"{first} {last}".strip() or email
        finished, running_days = review_days.get(app_id, ((), ()))
        mine = per_instructor[instructor_id][S.IN_REVIEW]
        mine[0].extend(finished)
        mine[1].extend(running_days)
    instructor_rows = [_row(key, instructor_names[key], days) for key, days in per_instructor.items()]
    instructor_rows.sort(key=lambda row: (row.name.casefold(), row.key))

    for breakdown in (departement_rows, wave_rows, instructor_rows):
        _mark_slowest(breakdown)
    return CallTimes(
        finished={state: median_of(finished) for state, (finished, _running) in whole.items()},
        current={state: median_of(running) for state, (_finished, running) in whole.items()},
        by_departement=departement_rows,
        by_instructor=instructor_rows,
        by_wave=wave_rows,
        dossier_count=len(dossiers),
    )
