"""Committee sessions: the table of their states, the agenda built from the ranking or set from a
scenario, the decisions recorded in session, and their application through the decision services
(per-dossier results, nothing twice)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEvent
from applications.models import Application, Wave
from grants.committee_workflow import TRANSITIONS, committee_transition
from grants.models import CommitteeItem, CommitteeMember, CommitteeSession, CommitteeStatusChange, Grant
from grants.services.committees import (
    committee_agenda_build,
    committee_agenda_set,
    committee_apply,
    committee_apply_preview,
    committee_attendance_set,
    committee_cancel,
    committee_convene,
    committee_create,
    committee_decision_record,
    committee_item_propose,
    committee_members_set,
    committee_open,
)
from notifications.models import Document
from tests.factories import CallFactory, applicant, instructor, occitanie_instructor, programme_admin
from tests.grants.committees import a_session, scored_dossiers

pytestmark = pytest.mark.django_db

C = CommitteeSession.Status
D = CommitteeItem.Decision
NBSP = "\u00a0"


def held_session(admin, call, dossiers):  # type: ignore[no-untyped-def]
    session = a_session(admin, call)
    committee_agenda_build(session=session, actor=admin)
    committee_convene(session=session, actor=admin)
    committee_open(session=session, actor=admin)
    session.refresh_from_db()
    return session


def item_of(session: CommitteeSession, application: Application) -> CommitteeItem:
    return CommitteeItem.objects.get(session=session, application=application)


# --- the table ------------------------------------------------------------------------------------


@pytest.mark.parametrize("from_status", list(C))
@pytest.mark.parametrize("to_status", list(C))
def test_every_pair_of_the_table_is_allowed_or_refused_by_the_funnel(from_status, to_status):
    admin = programme_admin()
    session = a_session(admin)
    CommitteeSession.objects.filter(pk=session.pk).update(
        status=from_status, applied_at=session.created_at if from_status == C.APPLIED else None
    )
    session.refresh_from_db()
    allowed = to_status in TRANSITIONS[from_status]
    fields = {"applied_at": session.created_at} if to_status == C.APPLIED else {}
    if allowed:
        with transaction.atomic():
            change = committee_transition(
                session=session, to_status=to_status, actor=admin, action="committee.test", **fields
            )
        assert (change.from_status, change.to_status) == (from_status, to_status)
        assert CommitteeSession.objects.get(pk=session.pk).status == to_status
        assert AuditEvent.objects.filter(action="committee.test", data__to=to_status).exists()
    else:
        with pytest.raises(ValidationError) as refused, transaction.atomic():
            committee_transition(session=session, to_status=to_status, actor=admin, action="committee.test")
        assert "ne peut pas passer à l'état" in refused.value.messages[0]
        assert CommitteeSession.objects.get(pk=session.pk).status == from_status
        assert not CommitteeStatusChange.objects.filter(session=session).exists()


def test_applied_and_cancelled_are_final():
    assert TRANSITIONS[C.APPLIED] == frozenset()
    assert TRANSITIONS[C.CANCELLED] == frozenset()


# --- creating a session ---------------------------------------------------------------------------


def test_a_session_needs_a_place_or_a_link_and_writes_nothing_without():
    admin = programme_admin()
    with pytest.raises(ValidationError) as refused:
        a_session(admin, place="", visio_url="")
    assert refused.value.message_dict == {"place": ["Indiquez un lieu ou un lien de visioconférence."]}
    assert not CommitteeSession.objects.exists()
    assert not AuditEvent.objects.filter(action="committee.create").exists()


def test_a_bad_visio_link_is_refused_next_to_its_field():
    admin = programme_admin()
    with pytest.raises(ValidationError) as refused:
        a_session(admin, place="", visio_url="pas une adresse")
    assert "visio_url" in refused.value.message_dict
    assert not CommitteeSession.objects.exists()


def test_creating_a_session_is_audited_and_seats_its_creator():
    admin = programme_admin()
    session = a_session(admin, place="", visio_url="https://visio.example.gouv.fr/comite")
    assert session.status == C.DRAFT
    assert list(session.members.values_list("user_id", "role")) == [(admin.pk, CommitteeMember.Role.ADMIN)]
    assert AuditEvent.objects.filter(action="committee.create", target_id=str(session.pk)).count() == 1


def test_only_programme_admins_create_sessions():
    with pytest.raises(PermissionDenied):
        a_session(instructor())
    assert not CommitteeSession.objects.exists()


# --- members and attendance -----------------------------------------------------------------------


def test_members_are_admins_and_instructors_and_attendance_is_recorded_once_convened():
    admin = programme_admin()
    guest = occitanie_instructor()
    session = a_session(admin)
    committee_members_set(session=session, users=[admin, guest], actor=admin)
    guest_member = session.members.get(user=guest)
    assert guest_member.role == CommitteeMember.Role.INSTRUCTOR
    with pytest.raises(ValidationError) as early:
        committee_attendance_set(session=session, attendance={guest_member.pk: "present"}, actor=admin)
    assert "noter les présences" in early.value.messages[0]

    call = session.call
    scored_dossiers(call, ["80"])
    committee_agenda_build(session=session, actor=admin)
    committee_convene(session=session, actor=admin)
    with pytest.raises(ValidationError) as bad:
        committee_attendance_set(session=session, attendance={guest_member.pk: "peut-être"}, actor=admin)
    assert bad.value.message_dict == {f"member_{guest_member.pk}": ["Choisissez une présence dans la liste."]}
    committee_attendance_set(session=session, attendance={guest_member.pk: "excused"}, actor=admin)
    guest_member.refresh_from_db()
    assert guest_member.attendance == "excused"
    audit = AuditEvent.objects.get(action="committee.attendance")
    assert audit.data == {"changed": {str(guest.pk): {"from": "unknown", "to": "excused"}}}


def test_an_applicant_cannot_sit():
    admin = programme_admin()
    session = a_session(admin)
    outsider = applicant()
    with pytest.raises(ValidationError) as refused:
        committee_members_set(session=session, users=[admin, outsider], actor=admin)
    assert (
        "Seuls les administrateurs du programme et les instructeurs"
        in refused.value.message_dict["members"][0]
    )
    assert list(session.members.values_list("user_id", flat=True)) == [admin.pk]


# --- the agenda -----------------------------------------------------------------------------------


def test_the_agenda_is_the_ranking_of_the_eligible_and_scored_dossiers_with_amounts_within_bounds():
    admin = programme_admin()
    call = CallFactory()
    low, high, tied = scored_dossiers(call, ["61.5", "88", "61.5"])
    unscored = scored_dossiers(call, ["70"])[0]
    Application.objects.filter(pk=unscored.pk).update(score=None)
    ineligible = scored_dossiers(call, ["95"])[0]
    ineligible.eligibility_answers.update(satisfied=False)
    session = a_session(admin, call)
    items = committee_agenda_build(session=session, actor=admin)
    rows = [
        (item.application_id, item.rank, item.score) for item in CommitteeItem.objects.filter(session=session)
    ]
    first, second = sorted([low.pk, tied.pk], key=lambda pk: Application.objects.get(pk=pk).reference)
    assert rows == [(high.pk, 1, Decimal("88.0")), (first, 2, Decimal("61.5")), (second, 2, Decimal("61.5"))]
    item = items[0]
    # Asked 3 × 50 000 €: proposed as asked, split as asked (the yearly cap holds).
    assert item.asked == Decimal("150000.00")
    assert item.proposed == Decimal("150000")
    assert item.proposed_yearly == ["50000.00", "50000.00", "50000.00"]
    assert AuditEvent.objects.filter(action="committee.agenda", target_id=str(session.pk)).count() == 1


def test_agenda_set_refuses_every_bad_dossier_and_amount_and_writes_nothing():
    admin = programme_admin()
    call = CallFactory()
    good, other = scored_dossiers(call, ["80", "70"])
    foreign = scored_dossiers(CallFactory(), ["90"])[0]
    session = a_session(admin, call)
    with pytest.raises(ValidationError) as refused:
        committee_agenda_set(
            session=session,
            items=[(good, Decimal("160000")), (other, Decimal("100000")), (foreign, Decimal("100000"))],
            actor=admin,
        )
    messages = refused.value.message_dict["items"]
    assert (
        f"{good.reference} : Le montant attribué doit être compris entre 75{NBSP}000{NBSP}€ et 150{NBSP}000{NBSP}€."
        in messages
    )
    assert any(
        message.startswith(f"{foreign.reference} : seul un dossier en instruction") for message in messages
    )
    assert not any(other.reference in message for message in messages)
    assert not CommitteeItem.objects.exists()
    assert not AuditEvent.objects.filter(action="committee.agenda").exists()

    # A scenario's list: the dossiers and amounts it chose, each with its rank in the ranking.
    committee_agenda_set(session=session, items=[(other, Decimal("90000"))], actor=admin)
    item = CommitteeItem.objects.get(session=session)
    assert (item.application_id, item.rank, item.proposed, item.proposed_yearly) == (
        other.pk,
        2,
        Decimal("90000.00"),
        ["30000.00", "30000.00", "30000.00"],
    )


def test_a_dossier_on_a_live_session_cannot_be_put_on_another():
    admin = programme_admin()
    call = CallFactory()
    (dossier,) = scored_dossiers(call, ["80"])
    first = a_session(admin, call)
    committee_agenda_set(session=first, items=[(dossier, Decimal("100000"))], actor=admin)
    second = a_session(admin, call, title="Autre séance")
    with pytest.raises(ValidationError) as refused:
        committee_agenda_set(session=second, items=[(dossier, Decimal("100000"))], actor=admin)
    assert refused.value.message_dict["items"] == [
        f"{dossier.reference} : ce dossier est déjà à l'ordre du jour d'une autre séance."
    ]


def test_a_proposal_above_the_yearly_cap_is_refused_next_to_its_year():
    admin = programme_admin()
    call = CallFactory()
    (dossier,) = scored_dossiers(call, ["80"])
    session = a_session(admin, call)
    (item,) = committee_agenda_build(session=session, actor=admin)
    with pytest.raises(ValidationError) as refused:
        committee_item_propose(
            item=item,
            amount=Decimal("120000"),
            yearly=[Decimal("60000"), Decimal("30000"), Decimal("30000")],
            actor=admin,
        )
    assert refused.value.message_dict == {
        "yearly_1": [f"L'année 1 (60{NBSP}000{NBSP}€) dépasse le plafond annuel de 50{NBSP}000{NBSP}€."]
    }
    item.refresh_from_db()
    assert item.proposed == Decimal("150000.00")
    committee_item_propose(item=item, amount=Decimal("120000"), actor=admin)
    item.refresh_from_db()
    assert item.proposed_yearly == ["40000.00", "40000.00", "40000.00"]


def test_the_agenda_is_fixed_once_the_session_is_held():
    admin = programme_admin()
    call = CallFactory()
    (dossier,) = scored_dossiers(call, ["80"])
    session = held_session(admin, call, [dossier])
    with pytest.raises(ValidationError) as refused:
        committee_agenda_set(session=session, items=[], actor=admin)
    assert refused.value.messages == [
        "La séance est « En séance » : changer l'ordre du jour n'est plus possible."
    ]
    assert CommitteeItem.objects.filter(session=session).count() == 1


def test_convening_needs_an_agenda():
    admin = programme_admin()
    session = a_session(admin)
    with pytest.raises(ValidationError) as refused:
        committee_convene(session=session, actor=admin)
    assert refused.value.messages == ["Constituez l'ordre du jour avant de convoquer le comité."]
    assert CommitteeSession.objects.get(pk=session.pk).status == C.DRAFT


# --- decisions ------------------------------------------------------------------------------------


def test_decisions_are_recorded_in_session_only_with_their_rules():
    admin = programme_admin()
    call = CallFactory()
    (dossier,) = scored_dossiers(call, ["80"])
    session = a_session(admin, call)
    (item,) = committee_agenda_build(session=session, actor=admin)
    with pytest.raises(ValidationError) as early:
        committee_decision_record(item=item, decision=D.AWARD, actor=admin)
    assert "enregistrer une décision" in early.value.messages[0]
    committee_convene(session=session, actor=admin)
    committee_open(session=session, actor=admin)

    with pytest.raises(ValidationError) as unmotivated:
        committee_decision_record(item=item, decision=D.REFUSE, reasons="  ", actor=admin)
    assert unmotivated.value.message_dict == {"reasons": ["Une décision de refus doit être motivée."]}
    with pytest.raises(ValidationError) as too_much:
        committee_decision_record(item=item, decision=D.AWARD, amount=Decimal("200000"), actor=admin)
    assert "amount" in too_much.value.message_dict
    item.refresh_from_db()
    assert item.decision == D.PENDING and item.amount is None

    committee_decision_record(item=item, decision=D.AWARD, amount=Decimal("90000"), actor=admin)
    item.refresh_from_db()
    assert (item.decision, item.amount, item.yearly) == (D.AWARD, Decimal("90000.00"), ["30000.00"] * 3)
    audit = AuditEvent.objects.get(action="committee.decide")
    assert audit.data["dossier"] == dossier.reference and audit.data["amount"] == "90000"


# --- applying -------------------------------------------------------------------------------------


def test_apply_refuses_while_a_dossier_is_undecided():
    admin = programme_admin()
    call = CallFactory()
    scored_dossiers(call, ["80", "70"])
    session = held_session(admin, call, [])
    first = CommitteeItem.objects.filter(session=session).order_by("rank").first()
    committee_decision_record(item=first, decision=D.POSTPONE, actor=admin)
    with pytest.raises(ValidationError) as refused:
        committee_apply(session=session, actor=admin)
    assert refused.value.messages == [
        "Décidez chaque dossier de l'ordre du jour avant d'appliquer : 1 sans décision."
    ]
    assert not CommitteeItem.objects.filter(outcome="applied").exists()


def test_apply_with_the_envelope_nearly_spent_applies_the_others_reports_the_refused_then_only_what_is_left(
    django_capture_on_commit_callbacks,
):
    admin = programme_admin()
    # Room for one award of 150 000 € only.
    call = CallFactory(envelope=Decimal("200000"))
    best, second, third = scored_dossiers(call, ["90", "80", "70"])
    session = held_session(admin, call, [])
    committee_decision_record(item=item_of(session, best), decision=D.AWARD, actor=admin)
    committee_decision_record(item=item_of(session, second), decision=D.AWARD, actor=admin)
    committee_decision_record(
        item=item_of(session, third), decision=D.REFUSE, reasons="Projet hors du périmètre.", actor=admin
    )

    recap = committee_apply_preview(session=session, actor=admin)
    assert (recap.awards, recap.refusals, recap.postponed, recap.undecided) == (2, 1, 0, 0)
    assert recap.total == Decimal("150000")
    assert (recap.envelope_before, recap.envelope_after) == (Decimal("200000.00"), Decimal("50000.00"))
    assert [row.item.application_id for row in recap.refused_rows] == [second.pk]

    with django_capture_on_commit_callbacks():
        results = committee_apply(session=session, actor=admin)
    assert [(result.reference, result.done) for result in results] == [
        (best.reference, True),
        (second.reference, False),
        (third.reference, True),
    ]
    assert "L'enveloppe de l'appel n'a plus que 50" in results[1].message
    statuses = dict(
        Application.objects.filter(pk__in=[best.pk, second.pk, third.pk]).values_list("pk", "status")
    )
    assert statuses == {best.pk: "awarded", second.pk: "in_review", third.pk: "refused"}
    failed = item_of(session, second)
    assert failed.outcome == "failed" and "enveloppe" in failed.outcome_message
    session.refresh_from_db()
    assert session.status == C.HELD and session.minutes_id is None

    # The envelope grows; applying again applies the one left, and nothing twice.
    type(call).objects.filter(pk=call.pk).update(envelope=Decimal("400000"))
    with django_capture_on_commit_callbacks():
        again = committee_apply(session=session, actor=admin)
    assert [(result.reference, result.done) for result in again] == [(second.reference, True)]
    assert Grant.objects.filter(application=best).count() == 1
    assert Grant.objects.filter(application=second).count() == 1
    assert Application.objects.get(pk=third.pk).status_changes.filter(to_status="refused").count() == 1
    session.refresh_from_db()
    assert session.status == C.APPLIED and session.applied_at is not None
    minutes = Document.objects.get(pk=session.minutes_id)
    assert minutes.key == f"committee:{session.pk}:minutes"
    assert minutes.context["totals"]["adopted"] == "2"
    # Nothing is left: a third application is refused by the table.
    with pytest.raises(ValidationError):
        committee_apply(session=session, actor=admin)
    assert AuditEvent.objects.filter(action="committee.apply_item").count() == 3
    assert AuditEvent.objects.filter(action="committee.apply_failed").count() == 1


def test_a_refused_item_can_be_decided_again_and_applied():
    admin = programme_admin()
    call = CallFactory(envelope=Decimal("100000"))
    (dossier,) = scored_dossiers(call, ["90"])
    session = held_session(admin, call, [])
    item = item_of(session, dossier)
    committee_decision_record(item=item, decision=D.AWARD, actor=admin)
    (result,) = committee_apply(session=session, actor=admin)
    assert not result.done
    committee_decision_record(
        item=item, decision=D.POSTPONE, reasons="À revoir à la vague suivante.", actor=admin
    )
    (result,) = committee_apply(session=session, actor=admin)
    assert result.done and result.message == "Ajourné : le dossier reste en instruction."
    assert Application.objects.get(pk=dossier.pk).status == "in_review"
    assert CommitteeSession.objects.get(pk=session.pk).status == C.APPLIED


def test_an_applied_decision_does_not_change_and_the_session_is_no_longer_cancellable():
    admin = programme_admin()
    call = CallFactory(envelope=Decimal("200000"))
    first, second = scored_dossiers(call, ["90", "80"])
    session = held_session(admin, call, [])
    committee_decision_record(item=item_of(session, first), decision=D.AWARD, actor=admin)
    committee_decision_record(item=item_of(session, second), decision=D.AWARD, actor=admin)
    committee_apply(session=session, actor=admin)
    with pytest.raises(ValidationError) as frozen:
        committee_decision_record(item=item_of(session, first), decision=D.POSTPONE, actor=admin)
    assert "est déjà appliquée" in frozen.value.messages[0]
    with pytest.raises(ValidationError) as cancel:
        committee_cancel(session=session, reason="Erreur.", actor=admin)
    assert "ne peut plus être annulée" in cancel.value.messages[0]
    assert CommitteeSession.objects.get(pk=session.pk).status == C.HELD


def test_cancelling_needs_a_reason_and_frees_the_dossiers():
    admin = programme_admin()
    call = CallFactory()
    (dossier,) = scored_dossiers(call, ["90"])
    session = a_session(admin, call)
    committee_agenda_build(session=session, actor=admin)
    with pytest.raises(ValidationError) as refused:
        committee_cancel(session=session, reason="", actor=admin)
    assert refused.value.message_dict == {"reason": ["Indiquez pourquoi la séance est annulée."]}
    committee_cancel(session=session, reason="Quorum impossible.", actor=admin)
    change = CommitteeStatusChange.objects.get(session=session)
    assert (change.from_status, change.to_status, change.note) == (C.DRAFT, C.CANCELLED, "Quorum impossible.")
    other = a_session(admin, call, title="Séance reportée")
    committee_agenda_set(session=other, items=[(dossier, Decimal("100000"))], actor=admin)
    assert CommitteeItem.objects.filter(session=other).count() == 1


def test_a_session_of_a_wave_takes_only_that_waves_dossiers():
    admin = programme_admin()
    call = CallFactory()
    in_march, other = scored_dossiers(call, ["80", "90"])
    march = Wave.objects.create(
        call=call, number=1, name="Vague de mars", deadline=timezone.now() + timedelta(days=5)
    )
    Application.objects.filter(pk=in_march.pk).update(wave=march)
    session = committee_create(
        call=call, wave=march, title="Comité de mars", starts_at=timezone.now(), place="Paris", actor=admin
    )
    committee_agenda_build(session=session, actor=admin)
    assert list(CommitteeItem.objects.filter(session=session).values_list("application_id", "rank")) == [
        (in_march.pk, 1)
    ]
    foreign_wave = Wave.objects.create(
        call=CallFactory(), number=1, name="Autre", deadline=timezone.now() + timedelta(days=5)
    )
    with pytest.raises(ValidationError) as refused:
        committee_create(
            call=call, wave=foreign_wave, title="X", starts_at=timezone.now(), place="Paris", actor=admin
        )
    assert refused.value.message_dict == {"wave": ["Cette vague n'appartient pas à l'appel."]}
