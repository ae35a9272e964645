"""15. Allocation scenarios: the solver at 1 000, 5 000 and 20 000 candidates, against the greedy.

The candidates come from the bulk data (devtools.bulk.seed_bulk, 100 000 dossiers over the 101
départements): every dossier of every call that `allocation.selectors.candidate_rows` returns (in
review, scored, every eligibility condition met), with its département, priority zone, score, amount
asked and FNT bonus. The bulk data scores few dossiers, so the bench first takes dossiers not yet
decided (submitted, then awaiting corrections, then drafts) into review with a score (drawn
uniformly between 40 and 95, seeded) until 20 000 are scored in review, and confirms their
eligibility: each size is then a sample of real, distinct dossiers. Only if the pool were still
smaller than a size would it be drawn with replacement (each copy a new id, its attributes those of
a real candidate); the report says which. The envelope, the target, the bounds and the départements
funded already are those of the programme's open call (`problem_for_call`).

For each size: the lexicographic solve (départements covered, then dossiers in priority zones,
then the total score; amounts asked, not reduced; two threads), its time (median of the runs) and
whether it is proven optimal (else its gap); the greedy ranking (by score until the envelope is
spent) at the same envelope, and the départements the solver covers beyond it. Limit: 5 000
candidates solved in 2 s or less. The time to read the open call's candidates (the input
builder) is measured too.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import replace
from typing import Any

from bench.common import Context, median

NUMBER = 15
TITLE = "Allocation scenarios: solver time and coverage against the greedy ranking"
# After the list pages (their 100 000 dossiers are reused; it changes dossiers' states, so it must
# not come before them) and before the budget exports add their calls.
ORDER = 69
SIZES = (1_000, 5_000, 20_000)
QUICK_SIZES = (200, 500, 1_000)
BULK = 100_000
QUICK_BULK = 1_000
LIMIT_SECONDS = 2.0
LIMIT_SIZE = 5_000


def _put_in_review(wanted: int) -> int:
    """Take dossiers not yet decided (submitted first, then awaiting corrections, then drafts; with a
    département) into review with a score until `wanted` are scored in review; returns how many
    were taken. A bulk write in the bench database only, as the bulk data itself is written."""
    from django.db import connection

    from applications.models import Application

    S = Application.Status
    have = Application.objects.filter(status=S.IN_REVIEW, score__isnull=False).count()
    if have >= wanted:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.15)")
        cursor.execute(
            "UPDATE applications_application SET status = %s, "
            "score = round((40 + random() * 55)::numeric, 1), submitted_at = COALESCE(submitted_at, now()) "
            "WHERE id IN ("
            "SELECT id FROM applications_application WHERE departement_id IS NOT NULL AND "
            "(status IN (%s, %s, %s) OR (status = %s AND score IS NULL)) "
            "ORDER BY status = %s DESC, id LIMIT %s)",
            [S.IN_REVIEW, S.SUBMITTED, S.CORRECTIONS, S.DRAFT, S.IN_REVIEW, S.SUBMITTED, wanted - have],
        )
        return int(cursor.rowcount)


def _confirm_eligibility() -> int:
    """Record every eligibility condition as met on the scored dossiers in review that lack an
    answer, as an instructor does before the committee: the bulk data answers them only for the
    dossiers it decides, so that without this step no dossier in review is a candidate."""
    from accounts.models import User
    from applications.models import Application, EligibilityAnswer, EligibilityCheck

    admin = User.objects.get(email="pilotage@services.example")
    checks: dict[int, list[int]] = {}
    for check_id, call_id in EligibilityCheck.objects.values_list("pk", "call_id"):
        checks.setdefault(call_id, []).append(check_id)
    answered = set(EligibilityAnswer.objects.values_list("application_id", "condition_id"))
    rows = [
        EligibilityAnswer(application_id=pk, condition_id=check, satisfied=True, answered_by=admin)
        for pk, call_id in Application.objects.filter(
            status=Application.Status.IN_REVIEW, score__isnull=False
        ).values_list("pk", "call_id")
        for check in checks.get(call_id, [])
        if (pk, check) not in answered
    ]
    EligibilityAnswer.objects.bulk_create(rows, batch_size=5_000)
    return len(rows)


def _pool() -> tuple[Any, list[Any]]:
    """The programme's open call and every candidate of the bulk data's calls."""
    from allocation.selectors import candidate_rows
    from applications.models import Call
    from devtools.bulk import CURRENT_CALL_SLUG

    call = Call.objects.get(slug=CURRENT_CALL_SLUG)
    rows: list[Any] = []
    for other in Call.objects.order_by("pk"):
        rows += candidate_rows(other)
    return call, rows


def _sample(rows: list[Any], size: int, rng: random.Random) -> list[Any]:
    if len(rows) >= size:
        return rng.sample(rows, size)
    drawn = list(rows)
    next_id = max((row.id for row in rows), default=0) + 1
    while len(drawn) < size:
        drawn.append(replace(rng.choice(rows), id=next_id))
        next_id += 1
    return drawn


def run(ctx: Context) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from allocation import solver
    from allocation.selectors import candidate_rows, problem_for_call

    result = ctx.result()
    load_before = os.getloadavg()
    ctx.ensure_bulk(QUICK_BULK if ctx.quick else BULK)
    taken = _put_in_review(max(QUICK_SIZES if ctx.quick else SIZES))
    confirmed = _confirm_eligibility()
    call, pool = _pool()
    result.check("the bulk data holds candidates", bool(pool), f"{len(pool)} candidates")
    departements = len({row.departement for row in pool})

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        own = candidate_rows(call)
        problem_for_call(call, rows=own)
    builder_seconds = time.perf_counter() - started

    rng = random.Random(15)  # noqa: S311 - a reproducible draw, no secret
    rows_out = []
    figures: dict[str, Any] = {}
    for size in QUICK_SIZES if ctx.quick else SIZES:
        rows = _sample(pool, size, rng)
        problem = problem_for_call(call, rows=rows, time_limit=60.0)
        runs = 1 if size >= 20_000 else 3
        times: list[float] = []
        solution = None
        for _ in range(runs):
            solution = solver.solve(problem)
            times.append(solution.seconds)
        assert solution is not None
        greedy = solver.greedy(problem)
        by_id = {candidate.id: candidate for candidate in problem.candidates}
        result.check(
            f"{size} candidates: within the envelope and the target",
            solution.total <= problem.envelope and len(solution.selected) <= problem.target,
            f"{solution.total} ≤ {problem.envelope}, {len(solution.selected)} ≤ {problem.target}",
        )
        result.check(
            f"{size} candidates: only candidates, at the amounts asked within the bounds",
            all(
                pk in by_id and amount == solver.upper_amount(problem, by_id[pk])
                for pk, amount in solution.selected.items()
            ),
        )
        result.check(
            f"{size} candidates: at least the greedy's coverage",
            solution.departements_covered >= greedy.departements_covered,
            f"{solution.departements_covered} ≥ {greedy.departements_covered}",
        )
        seconds = median(times)
        levels = ", ".join(f"{level.objective.value} {level.seconds:.2f} s" for level in solution.levels)
        rows_out.append(
            [
                f"{size:,}".replace(",", "\u202f"),
                len({c.departement for c in problem.candidates}),
                f"{seconds:.2f} s",
                "proven" if solution.optimal else f"gap {solution.gap:.4%}",
                levels,
                f"{solution.departements_covered} / {greedy.departements_covered}",
                f"{solution.priority_zone_dossiers} / {greedy.priority_zone_dossiers}",
                f"{solution.score_sum} / {greedy.score_sum}",
                f"{len(solution.selected)} / {len(greedy.selected)}",
                f"{solution.total:,.0f} € / {greedy.total:,.0f} €".replace(",", "\u202f"),
            ]
        )
        figures[str(size)] = {
            "seconds": times,
            "optimal": solution.optimal,
            "gap": solution.gap,
            "covered": solution.departements_covered,
            "greedy_covered": greedy.departements_covered,
            "priority": solution.priority_zone_dossiers,
            "greedy_priority": greedy.priority_zone_dossiers,
        }
        if size == (QUICK_SIZES[1] if ctx.quick else LIMIT_SIZE):
            result.ratio(f"solve time at {size} candidates", seconds, LIMIT_SECONDS, unit=" s")
            result.ratio(
                f"départements covered beyond the greedy at {size} candidates",
                solution.departements_covered - greedy.departements_covered,
                None,
                unit="",
            )
    result.table(
        "Solver against the greedy ranking (solver / greedy)",
        [
            "Candidates",
            "Their départements",
            "Solve (median)",
            "Optimality",
            "Levels",
            "Départements covered",
            "Priority zone",
            "Score sum",
            "Dossiers",
            "Total",
        ],
        rows_out,
    )
    load_after = os.getloadavg()
    result.figures.update(
        {
            "sizes": figures,
            "pool": len(pool),
            "eligibility_confirmed": confirmed,
            "taken_into_review": taken,
            "pool_departements": departements,
            "builder_seconds": builder_seconds,
            "builder_queries": len(queries),
            "load": [load_before, load_after],
        }
    )
    left = max(call.target_count - call.laureate_count, 0)
    remaining = f"{call.remaining_amount:,.0f}".replace(",", "\u202f")
    largest = max(QUICK_SIZES if ctx.quick else SIZES)
    drawn = (
        "each size is a sample of distinct real dossiers"
        if len(pool) >= largest
        else f"the sizes above {len(pool)} are drawn from it with replacement"
    )
    result.note(
        f"Pool: {len(pool)} real candidates over {departements} départements in the bulk data "
        f"({taken} dossiers not yet decided taken into review with a score, the eligibility of the scored "
        f"dossiers in review confirmed: {confirmed} answers); {drawn}. Envelope, target and funded "
        f"départements: the open call {call.slug} ({remaining} € and {left} laureates left)."
    )
    result.note(
        f"Input builder on the open call ({len(own)} candidates): {builder_seconds * 1000:.0f} ms, "
        f"{len(queries)} queries."
    )
    result.note(
        "Load average (1, 5, 15 min) before and after: "
        + " → ".join(", ".join(f"{value:.1f}" for value in load) for load in (load_before, load_after))
        + "; the machine was shared, so times are upper bounds."
    )
    return result.as_dict()
