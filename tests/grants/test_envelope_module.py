"""The envelope module: the one writer of a call's counters, its recount, the check and its alert."""

import ast
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from applications.models import Call
from core.formatting import format_money
from grants.models import Grant, Tranche
from grants.services.envelope import (
    envelope_commit,
    envelope_drift_lines,
    envelope_move,
    envelope_recount,
    envelope_release,
    lock_dossier_and_envelope,
)
from grants.services.payments import tranche_cancel
from grants.services.snapshots import drift_alert_key
from grants.tasks.envelope import envelope_check_task
from notifications.models import OutgoingEmail
from tests.factories import CallFactory, programme_admin
from tests.grants.test_agreements import laureate
from tests.grants.test_payments import force

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
ENVELOPE = Path("grants/services/envelope.py")
# What is paid is recounted from the tranches; a paid-amount counter, were one added, is watched too.
COUNTERS = {"committed_amount", "laureate_count", "paid_amount"}
# Volume tooling (bulk seeding by COPY and one grouped UPDATE), installed only outside production.
SKIPPED_DIRS = {".venv", "migrations", "tests", "devtools", "node_modules", ".git"}
# The admin copies the counters a service saved onto the object it shows next: no write.
EXCEPTIONS = {
    (Path("applications/admin.py"), "obj.committed_amount"),
    (Path("applications/admin.py"), "obj.laureate_count"),
}


# --- nothing else writes the counters -------------------------------------------------------------


def counter_writes(source: str) -> list[tuple[int, str]]:
    """Lines assigning a counter (`x.committed_amount = …`, `+=`, setattr) or updating it by
    keyword (`.update(committed_amount=F(…))`, `Call(laureate_count=…)`, `bulk_update(…, [...])`)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                elements = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
                for element in elements:
                    if isinstance(element, ast.Attribute) and element.attr in COUNTERS:
                        found.append((node.lineno, ast.unparse(element)))
        elif isinstance(node, ast.Call):
            if any(keyword.arg in COUNTERS for keyword in node.keywords):
                found.append((node.lineno, ast.unparse(node.func)))
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            constants = {sub.value for sub in ast.walk(node) if isinstance(sub, ast.Constant)}
            if name in {"setattr", "bulk_update"} and constants & COUNTERS:
                found.append((node.lineno, name))
    return sorted(set(found))


def test_the_scan_sees_every_way_of_writing_a_counter():
    source = """
call.committed_amount += amount
call.laureate_count = 3
Call.objects.filter(pk=1).update(committed_amount=F("committed_amount") + 10)
Call.objects.filter(pk=1).update(laureate_count=F("laureate_count") - 1)
setattr(call, "committed_amount", 0)
Call.objects.bulk_update(calls, ["laureate_count"])
obj.committed_amount, obj.laureate_count = 1, 2
grant.paid_amount = total
Call.objects.create(slug="x", committed_amount=5)
"""
    assert [line for line, _text in counter_writes(source)] == [2, 3, 4, 5, 6, 7, 8, 8, 9, 10]
    harmless = """
remaining = call.envelope - call.committed_amount
if call.laureate_count > 3:
    pass
Call.objects.filter(committed_amount__gte=0)
call.save(update_fields=["status"])
"""
    assert counter_writes(harmless) == []


def test_no_module_but_the_envelope_writes_a_counter():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIPPED_DIRS & set(relative.parts[:-1]) or relative == ENVELOPE:
            continue
        for line, text in counter_writes(path.read_text(encoding="utf-8")):
            if (relative, text) not in EXCEPTIONS:
                offenders.append(f"{relative}:{line} {text}")
    assert offenders == []


def private_imports(source: str) -> list[str]:
    """`from project.module import _name`: another module's private name."""
    tree = ast.parse(source)
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        for alias in node.names
        if alias.name.startswith("_")
        and not alias.name.startswith("__")
        and node.module.split(".")[0] in FIRST_PARTY
    ]


FIRST_PARTY = {
    "config",
    "core",
    "accounts",
    "fabriques",
    "applications",
    "grants",
    "allocation",
    "notifications",
    "api",
    "retention",
}


def test_the_scan_sees_a_private_import():
    assert private_imports("from grants.services.decisions import _lock, add_years\n") == [
        "grants.services.decisions._lock"
    ]
    assert private_imports("from openpyxl.worksheet._write_only import WriteOnlyWorksheet\n") == []


def test_no_app_module_imports_another_modules_private_name():
    offenders = []
    for package in sorted(FIRST_PARTY):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            offenders += [f"{relative}: {name}" for name in private_imports(path.read_text(encoding="utf-8"))]
    assert offenders == []


# --- the API ----------------------------------------------------------------------------------------


def test_commit_refuses_beyond_the_envelope_and_writes_nothing():
    case = laureate()
    committed, laureates = case.call.committed_amount, case.call.laureate_count
    too_much = case.call.remaining_amount + Decimal("0.01")
    with transaction.atomic():
        application, call = lock_dossier_and_envelope(case.application)
        with pytest.raises(ValidationError) as raised:
            envelope_commit(call=call, application=application, amount=too_much)
    assert "L'enveloppe de l'appel n'a plus que" in str(raised.value.message_dict["amount"])
    case.call.refresh_from_db()
    assert (case.call.committed_amount, case.call.laureate_count) == (committed, laureates)


def test_commit_release_and_move_change_the_counters():
    case = laureate()
    committed, laureates = case.call.committed_amount, case.call.laureate_count
    with transaction.atomic():
        application, call = lock_dossier_and_envelope(case.application)
        envelope_commit(call=call, application=application, amount=Decimal("1000"), laureates=1)
        envelope_release(call=call, application=application, amount=Decimal("400"), laureates=1)
        envelope_move(call=call, application=application, difference=Decimal("-100"))
        envelope_move(call=call, application=application, difference=Decimal("50"))
    case.call.refresh_from_db()
    assert case.call.committed_amount == committed + Decimal("550")
    assert case.call.laureate_count == laureates
    with pytest.raises(ValueError):
        envelope_release(call=case.call, application=case.application, amount=Decimal("-1"))


# --- the recount, the command and the alert ---------------------------------------------------------


def test_a_sound_envelope_passes_the_check():
    case = laureate()
    admin = programme_admin()
    first = case.grant.tranches.order_by("year_index").first()
    assert first is not None
    tranche_cancel(tranche=first, reason="Projet réduit", actor=admin)
    count = envelope_recount(case.call)
    assert count.committed == case.grant.amount + case.grant.bonus - first.amount
    assert count.laureates == 1
    assert envelope_drift_lines(count) == []
    out = StringIO()
    call_command("envelope_check", "--call", case.call.slug, stdout=out)
    assert "sans écart" in out.getvalue()
    assert envelope_check_task() == {"checked": Call.objects.count(), "alerts": 0}
    assert not OutgoingEmail.objects.filter(key__startswith="envelope-drift:").exists()


def _drift(call: Call) -> None:
    # A write around the envelope module, as a faulty script would do it.
    Call.objects.filter(pk=call.pk).update(committed_amount=call.committed_amount + Decimal("1000"))


def test_a_drift_fails_the_check_and_alerts_the_admins():
    case = laureate()
    admin = programme_admin(email="admin@anct.gouv.fr")
    sound = CallFactory()
    _drift(case.call)
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("envelope_check", stdout=out, stderr=err)
    assert exited.value.code == 1
    text = out.getvalue()
    assert f"Écart sur l'appel « {case.call.slug} »" in text
    committed = case.grant.amount + case.grant.bonus
    assert "Engagé : le compteur indique" in text
    assert f"les tranches en cours totalisent {format_money(committed)}" in text
    assert f"Appel « {sound.slug} » sans écart : engagé" in text
    assert "Appels en écart : 1." in err.getvalue()
    # The other call alone is sound.
    call_command("envelope_check", "--call", sound.slug, stdout=StringIO())

    assert envelope_check_task()["alerts"] == 1
    assert envelope_check_task()["alerts"] == 1  # the same day: the same row
    email = OutgoingEmail.objects.get(key=drift_alert_key(case.call, timezone.localdate()))
    assert admin.email in email.to
    assert case.call.title in email.subject
    assert "Engagé : le compteur indique" in email.body
    assert f"envelope_check --call {case.call.slug}" in email.body
    assert OutgoingEmail.objects.filter(key__startswith="envelope-drift:").count() == 1


def test_the_laureates_and_paid_drifts_are_named():
    case = laureate()
    Call.objects.filter(pk=case.call.pk).update(laureate_count=5)
    Grant.objects.filter(pk=case.grant.pk).update(status=Grant.Status.CANCELLED)
    first = case.grant.tranches.order_by("year_index").first()
    assert first is not None
    force(first, Tranche.Status.PAID)
    lines = envelope_drift_lines(envelope_recount(case.call))
    assert any(
        line == "Lauréats : le compteur indique 5, le nombre de subventions en cours est 0." for line in lines
    )
    assert any("versés sur des subventions annulées" in line for line in lines)


def test_an_unknown_call_is_refused_in_french():
    with pytest.raises(CommandError, match="Aucun appel n'a l'identifiant « inconnu »"):
        call_command("envelope_check", "--call", "inconnu")
