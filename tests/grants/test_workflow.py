"""The grants' machines (grants.workflow: grants, agreements, tranches, yearly reports): every move
of the tables, every verb in every state, the cascades through the funnels, and no status written
around them."""

import ast
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from core.workflow import Machine
from grants.models import (
    Agreement,
    AgreementStatusChange,
    Grant,
    GrantStatusChange,
    Report,
    ReportStatusChange,
    Tranche,
    TrancheStatusChange,
)
from grants.services.agreements import (
    agreement_accept,
    agreement_activate,
    agreement_complete,
    agreement_terminate,
    agreement_upload_signed_copy,
)
from grants.services.payments import tranche_request
from grants.services.reopening import application_reopen
from grants.services.reports import report_review
from grants.workflow import (
    AGREEMENT_TRANSITIONS,
    GRANT_TRANSITIONS,
    REPORT,
    REPORT_TRANSITIONS,
    TRANCHE_TRANSITIONS,
    agreement_transition,
    grant_transition,
    report_transition,
    tranche_transition,
)
from notifications.models import OutgoingEmail
from tests.factories import PDF_BYTES, UserFactory, pdf_variant, programme_admin
from tests.grants.test_agreements import Laureate, laureate
from tests.grants.test_payments import IBAN, Setup, force, move
from tests.grants.test_reports import upload

pytestmark = pytest.mark.django_db

G = Grant.Status
A = Agreement.Status
T = Tranche.Status
R = Report.Status
GRANT_PAIRS = [(old, new) for old in G for new in G]
AGREEMENT_PAIRS = [(old, new) for old in A for new in A]
TRANCHE_PAIRS = [(old, new) for old in T for new in T]
REPORT_PAIRS = [(old, new) for old in R for new in R]


def force_grant(grant: Grant, status: str) -> Grant:
    """Put a grant in a state directly."""
    Grant.objects.filter(pk=grant.pk).update(status=status)
    grant.refresh_from_db()
    return grant


def force_agreement(agreement: Agreement, status: str) -> Agreement:
    """Put an agreement in a state directly, with the fields its CHECK constraints ask for."""
    fields: dict[str, object] = {"status": status}
    if status != A.AWAITING_SIGNATURE:
        fields["signed_at"] = timezone.now()
    if status in (A.ACTIVE, A.COMPLETED, A.TERMINATED):
        fields.update(commitment_number="2100123456", starts_on=timezone.localdate())
    Agreement.objects.filter(pk=agreement.pk).update(**fields)
    agreement.refresh_from_db()
    return agreement


def force_report(report: Report, status: str) -> Report:
    """Put a report in a state directly, as examined by nobody."""
    Report.objects.filter(pk=report.pk).update(status=status)
    report.refresh_from_db()
    return report


def audits(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


# --- the funnels: every (from, to) pair of each table ---------------------------------------------


@pytest.mark.parametrize(("from_status", "to_status"), GRANT_PAIRS)
def test_the_grant_funnel_moves_logs_and_audits_only_what_its_table_allows(from_status, to_status):
    case = laureate()
    admin = programme_admin()
    grant = force_grant(case.grant, from_status)
    stale = Grant.objects.get(pk=grant.pk)
    if to_status in GRANT_TRANSITIONS[from_status]:
        with transaction.atomic():
            change = grant_transition(
                grant=stale, to_status=to_status, actor=admin, action="grant.test", note="Pour voir."
            )
        grant.refresh_from_db()
        assert grant.status == to_status
        # The caller's copy follows the row it moved.
        assert stale.status == to_status
        assert (change.grant, change.from_status, change.to_status, change.actor, change.note) == (
            grant,
            from_status,
            to_status,
            admin,
            "Pour voir.",
        )
        assert list(grant.status_changes.values_list("to_status", flat=True)) == [to_status]
        event = AuditEvent.objects.get(action="grant.test", target_id=str(grant.pk))
        assert event.target_type == "grants.grant"
        assert event.actor == admin and event.data == {"from": from_status, "to": to_status}
    else:
        with pytest.raises(ValidationError) as refusal, transaction.atomic():
            grant_transition(grant=stale, to_status=to_status, actor=admin, action="grant.test")
        assert refusal.value.messages == [
            f"La subvention du dossier {case.application.reference} est « {G(from_status).label} » : "
            f"elle ne peut pas passer à l'état « {G(to_status).label} »."
        ]
        assert refusal.value.error_list[0].code == "state"
        grant.refresh_from_db()
        assert grant.status == from_status
        assert not GrantStatusChange.objects.exists()
        assert audits("grant.test") == 0


@pytest.mark.parametrize(("from_status", "to_status"), AGREEMENT_PAIRS)
def test_the_agreement_funnel_moves_logs_and_audits_only_what_its_table_allows(from_status, to_status):
    case = laureate()
    admin = programme_admin()
    agreement = force_agreement(case.agreement, from_status)
    fields = {"signed_at": timezone.now()} if from_status == A.AWAITING_SIGNATURE else {}
    if to_status in AGREEMENT_TRANSITIONS[from_status]:
        with transaction.atomic():
            change = agreement_transition(
                agreement=agreement,
                to_status=to_status,
                actor=admin,
                action="agreement.test",
                note="Pour voir.",
                **fields,
            )
        agreement.refresh_from_db()
        assert agreement.status == to_status
        assert (change.from_status, change.to_status, change.actor, change.note) == (
            from_status,
            to_status,
            admin,
            "Pour voir.",
        )
        assert list(agreement.status_changes.values_list("to_status", flat=True)) == [to_status]
        event = AuditEvent.objects.get(action="agreement.test", target_id=str(agreement.pk))
        assert event.actor == admin and event.data == {"from": from_status, "to": to_status}
    else:
        with pytest.raises(ValidationError) as refusal, transaction.atomic():
            agreement_transition(
                agreement=agreement, to_status=to_status, actor=admin, action="agreement.test", **fields
            )
        assert refusal.value.messages == [
            f"La convention {agreement.number} est « {A(from_status).label} » : elle ne peut pas passer "
            f"à l'état « {A(to_status).label} »."
        ]
        agreement.refresh_from_db()
        assert agreement.status == from_status
        assert not AgreementStatusChange.objects.exists()
        assert audits("agreement.test") == 0


@pytest.mark.parametrize(("from_status", "to_status"), TRANCHE_PAIRS)
def test_the_tranche_funnel_moves_logs_and_audits_only_what_its_table_allows(from_status, to_status):
    case = laureate()
    admin = programme_admin()
    tranche = force(case.grant.tranches.get(year_index=1), from_status)
    fields: dict[str, object] = {}
    if to_status == T.REQUESTED:
        fields["requested_at"] = timezone.now()
    if to_status == T.PAID:
        fields.update(paid_on=timezone.localdate(), payment_reference="VIR-2026-0042")
    if to_status in TRANCHE_TRANSITIONS[from_status]:
        with transaction.atomic():
            tranche_transition(
                tranche=tranche, to_status=to_status, actor=admin, action="tranche.test", **fields
            )
        tranche.refresh_from_db()
        assert tranche.status == to_status
        change = TrancheStatusChange.objects.get(tranche=tranche)
        assert (change.from_status, change.to_status, change.actor) == (from_status, to_status, admin)
        event = AuditEvent.objects.get(action="tranche.test", target_id=str(tranche.pk))
        assert event.data == {"from": from_status, "to": to_status}
    else:
        with pytest.raises(ValidationError) as refusal, transaction.atomic():
            tranche_transition(
                tranche=tranche, to_status=to_status, actor=admin, action="tranche.test", **fields
            )
        # The refusal is a French sentence naming the tranche's year.
        assert (
            "La tranche de l'année 1" in refusal.value.messages[0]
            or "Seule une tranche" in (refusal.value.messages[0])
        )
        tranche.refresh_from_db()
        assert tranche.status == from_status
        assert not TrancheStatusChange.objects.exists()
        assert audits("tranche.test") == 0


def test_a_funnel_runs_only_inside_a_transaction():
    case = laureate()
    # The test's own transaction set aside, as a caller in autocommit would run.
    connection = transaction.get_connection()
    connection.in_atomic_block = False
    try:
        with pytest.raises(RuntimeError):
            agreement_transition(
                agreement=case.agreement, to_status=A.SIGNED, actor=None, action="agreement.test"
            )
    finally:
        connection.in_atomic_block = True
    assert not AgreementStatusChange.objects.exists()


# --- the grant's public verbs in every state ------------------------------------------------------

# verb: (the state it moves the grant to, the states it moves it from). The award creates the grant
# « en cours »; the other verbs on money only read its state, and are refused once it is cancelled.
GRANT_VERBS: dict[str, tuple[str | None, set[str]]] = {
    "reopen": (G.CANCELLED, {G.ACTIVE}),
    "accept": (None, set()),
    "request": (None, set()),
}
# A reopening of a dossier whose grant is cancelled already reopens the dossier and leaves the grant.
GRANT_UNMOVED_BUT_ALLOWED = {("reopen", G.CANCELLED), ("accept", G.ACTIVE), ("request", G.ACTIVE)}
GRANT_REFUSALS = {
    "accept": "La subvention de cette convention a été annulée : la convention est sans objet.",
    "request": "Cette subvention est annulée : aucune tranche ne peut être demandée.",
}


def run_grant_verb(verb: str, case: Laureate, admin: User) -> None:
    if verb == "reopen":
        application_reopen(application=case.application, reason="Erreur matérielle.", actor=admin)
    elif verb == "accept":
        agreement_accept(agreement=case.agreement, actor=case.representative)
    else:
        force_agreement(case.agreement, A.ACTIVE)
        tranche_request(tranche=case.grant.tranches.get(year_index=1), iban=IBAN, actor=case.representative)


def test_the_verbs_cover_the_grant_table_exactly():
    moves = {(old, new) for new, olds in GRANT_VERBS.values() for old in olds}
    assert moves == {(old, new) for old, targets in GRANT_TRANSITIONS.items() for new in targets}


@pytest.mark.parametrize("state", list(G))
@pytest.mark.parametrize("verb", list(GRANT_VERBS))
def test_every_grant_verb_in_every_state_is_allowed_or_refused(verb, state):
    case = laureate()
    admin = programme_admin()
    force_grant(case.grant, state)
    target, sources = GRANT_VERBS[verb]
    if state in sources:
        run_grant_verb(verb, case, admin)
        case.grant.refresh_from_db()
        assert case.grant.status == target
        change = GrantStatusChange.objects.get(grant=case.grant)
        assert (change.from_status, change.to_status, change.actor) == (state, target, admin)
        event = AuditEvent.objects.get(target_type="grants.grant", target_id=str(case.grant.pk))
        assert event.data == {
            "reason": "Erreur matérielle.",
            "by": "decision.reopen",
            "from": state,
            "to": target,
        }
    elif (verb, state) in GRANT_UNMOVED_BUT_ALLOWED:
        run_grant_verb(verb, case, admin)
        case.grant.refresh_from_db()
        assert case.grant.status == state
        assert not GrantStatusChange.objects.exists()
    else:
        with pytest.raises(ValidationError) as refusal:
            run_grant_verb(verb, case, admin)
        assert refusal.value.messages == [GRANT_REFUSALS[verb]]
        case.grant.refresh_from_db()
        assert case.grant.status == state
        assert not GrantStatusChange.objects.exists()
        assert not AgreementStatusChange.objects.exists()
        assert not TrancheStatusChange.objects.exists()


# --- the agreement's public verbs in every state --------------------------------------------------


def run_verb(verb: str, case: Laureate, admin: User) -> None:
    agreement = case.agreement
    if verb == "accept":
        agreement_accept(agreement=agreement, actor=case.representative)
    elif verb == "upload":
        agreement_upload_signed_copy(
            agreement=agreement, file=io.BytesIO(PDF_BYTES), filename="signee.pdf", actor=case.representative
        )
    elif verb == "activate":
        agreement_activate(agreement=agreement, commitment_number="2100999999", actor=admin)
    elif verb == "complete":
        agreement_complete(agreement=agreement, actor=admin)
    elif verb == "terminate":
        agreement_terminate(
            agreement=agreement, reason="Projet arrêté.", clawback_amount=Decimal("0"), actor=admin
        )
    else:
        application_reopen(application=case.application, reason="Erreur matérielle.", actor=admin)


# verb: (the state it moves the agreement to, the states it moves it from)
AGREEMENT_VERBS = {
    "accept": (A.SIGNED, {A.AWAITING_SIGNATURE}),
    "upload": (A.SIGNED, {A.AWAITING_SIGNATURE}),
    "activate": (A.ACTIVE, {A.SIGNED}),
    "complete": (A.COMPLETED, {A.ACTIVE}),
    "terminate": (A.TERMINATED, {A.SIGNED, A.ACTIVE}),
    "reopen": (A.CANCELLED, {A.AWAITING_SIGNATURE, A.SIGNED, A.ACTIVE}),
}
# A verb that is not refused in a state it does not move from: a new signed copy of a signed
# agreement replaces the old one; a reopening leaves a finished agreement as it is.
UNMOVED_BUT_ALLOWED = {
    ("upload", A.SIGNED),
    ("reopen", A.COMPLETED),
    ("reopen", A.TERMINATED),
    ("reopen", A.CANCELLED),
}


def test_the_verbs_cover_the_agreement_table_exactly():
    moves = {(old, new) for new, olds in AGREEMENT_VERBS.values() for old in olds}
    assert moves == {(old, new) for old, targets in AGREEMENT_TRANSITIONS.items() for new in targets}


@pytest.mark.parametrize("state", list(A))
@pytest.mark.parametrize("verb", list(AGREEMENT_VERBS))
def test_every_agreement_verb_in_every_state_is_allowed_or_refused(verb, state):
    case = laureate()
    admin = programme_admin()
    force_agreement(case.agreement, state)
    if verb == "complete":
        # Completion's own rule (every tranche paid) holds: only the state decides.
        Tranche.objects.filter(grant=case.grant).update(
            status=T.PAID,
            requested_at=timezone.now(),
            paid_on=timezone.localdate(),
            payment_reference="VIR-1",
        )
    target, sources = AGREEMENT_VERBS[verb]
    if state in sources:
        run_verb(verb, case, admin)
        case.agreement.refresh_from_db()
        assert case.agreement.status == target
        change = AgreementStatusChange.objects.get(agreement=case.agreement)
        assert (change.from_status, change.to_status) == (state, target)
        assert change.actor in (admin, case.representative)
        assert (
            AuditEvent.objects.filter(
                target_type="grants.agreement", target_id=str(case.agreement.pk), data__to=target
            ).count()
            == 1
        )
    elif (verb, state) in UNMOVED_BUT_ALLOWED:
        run_verb(verb, case, admin)
        case.agreement.refresh_from_db()
        assert case.agreement.status == state
        assert not AgreementStatusChange.objects.exists()
    else:
        with pytest.raises(ValidationError) as refusal:
            run_verb(verb, case, admin)
        assert f"La convention {case.agreement.number} est « {A(state).label} »" in refusal.value.messages[0]
        case.agreement.refresh_from_db()
        assert case.agreement.status == state
        assert not AgreementStatusChange.objects.exists()
        assert not TrancheStatusChange.objects.exists()


# --- the tranche's public verbs in every state -----------------------------------------------------

TRANCHE_VERBS = {  # the verb (tests.grants.test_payments.move) by the state it moves a tranche to
    T.REQUESTED: "tranche.request",
    T.VALIDATED: "tranche.validate",
    T.PAID: "tranche.pay",
    T.CANCELLED: "tranche.cancel",
}


@pytest.mark.parametrize("state", list(T))
@pytest.mark.parametrize("target", list(TRANCHE_VERBS))
def test_every_tranche_verb_in_every_state_moves_logs_and_audits_or_writes_nothing(target, state):
    setup = Setup()
    tranche = force(setup.tranche(1), state)
    if target in TRANCHE_TRANSITIONS[state]:
        move(setup, tranche, target)
        assert setup.tranche(1).status == target
        change = TrancheStatusChange.objects.get(tranche=tranche)
        assert (change.from_status, change.to_status) == (state, target)
        assert change.actor in (setup.beneficiary, setup.reviewer, setup.admin)
        event = AuditEvent.objects.get(action=TRANCHE_VERBS[target], target_id=str(tranche.pk))
        assert event.data["from"] == state and event.data["to"] == target
    else:
        with pytest.raises(ValidationError):
            move(setup, tranche, target)
        assert setup.tranche(1).status == state
        assert not TrancheStatusChange.objects.exists()
        assert not AuditEvent.objects.filter(action=TRANCHE_VERBS[target]).exists()


# --- the yearly report's machine ------------------------------------------------------------------


@pytest.mark.parametrize(("from_status", "to_status"), REPORT_PAIRS)
def test_the_report_funnel_moves_logs_and_audits_only_what_its_table_allows(from_status, to_status):
    setup = Setup()
    report = force_report(upload(setup), from_status)
    stale = Report.objects.get(pk=report.pk)
    if to_status in REPORT_TRANSITIONS[from_status]:
        with transaction.atomic():
            change = report_transition(
                report=stale,
                to_status=to_status,
                actor=setup.reviewer,
                action="report.test",
                note="Pour voir.",
                review_note="Pour voir.",
            )
        report.refresh_from_db()
        assert (report.status, report.review_note) == (to_status, "Pour voir.")
        # The caller's copy follows the row it moved.
        assert (stale.status, stale.review_note) == (to_status, "Pour voir.")
        assert (change.report, change.from_status, change.to_status, change.actor, change.note) == (
            report,
            from_status,
            to_status,
            setup.reviewer,
            "Pour voir.",
        )
        assert list(report.status_changes.values_list("to_status", flat=True)) == [to_status]
        event = AuditEvent.objects.get(action="report.test", target_id=str(report.pk))
        assert event.target_type == "grants.report"
        assert event.actor == setup.reviewer and event.data == {"from": from_status, "to": to_status}
    else:
        with pytest.raises(ValidationError) as refusal, transaction.atomic():
            report_transition(report=stale, to_status=to_status, actor=setup.reviewer, action="report.test")
        if from_status == R.SUBMITTED:
            # Only « déposé » → « déposé »: no verb offers it, the funnel's last word refuses it.
            expected = (
                "Le rapport d'activité de l'année 1 est « Déposé » : "
                "il ne peut pas passer à l'état « Déposé »."
            )
        else:
            expected = f"Ce rapport a déjà été examiné (« {R(from_status).label} »)."
        assert refusal.value.messages == [expected]
        assert refusal.value.error_list[0].code == "state"
        report.refresh_from_db()
        assert report.status == from_status
        assert not ReportStatusChange.objects.exists()
        assert audits("report.test") == 0


def test_the_report_machine_runs_on_the_one_funnel_with_a_complete_table():
    assert isinstance(REPORT, Machine) and REPORT.model is Report
    assert REPORT.log_model is ReportStatusChange
    assert set(REPORT_TRANSITIONS) == set(R)
    assert all(targets <= set(R) for targets in REPORT_TRANSITIONS.values())


# verb: (the state it moves the report to, the states it moves it from). Filing creates a report
# « déposé »; it moves none: it replaces a report still « déposé » (the row goes, unmoved and so
# unlogged), files a new one beside a report sent back, and is refused once the report is accepted.
REPORT_VERBS: dict[str, tuple[str | None, set[str]]] = {
    "accept": (R.ACCEPTED, {R.SUBMITTED}),
    "reject": (R.REJECTED, {R.SUBMITTED}),
    "upload": (None, set()),
}
REPORT_UNMOVED_BUT_ALLOWED = {("upload", R.SUBMITTED), ("upload", R.REJECTED)}


def run_report_verb(verb: str, setup: Setup, report: Report) -> Report:
    if verb == "upload":
        return upload(setup, content=pdf_variant("v2"))
    note = "" if verb == "accept" else "Les charges de personnel manquent."
    return report_review(report=report, accept=verb == "accept", note=note, actor=setup.reviewer)


def test_the_verbs_cover_the_report_table_exactly():
    moves = {(old, new) for new, olds in REPORT_VERBS.values() for old in olds}
    assert moves == {(old, new) for old, targets in REPORT_TRANSITIONS.items() for new in targets}


@pytest.mark.parametrize("state", list(R))
@pytest.mark.parametrize("verb", list(REPORT_VERBS))
def test_every_report_verb_in_every_state_is_allowed_or_refused(verb, state):
    setup = Setup()
    report = force_report(upload(setup), state)
    target, sources = REPORT_VERBS[verb]
    if state in sources:
        run_report_verb(verb, setup, report)
        report.refresh_from_db()
        assert report.status == target and report.reviewed_by == setup.reviewer
        change = ReportStatusChange.objects.get(report=report)
        assert (change.from_status, change.to_status, change.actor, change.note) == (
            state,
            target,
            setup.reviewer,
            report.review_note,
        )
        reviews = AuditEvent.objects.filter(target_type="grants.report", target_id=str(report.pk))
        event = reviews.exclude(action="report.upload").get()
        assert event.action == f"report.{verb}" and event.actor == setup.reviewer
        assert event.data == {"note": report.review_note, "from": state, "to": target}
        assert OutgoingEmail.objects.filter(key=f"report:{report.pk}:review").count() == 1
    elif (verb, state) in REPORT_UNMOVED_BUT_ALLOWED:
        filed = run_report_verb(verb, setup, report)
        assert filed.status == R.SUBMITTED and filed.pk != report.pk
        live = Report.objects.filter(grant=setup.grant, year_index=1, kind="activity")
        if state == R.SUBMITTED:
            # Replaced: the row not examined yet goes, with no move to lose.
            assert list(live.values_list("pk", flat=True)) == [filed.pk]
        else:
            assert dict(live.values_list("pk", "status")) == {report.pk: R.REJECTED, filed.pk: R.SUBMITTED}
        assert not ReportStatusChange.objects.exists()
    else:
        with pytest.raises(ValidationError) as refusal:
            run_report_verb(verb, setup, report)
        if verb == "upload":
            expected = "Rapport d'activité de l'année 1 : déjà accepté, il ne peut plus être remplacé."
        else:
            expected = f"Ce rapport a déjà été examiné (« {R(state).label} »)."
        assert refusal.value.messages == [expected]
        report.refresh_from_db()
        assert report.status == state and report.reviewed_by is None
        assert list(Report.objects.values_list("pk", flat=True)) == [report.pk]
        assert not ReportStatusChange.objects.exists()
        assert not AuditEvent.objects.filter(action__in=["report.accept", "report.reject"]).exists()
        assert not OutgoingEmail.objects.filter(key__startswith="report:").exists()


def test_a_report_sent_back_without_a_note_is_refused_before_the_funnel_writes_anything():
    setup = Setup()
    report = upload(setup)
    with pytest.raises(ValidationError) as refusal:
        report_review(report=report, accept=False, note="  ", actor=setup.reviewer)
    assert refusal.value.message_dict == {
        "note": ["Indiquez ce qui doit être repris : un rapport à reprendre est motivé."]
    }
    report.refresh_from_db()
    assert report.status == R.SUBMITTED
    assert not ReportStatusChange.objects.exists()


# --- the cascades go through the funnels ----------------------------------------------------------


def test_a_termination_cancels_the_unpaid_tranches_through_their_funnel():
    case = laureate()
    admin = programme_admin()
    force_agreement(case.agreement, A.ACTIVE)
    force(case.grant.tranches.get(year_index=1), T.PAID)
    agreement_terminate(
        agreement=case.agreement, reason="Projet arrêté.", clawback_amount=Decimal("0"), actor=admin
    )
    unpaid = case.grant.tranches.exclude(year_index=1)
    assert set(unpaid.values_list("status", flat=True)) == {T.CANCELLED}
    changes = TrancheStatusChange.objects.order_by("tranche__year_index")
    assert [(c.tranche.year_index, c.from_status, c.to_status, c.note) for c in changes] == [
        (tranche.year_index, T.SCHEDULED, T.CANCELLED, "Projet arrêté.") for tranche in unpaid
    ]
    assert audits("tranche.cancel") == unpaid.count()
    change = AgreementStatusChange.objects.get(agreement=case.agreement)
    assert (change.from_status, change.to_status, change.actor) == (A.ACTIVE, A.TERMINATED, admin)


def test_a_reopening_cancels_the_tranches_and_the_agreement_through_their_funnels():
    case = laureate()
    admin = programme_admin()
    first = force(case.grant.tranches.get(year_index=1), T.CANCELLED)
    application_reopen(application=case.application, reason="Erreur matérielle.", actor=admin)
    assert set(case.grant.tranches.values_list("status", flat=True)) == {T.CANCELLED}
    moved = TrancheStatusChange.objects.values_list("tranche_id", "from_status", "to_status")
    # The tranche cancelled earlier is not moved (nor logged) again.
    assert sorted(moved) == sorted(
        (tranche.pk, T.SCHEDULED, T.CANCELLED) for tranche in case.grant.tranches.exclude(pk=first.pk)
    )
    change = AgreementStatusChange.objects.get(agreement=case.agreement)
    assert (change.from_status, change.to_status, change.note) == (
        A.AWAITING_SIGNATURE,
        A.CANCELLED,
        "Erreur matérielle.",
    )
    assert AuditEvent.objects.filter(action="agreement.cancel", data__by="decision.reopen").count() == 1
    # The grant's own move, which started the cascade, is logged and audited too.
    grant_change = GrantStatusChange.objects.get(grant=case.grant)
    assert (grant_change.from_status, grant_change.to_status, grant_change.actor, grant_change.note) == (
        G.ACTIVE,
        G.CANCELLED,
        admin,
        "Erreur matérielle.",
    )
    assert AuditEvent.objects.filter(action="grant.cancel", data__by="decision.reopen").count() == 1


def test_the_last_payment_completes_the_agreement_through_its_funnel():
    from grants.services.payments import tranche_pay

    case = laureate()
    admin = programme_admin()
    force_agreement(case.agreement, A.ACTIVE)
    *earlier, last = case.grant.tranches.order_by("year_index")
    for tranche in earlier:
        force(tranche, T.PAID)
    force(last, T.VALIDATED)
    tranche_pay(tranche=last, paid_on=timezone.localdate(), payment_reference="VIR-2026-0099", actor=admin)
    change = AgreementStatusChange.objects.get(agreement=case.agreement)
    assert (change.from_status, change.to_status, change.actor) == (A.ACTIVE, A.COMPLETED, admin)
    assert TrancheStatusChange.objects.get(tranche=last).to_status == T.PAID
    assert AuditEvent.objects.filter(action="agreement.complete", data__last_tranche=True).count() == 1


# --- nothing writes these statuses around the funnels ---------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# The one funnel every machine shares (core.workflow): grants/workflow.py describes the machines and
# writes no status itself, so it is scanned like any other module.
FUNNEL = Path("core/workflow.py")
# Volume tooling that writes thousands of rows by COPY, never one move at a time: it builds its
# rows in dicts (`row.update(status=...)`), which no funnel could take; it lives in the devtools
# app, which production does not install.
EXCEPTIONS = {Path("devtools/bulk.py")}
SKIPPED_DIRS = {".venv", "migrations", "tests", "node_modules", ".git"}
MONEY_STATUSES = {"Grant", "Agreement", "Tranche", "Report"}


def _aliases(tree: ast.Module) -> set[str]:
    """Names bound to Grant.Status, Agreement.Status, Tranche.Status or Report.Status
    (`T = Tranche.Status`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _is_status_enum(node.value):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


def _is_status_enum(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "Status"
        and isinstance(node.value, ast.Name)
        and node.value.id in MONEY_STATUSES
    )


def _money_value(node: ast.AST, aliases: set[str]) -> bool:
    """An expression naming a state of these machines (`A.SIGNED`, `Tranche.Status.PAID`)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and (
            _is_status_enum(sub.value) or (isinstance(sub.value, ast.Name) and sub.value.id in aliases)
        ):
            return True
    return False


def _money_receiver(node: ast.AST) -> bool:
    """An object whose name says it is a grant, an agreement, a tranche or a report (or a queryset of
    them)."""
    text = ast.unparse(node).lower()
    return any(name in text for name in ("grant", "agreement", "tranche", "report"))


def status_writes(source: str) -> list[int]:
    """The lines that assign the status of a grant, an agreement, a tranche or a report, or update it
    in bulk."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "status"
                    and (_money_receiver(target.value) or (node.value and _money_value(node.value, aliases)))
                ):
                    lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            if name in ("update", "update_or_create") and "status" in keywords:
                if _money_receiver(node.func.value) or _money_value(keywords["status"], aliases):
                    lines.append(node.lineno)
            elif name == "bulk_update" and "status" in ast.unparse(node) and _money_receiver(node):
                lines.append(node.lineno)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "status"
            and _money_receiver(node.args[0])
        ):
            lines.append(node.lineno)
    return sorted(set(lines))


def test_the_scan_sees_every_way_of_writing_a_money_status():
    source = """
T = Tranche.Status
agreement.status = Agreement.Status.SIGNED
locked.status = T.PAID
tranche.status = to_status
Tranche.objects.filter(grant=grant).update(status=T.CANCELLED)
Agreement.objects.filter(pk=1).update(status="cancelled")
grant.agreement.status = "signed"
setattr(tranche, "status", "paid")
Tranche.objects.bulk_update(tranches, ["status"])
Grant.objects.filter(pk=1).update(status=Grant.Status.CANCELLED)
grant.status = "cancelled"
G = Grant.Status
locked.status = G.CANCELLED
"""
    assert status_writes(source) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14]
    harmless = """
application.status = Application.Status.SUBMITTED
job.status = to_status
if tranche.status == T.PAID or grant.status == Grant.Status.ACTIVE:
    pass
Report.objects.exclude(status=Report.Status.REJECTED).filter(grant=grant)
if report.status != Report.Status.SUBMITTED:
    pass
"""
    assert status_writes(harmless) == []


def test_the_scan_sees_every_way_of_writing_a_report_status():
    # Line 2 is how report_review wrote the status before the report had its funnel.
    source = """
report.status = Report.Status.ACCEPTED if accept else Report.Status.REJECTED
Report.objects.filter(pk=1).update(status=Report.Status.REJECTED)
grant.reports.filter(year_index=1).update(status="accepted")
R = Report.Status
locked.status = R.REJECTED
live.status = Report.Status.SUBMITTED
setattr(report, "status", "accepted")
Report.objects.bulk_update(reports, ["status"])
Report.objects.filter(pk=1).update_or_create(status="accepted")
"""
    assert status_writes(source) == [2, 3, 4, 6, 7, 8, 9, 10]


def test_no_module_but_the_funnel_writes_a_grant_agreement_tranche_or_report_status():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIPPED_DIRS & set(relative.parts[:-1]) or relative == FUNNEL or relative in EXCEPTIONS:
            continue
        offenders += [f"{relative}:{line}" for line in status_writes(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_architecture_names_every_status_of_the_portal_with_its_table_and_log():
    """docs/architecture.md lists the state machines in one place: a status model added without its
    line there fails here."""
    from django.apps import apps

    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("\n## State machines\n")[1].split("\n## ")[0]
    statuses = [
        f"`{model._meta.label}.status`"
        for model in apps.get_models()
        if any(field.name == "status" and field.choices for field in model._meta.concrete_fields)
    ]
    assert "`grants.Report.status`" in statuses and "`notifications.Document.status`" in statuses
    assert [status for status in statuses if status not in section] == []
    from applications import workflow as dossiers
    from grants import export_jobs
    from grants import workflow as money

    machines = [dossiers.MACHINE, money.GRANT, money.AGREEMENT, money.TRANCHE, REPORT, export_jobs.MACHINE]
    assert [m.log_model.__name__ for m in machines if f"`{m.log_model.__name__}`" not in section] == []


# --- where the log is read ------------------------------------------------------------------------


def test_the_agreement_page_shows_its_history(client):
    case = laureate()
    admin = programme_admin()
    agreement_accept(agreement=case.agreement, actor=case.representative)
    agreement_activate(agreement=case.agreement, commitment_number="2100123456", actor=admin)
    client.force_login(case.representative)
    page = client.get(reverse("grants:agreement-detail", kwargs={"number": case.agreement.number}))
    text = " ".join(page.content.decode().split())
    assert "Historique de la convention" in text
    name = case.representative.get_full_name() or case.representative.email
    assert f"En attente de signature → Signée</td> <td>{name}</td>" in text
    assert f"Signée → En cours</td> <td>{admin.get_full_name() or admin.email}</td>" in text


@pytest.mark.ignore_template_errors  # Django's own admin templates use optional variables
def test_the_logs_are_read_only_in_the_admin(client):
    case = laureate()
    agreement_accept(agreement=case.agreement, actor=case.representative)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:grants_agreementstatuschange_changelist"))
    assert page.status_code == 200 and case.agreement.number in page.content.decode()
    assert client.get(reverse("admin:grants_agreementstatuschange_add")).status_code == 403
    assert client.get(reverse("admin:grants_tranchestatuschange_add")).status_code == 403
    assert client.get(reverse("admin:grants_grantstatuschange_add")).status_code == 403
    change = AgreementStatusChange.objects.get()
    response = client.post(
        reverse("admin:grants_agreementstatuschange_change", args=[change.pk]), {"to_status": "active"}
    )
    assert response.status_code == 403
    assert AgreementStatusChange.objects.get().to_status == A.SIGNED
    application_reopen(application=case.application, reason="Erreur matérielle.", actor=programme_admin())
    page = client.get(reverse("admin:grants_grantstatuschange_changelist"))
    assert page.status_code == 200 and case.application.reference in page.content.decode()


@pytest.mark.ignore_template_errors  # Django's own admin templates use optional variables
def test_the_report_log_is_read_only_in_the_admin(client):
    setup = Setup()
    report = upload(setup)
    report_review(report=report, accept=False, note="Les charges manquent.", actor=setup.reviewer)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:grants_reportstatuschange_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    assert setup.application.reference in text and "Les charges manquent." in text
    assert client.get(reverse("admin:grants_reportstatuschange_add")).status_code == 403
    change = ReportStatusChange.objects.get()
    response = client.post(
        reverse("admin:grants_reportstatuschange_change", args=[change.pk]), {"to_status": "accepted"}
    )
    assert response.status_code == 403
    assert ReportStatusChange.objects.get().to_status == R.REJECTED
    response = client.post(
        reverse("admin:grants_reportstatuschange_delete", args=[change.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert ReportStatusChange.objects.count() == 1
