"""The one funnel of every state machine (core.workflow): lock, check, log, save, audit, cascade,
and nothing written when a move is refused. Its machines are tested with their verbs in
tests/applications, tests/grants/test_workflow.py and tests/grants/test_export_jobs.py; here a
machine of the test's own, on the export jobs' table, shows the mechanics and their order."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy

from applications import workflow as dossiers
from applications.models import Application
from core.workflow import Machine, Move
from grants import export_jobs
from grants import workflow as money
from grants.models import Agreement, ExportJob, ExportJobChange, Grant, Report, Tranche
from tests.factories import CallFactory, programme_admin

pytestmark = pytest.mark.django_db

S = ExportJob.Status
TABLE = {
    S.QUEUED: frozenset({S.RUNNING}),
    S.RUNNING: frozenset({S.DONE, S.FAILED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset(),
}


class Recorder:
    """What the hooks saw, in the order they ran."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def lock_first(self, job: ExportJob) -> None:
        self.calls.append(("lock_first", job.pk))

    def audit(self, **kwargs: Any) -> None:
        self.calls.append(("audit", kwargs))

    def cascade(self, move: Move[ExportJob, ExportJobChange]) -> None:
        self.calls.append(("cascade", move))

    def explain(self, job: ExportJob, to_status: str) -> None:
        self.calls.append(("explain", (job.status, to_status)))
        if to_status == S.DONE:
            raise ValidationError("Cet export n'est pas encore lancé.", code="not_started")


def machine(recorder: Recorder, **options: Any) -> Machine[ExportJob, ExportJobChange]:
    values: dict[str, Any] = {
        "refusal_context": lambda job: {"number": job.attempts},
        "lock_first": recorder.lock_first,
        "auditor": recorder.audit,
        "cascade": {S.RUNNING: recorder.cascade},
    }
    refusal = gettext_lazy("L'export %(number)s « %(from)s » ne peut pas passer à l'état « %(to)s ».")
    return Machine(ExportJob, TABLE, ExportJobChange, refusal, **(values | options))


def new_job() -> ExportJob:
    return ExportJob.objects.create(call=CallFactory(), requested_by=programme_admin(), attempts=3)


def test_a_move_locks_checks_logs_saves_audits_then_cascades_and_the_callers_copy_follows():
    recorder = Recorder()
    job = new_job()
    admin = programme_admin()
    with transaction.atomic():
        change = machine(recorder).move(
            row=job,
            to_status=S.RUNNING,
            actor=admin,
            note="Lancé à la main.",
            action="export.start",
            data={"by": "export.sweep"},
            attempts=4,
        )
    stored = ExportJob.objects.get(pk=job.pk)
    assert (stored.status, stored.attempts) == (S.RUNNING, 4)
    assert (job.status, job.attempts) == (S.RUNNING, 4)
    assert (change.job, change.from_status, change.to_status, change.actor, change.note) == (
        stored,
        S.QUEUED,
        S.RUNNING,
        admin,
        "Lancé à la main.",
    )
    assert list(ExportJobChange.objects.values_list("pk", flat=True)) == [change.pk]
    assert [name for name, _value in recorder.calls] == ["lock_first", "audit", "cascade"]
    audit = recorder.calls[1][1]
    assert audit == {
        "actor": admin,
        "action": "export.start",
        "target": job,
        "data": {"by": "export.sweep", "from": S.QUEUED, "to": S.RUNNING},
    }
    move = recorder.calls[2][1]
    # The cascade gets the locked row as saved, its log row, and what started the move.
    assert move.row is not job and move.row.pk == job.pk and move.row.status == S.RUNNING
    assert (move.change, move.actor, move.action, move.note, move.by) == (
        change,
        admin,
        "export.start",
        "Lancé à la main.",
        "export.sweep",
    )


def test_a_cascade_moves_the_rows_that_follow_through_their_own_funnel_with_the_reason_and_origin():
    recorder = Recorder()
    first, second = new_job(), new_job()
    admin = programme_admin()

    def start_the_other(move: Move[ExportJob, ExportJobChange]) -> None:
        move.follow(follower, second, S.RUNNING, "export.follow", attempts=9)

    follower = machine(recorder)
    leader = machine(recorder, cascade={S.RUNNING: start_the_other})
    with transaction.atomic():
        leader.move(row=first, to_status=S.RUNNING, actor=admin, note="Lot du soir.", action="export.batch")
    second.refresh_from_db()
    assert (second.status, second.attempts) == (S.RUNNING, 9)
    change = ExportJobChange.objects.get(job=second)
    assert (change.from_status, change.to_status, change.actor, change.note) == (
        S.QUEUED,
        S.RUNNING,
        admin,
        "Lot du soir.",
    )
    audits = [value for name, value in recorder.calls if name == "audit"]
    assert [(audit["action"], audit["target"].pk, audit["data"]) for audit in audits] == [
        ("export.batch", first.pk, {"from": S.QUEUED, "to": S.RUNNING}),
        (
            "export.follow",
            second.pk,
            {"reason": "Lot du soir.", "by": "export.batch", "from": S.QUEUED, "to": S.RUNNING},
        ),
    ]
    # The follower's own cascade ran for the row it moved.
    assert [value.row.pk for name, value in recorder.calls if name == "cascade"] == [second.pk]


def test_a_machine_with_an_auditor_moves_nothing_without_an_audit_action():
    recorder = Recorder()
    job = new_job()
    with pytest.raises(TypeError, match="names its audit action"), transaction.atomic():
        machine(recorder).move(row=job, to_status=S.RUNNING, actor=None)
    assert ExportJob.objects.get(pk=job.pk).status == S.QUEUED
    assert not ExportJobChange.objects.exists()
    assert recorder.calls == []


def test_a_machine_without_an_auditor_writes_no_audit_row_and_a_state_without_cascade_runs_none():
    recorder = Recorder()
    job = new_job()
    ExportJob.objects.filter(pk=job.pk).update(status=S.RUNNING)
    with transaction.atomic():
        machine(recorder, auditor=None).move(row=job, to_status=S.FAILED, actor=None, error="boom")
    assert ExportJob.objects.get(pk=job.pk).status == S.FAILED
    assert [name for name, _value in recorder.calls] == ["lock_first"]


def test_a_refused_move_says_the_machines_sentence_on_the_locked_row_and_writes_nothing():
    recorder = Recorder()
    job = new_job()
    # The caller's copy is stale: the funnel reads the locked row.
    ExportJob.objects.filter(pk=job.pk).update(status=S.DONE, file_name="exports/x.xlsx")
    with pytest.raises(ValidationError) as refusal, transaction.atomic():
        machine(recorder).move(row=job, to_status=S.RUNNING, actor=None, action="export.start")
    assert refusal.value.messages == ["L'export 3 « prêt » ne peut pas passer à l'état « en cours »."]
    assert refusal.value.error_list[0].code == "invalid_transition"
    assert ExportJob.objects.get(pk=job.pk).status == S.DONE
    assert not ExportJobChange.objects.exists()
    assert [name for name, _value in recorder.calls] == ["lock_first"]


def test_the_machines_own_explanation_speaks_first_then_the_generic_sentence():
    recorder = Recorder()
    job = new_job()
    funnel = machine(recorder, explain=recorder.explain, refusal_code="state")
    with pytest.raises(ValidationError) as refusal:
        funnel.ensure_can_move(job, S.DONE)
    assert (refusal.value.messages, refusal.value.error_list[0].code) == (
        ["Cet export n'est pas encore lancé."],
        "not_started",
    )
    with pytest.raises(ValidationError) as refusal:
        funnel.ensure_can_move(job, S.FAILED)
    assert (refusal.value.messages, refusal.value.error_list[0].code) == (
        ["L'export 3 « en attente » ne peut pas passer à l'état « échoué »."],
        "state",
    )
    assert recorder.calls == [("explain", (S.QUEUED, S.DONE)), ("explain", (S.QUEUED, S.FAILED))]
    funnel.ensure_can_move(job, S.RUNNING)  # allowed: no explanation asked
    assert len(recorder.calls) == 2


def test_a_move_the_model_refuses_is_undone_whole():
    recorder = Recorder()
    job = new_job()
    with pytest.raises(ValidationError) as refusal, transaction.atomic():
        machine(recorder).move(
            row=job, to_status=S.RUNNING, actor=None, action="export.start", file_name="x" * 300
        )
    assert "file_name" in refusal.value.message_dict
    assert ExportJob.objects.get(pk=job.pk).status == S.QUEUED
    assert not ExportJobChange.objects.exists()


def test_a_move_runs_only_inside_a_transaction():
    recorder = Recorder()
    job = new_job()
    connection = transaction.get_connection()
    connection.in_atomic_block = False
    try:
        with pytest.raises(RuntimeError, match="must run inside a transaction"):
            machine(recorder).move(row=job, to_status=S.RUNNING, actor=None, action="export.start")
    finally:
        connection.in_atomic_block = True
    assert recorder.calls == []
    assert ExportJob.objects.get(pk=job.pk).status == S.QUEUED


@pytest.mark.parametrize(
    ("funnel", "table", "states"),
    [
        (dossiers.MACHINE, dossiers.TRANSITIONS, Application.Status),
        (money.GRANT, money.GRANT_TRANSITIONS, Grant.Status),
        (money.AGREEMENT, money.AGREEMENT_TRANSITIONS, Agreement.Status),
        (money.TRANCHE, money.TRANCHE_TRANSITIONS, Tranche.Status),
        (money.REPORT, money.REPORT_TRANSITIONS, Report.Status),
        (export_jobs.MACHINE, export_jobs.TRANSITIONS, ExportJob.Status),
    ],
)
def test_every_machine_of_the_portal_runs_on_the_one_funnel_with_a_complete_table(funnel, table, states):
    assert isinstance(funnel, Machine)
    assert funnel.transitions is table
    # Every state is a key of its table, a final one with no way out: none is forgotten.
    assert set(table) == set(states)
    assert all(targets <= set(states) for targets in table.values())
