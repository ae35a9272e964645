"""Expert opinions, the services: the request (scope, rules, the expert's account, files), the
machine's table, the answer, the instruction's reminder and cancellation, the daily reminders, and
what the applicant and the instructors' list see of them. Time travels by the services' `today=`."""

import io
import itertools
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Role, User
from accounts.roles import has_role
from applications.models import Call, MessageFile, Opinion, OpinionChange
from applications.selectors import workspace_filtered
from applications.services.messaging import FileUpload
from applications.services.opinions import (
    MACHINE,
    TRANSITIONS,
    opinion_cancel,
    opinion_give,
    opinion_overdue_keys,
    opinion_remind,
    opinion_reminder_key,
    opinion_request,
    opinions_reminders_send,
)
from applications.services.review import opinion_give as opinion_give_from_review
from applications.tasks import opinions_reminders_task
from notifications.models import OutgoingEmail
from tests.factories import (
    PDF_BYTES,
    in_review_application,
    instructor,
    occitanie_instructor,
    programme_admin,
)
from tests.pages import logged, text

pytestmark = pytest.mark.django_db

OS = Opinion.Status
QUESTION = "Le lieu est-il bien desservi par les transports ?"


def ask(application, actor, **kwargs):  # type: ignore[no-untyped-def]
    values = {
        "email": "expert@ddt-gers.gouv.fr",
        "organisation_name": "DDT du Gers",
        "question": QUESTION,
    }
    values.update(kwargs)
    return opinion_request(application=application, actor=actor, **values)


def footprint() -> tuple[int, ...]:
    return (
        Opinion.objects.count(),
        OpinionChange.objects.count(),
        User.objects.count(),
        MessageFile.objects.count(),
        OutgoingEmail.objects.count(),
        AuditEvent.objects.count(),
    )


# --- the request -------------------------------------------------------------------------------


def test_a_request_creates_the_expert_s_account_invites_them_and_is_logged_and_audited():
    application, reviewer = in_review_application()
    today = timezone.localdate()
    opinion = ask(
        application,
        reviewer,
        email=" Expert@DDT-Gers.gouv.fr ",
        files=[FileUpload(file=io.BytesIO(PDF_BYTES), name="note.pdf")],
    )
    assert opinion.status == OS.REQUESTED
    assert opinion.due_on == today + timedelta(days=application.call.opinion_delay_days)
    assert opinion.confidential and opinion.answer_kind == Opinion.AnswerKind.VERDICT
    expert = opinion.expert
    assert expert is not None and expert.email == "expert@ddt-gers.gouv.fr"
    assert expert.is_active and not expert.has_usable_password()
    assert has_role(expert, Role.EXPERT)
    assert [f.original_name for f in opinion.request_files.all()] == ["note.pdf"]
    invitation = OutgoingEmail.objects.get(key=f"opinion:{opinion.pk}:request")
    assert invitation.to == ["expert@ddt-gers.gouv.fr"]
    assert QUESTION in invitation.body
    assert reverse("applications:opinion-give", args=[opinion.token]) in invitation.body
    assert "choisir votre mot de passe" in invitation.body
    log = list(opinion.changes.values_list("from_status", "to_status", "actor"))
    assert log == [("", OS.REQUESTED, reviewer.pk)]
    audit = AuditEvent.objects.get(action="opinion.request")
    assert audit.actor == reviewer and audit.data["email"] == "expert@ddt-gers.gouv.fr"
    assert AuditEvent.objects.filter(action="account.expert_invite", target_id=str(expert.pk)).exists()


def test_an_existing_account_is_reused_and_an_instructor_keeps_their_role_only():
    application, reviewer = in_review_application()
    first = ask(application, reviewer)
    opinion_cancel(opinion=first, reason="Mauvais service.", actor=reviewer)
    again = ask(application, reviewer)
    assert again.expert == first.expert
    assert User.objects.filter(email="expert@ddt-gers.gouv.fr").count() == 1
    assert (
        "un compte a été créé"
        not in OutgoingEmail.objects.get(key=f"opinion:{again.pk}:request").body.lower()
    )

    colleague = instructor(email="collegue@exemple.fr")
    asked = ask(application, reviewer, email="collegue@exemple.fr")
    assert asked.expert == colleague
    assert not has_role(User.objects.get(pk=colleague.pk), Role.EXPERT)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"question": "  "}, "question", "Posez la question à laquelle l'expert doit répondre."),
        ({"organisation_name": ""}, "organisation_name", "Indiquez le service consulté."),
        ({"due_on": "today"}, "due_on", "La date limite doit être postérieure à aujourd'hui"),
        ({"due_on": "past"}, "due_on", "La date limite doit être postérieure à aujourd'hui"),
        ({"email": "applicant"}, "email", "Cette personne est porteuse de ce dossier"),
        ({"email": "self"}, "email", "Vous ne pouvez pas vous demander un avis à vous-même."),
        ({"answer_kind": "maybe"}, "answer_kind", "Choisissez la forme de la réponse."),
    ],
)
def test_a_request_is_refused_next_to_its_field_and_nothing_is_written(change, field, message):  # type: ignore[no-untyped-def]
    application, reviewer = in_review_application()
    today = timezone.localdate()
    values = dict(change)
    if values.get("due_on") == "today":
        values["due_on"] = today
    if values.get("due_on") == "past":
        values["due_on"] = today - timedelta(days=3)
    if values.get("email") == "applicant":
        values["email"] = application.created_by.email.upper()
    if values.get("email") == "self":
        values["email"] = reviewer.email
    before = footprint()
    with pytest.raises(ValidationError) as refused:
        ask(application, reviewer, **values)
    assert any(message in text_ for text_ in refused.value.message_dict[field])
    assert footprint() == before


def test_a_second_open_request_to_the_same_address_is_refused():
    application, reviewer = in_review_application()
    ask(application, reviewer)
    with pytest.raises(ValidationError) as refused:
        ask(application, reviewer)
    assert "déjà demandé à cette adresse" in refused.value.message_dict["email"][0]


def test_a_file_that_is_not_what_its_name_says_is_refused_and_nothing_is_written():
    application, reviewer = in_review_application()
    before = footprint()
    with pytest.raises(ValidationError) as refused:
        ask(
            application,
            reviewer,
            files=[FileUpload(file=io.BytesIO(b"MZ\x90\x00 not a pdf"), name="note.pdf")],
        )
    assert "son contenu a été vérifié" in refused.value.message_dict["attachments"][0]
    assert footprint() == before


def test_only_the_dossier_s_instruction_asks_for_an_opinion():
    application, reviewer = in_review_application()
    out_of_scope = instructor()
    before = footprint()
    for actor in (out_of_scope, application.created_by):
        with pytest.raises(PermissionDenied):
            ask(application, actor)
    assert footprint() == before
    assert ask(application, programme_admin()).status == OS.REQUESTED


# --- the machine -------------------------------------------------------------------------------


def test_the_table_allows_only_given_or_cancelled_from_requested_and_nothing_after():
    states = [value for value, _label in Opinion.Status.choices]
    for source, target in itertools.product(states, states):
        assert MACHINE.can_move(source, target) == (target in TRANSITIONS[source]), (source, target)
    assert TRANSITIONS[OS.REQUESTED] == {OS.GIVEN, OS.CANCELLED}
    assert TRANSITIONS[OS.GIVEN] == TRANSITIONS[OS.CANCELLED] == frozenset()


def test_a_given_opinion_is_neither_given_again_nor_cancelled_and_a_cancelled_one_is_not_given():
    application, reviewer = in_review_application()
    given = ask(application, reviewer)
    opinion_give(opinion=given, verdict="favourable", comment="", actor=given.expert)
    with pytest.raises(ValidationError, match="« Rendu » ne peut pas passer à l'état « Rendu »"):
        opinion_give(opinion=given, verdict="reserved", comment="Non.", actor=given.expert)
    with pytest.raises(ValidationError, match="« Rendu » ne peut pas passer à l'état « Annulé »"):
        opinion_cancel(opinion=given, reason="Trop tard.", actor=reviewer)
    cancelled = ask(application, reviewer, email="autre@exemple.gouv.fr")
    opinion_cancel(opinion=cancelled, reason="Plus utile.", actor=reviewer)
    with pytest.raises(ValidationError, match="« Annulé » ne peut pas passer à l'état « Rendu »"):
        opinion_give(opinion=cancelled, verdict="favourable", comment="", actor=cancelled.expert)
    given.refresh_from_db()
    cancelled.refresh_from_db()
    assert (given.status, given.verdict) == (OS.GIVEN, "favourable")
    assert (cancelled.status, cancelled.verdict) == (OS.CANCELLED, "")


def test_the_expert_gives_their_answer_once_with_files_and_the_instructor_is_told():
    application, reviewer = in_review_application()
    opinion = ask(application, reviewer)
    expert = opinion.expert
    with pytest.raises(PermissionDenied):
        opinion_give(opinion=opinion, verdict="favourable", comment="", actor=reviewer)
    opinion_give_from_review(
        opinion=opinion,
        verdict="unfavourable",
        comment="Le lieu est isolé.",
        files=[FileUpload(file=io.BytesIO(PDF_BYTES), name="carte.pdf")],
        actor=expert,
    )
    opinion.refresh_from_db()
    assert opinion.status == OS.GIVEN and opinion.given_at is not None
    assert opinion.verdict == "unfavourable" and opinion.comment == "Le lieu est isolé."
    assert [f.original_name for f in opinion.answer_files.all()] == ["carte.pdf"]
    assert list(opinion.changes.values_list("from_status", "to_status")) == [
        ("", OS.REQUESTED),
        (OS.REQUESTED, OS.GIVEN),
    ]
    audit = AuditEvent.objects.get(action="opinion.give")
    assert audit.actor == expert and audit.data["from"] == OS.REQUESTED and audit.data["to"] == OS.GIVEN
    # The instructor who asked hears of it in the centre and, as by default, by e-mail at once.
    notice = OutgoingEmail.objects.get(key=f"notification:opinion-given:{opinion.pk}:{reviewer.pk}")
    assert notice.to == [reviewer.email] and "Défavorable" in notice.body
    assert reviewer.notifications.get(kind="opinion_given").link.endswith(
        f"/{opinion.application.reference}/"
    )


@pytest.mark.parametrize(
    ("kind", "verdict", "comment", "message"),
    [
        ("yes_no", "favourable", "", "Répondez par oui ou par non."),
        ("verdict", "yes", "", "Choisissez un avis : favorable, réservé ou défavorable."),
        ("verdict", "reserved", " ", "Un avis réservé ou défavorable est motivé"),
    ],
)
def test_an_answer_must_fit_the_request_and_nothing_is_written(kind, verdict, comment, message):  # type: ignore[no-untyped-def]
    application, reviewer = in_review_application()
    opinion = ask(application, reviewer, answer_kind=kind)
    before = footprint()
    with pytest.raises(ValidationError) as refused:
        opinion_give(opinion=opinion, verdict=verdict, comment=comment, actor=opinion.expert)
    field = "verdict" if "verdict" in refused.value.message_dict else "comment"
    assert message in refused.value.message_dict[field][0]
    assert footprint() == before
    opinion.refresh_from_db()
    assert opinion.status == OS.REQUESTED


def test_a_yes_no_request_takes_yes_or_no():
    application, reviewer = in_review_application()
    opinion = ask(application, reviewer, answer_kind="yes_no")
    opinion_give(opinion=opinion, verdict="no", comment="", actor=opinion.expert)
    opinion.refresh_from_db()
    assert opinion.get_verdict_display() == "Non"


# --- the instruction's moves -------------------------------------------------------------------


def test_cancelling_needs_a_reason_tells_the_expert_and_is_logged():
    application, reviewer = in_review_application()
    opinion = ask(application, reviewer)
    with pytest.raises(ValidationError) as refused:
        opinion_cancel(opinion=opinion, reason=" ", actor=reviewer)
    assert refused.value.message_dict["reason"] == ["Indiquez pourquoi la demande est annulée."]
    with pytest.raises(PermissionDenied):
        opinion_cancel(opinion=opinion, reason="Non.", actor=instructor())
    opinion_cancel(opinion=opinion, reason="Le porteur a retiré le lieu.", actor=reviewer)
    opinion.refresh_from_db()
    assert opinion.status == OS.CANCELLED and opinion.cancelled_at is not None
    change = opinion.changes.get(to_status=OS.CANCELLED)
    assert change.note == "Le porteur a retiré le lieu." and change.actor == reviewer
    assert AuditEvent.objects.filter(action="opinion.cancel", actor=reviewer).count() == 1
    assert (
        "Le porteur a retiré le lieu."
        in OutgoingEmail.objects.get(key=f"opinion:{opinion.pk}:cancelled").body
    )


def test_a_manual_reminder_goes_once_a_day_and_only_while_open():
    application, reviewer = in_review_application()
    opinion = ask(application, reviewer)
    today = timezone.localdate()
    opinion_remind(opinion=opinion, actor=reviewer, today=today)
    with pytest.raises(ValidationError, match="déjà été relancé aujourd'hui"):
        opinion_remind(opinion=opinion, actor=reviewer, today=today)
    opinion_remind(opinion=opinion, actor=reviewer, today=today + timedelta(days=1))
    assert OutgoingEmail.objects.filter(key__startswith=f"opinion:{opinion.pk}:relance:").count() == 2
    assert AuditEvent.objects.filter(action="opinion.remind").count() == 2
    opinion_give(opinion=opinion, verdict="favourable", comment="", actor=opinion.expert)
    with pytest.raises(ValidationError, match="Seule une demande d'avis en attente se relance."):
        opinion_remind(opinion=opinion, actor=reviewer, today=today + timedelta(days=2))


# --- the daily reminders -----------------------------------------------------------------------


def test_the_reminders_before_and_after_the_due_date_go_once_each():
    application, reviewer = in_review_application()
    Call.objects.filter(pk=application.call_id).update(opinion_reminder_days=3)
    today = timezone.localdate()
    opinion = ask(application, reviewer, due_on=today + timedelta(days=10))
    quiet = ask(application, reviewer, email="rendu@exemple.gouv.fr", due_on=today + timedelta(days=10))
    opinion_give(opinion=quiet, verdict="favourable", comment="", actor=quiet.expert)

    none = {"reminders": 0, "overdue_expert": 0, "overdue_instruction": 0}
    assert opinions_reminders_send(today=today + timedelta(days=6)) == none
    assert opinions_reminders_send(today=today + timedelta(days=7)) == {**none, "reminders": 1}
    assert opinions_reminders_send(today=today + timedelta(days=8)) == none
    reminder = OutgoingEmail.objects.get(key=opinion_reminder_key(opinion.pk))
    assert reminder.to == [opinion.email] and QUESTION in reminder.body
    # The due date itself is still on time; the day after, both sides hear of it, once.
    assert opinions_reminders_send(today=today + timedelta(days=10)) == none
    late = {"reminders": 0, "overdue_expert": 1, "overdue_instruction": 1}
    assert opinions_reminders_send(today=today + timedelta(days=11)) == late
    assert opinions_reminders_send(today=today + timedelta(days=12)) == none
    expert_key, instruction_key = opinion_overdue_keys(opinion.pk)
    assert OutgoingEmail.objects.get(key=expert_key).to == [opinion.email]
    told = OutgoingEmail.objects.get(key=instruction_key)
    assert told.to == [reviewer.email] and "n'est pas encore rendu" in told.body
    assert not OutgoingEmail.objects.filter(key__startswith=f"opinion:{quiet.pk}:overdue").exists()
    assert not OutgoingEmail.objects.filter(key=opinion_reminder_key(quiet.pk)).exists()


def test_no_reminder_before_the_due_date_when_the_call_sets_none_and_the_task_runs_the_sender():
    application, reviewer = in_review_application()
    Call.objects.filter(pk=application.call_id).update(opinion_reminder_days=0)
    ask(application, reviewer, due_on=timezone.localdate() + timedelta(days=1))
    assert opinions_reminders_task() == {"reminders": 0, "overdue_expert": 0, "overdue_instruction": 0}
    assert not OutgoingEmail.objects.filter(key__endswith=":reminder").exists()


# --- what the applicant and the list see -------------------------------------------------------


def test_a_shared_opinion_shows_on_the_applicant_s_page_once_given_a_confidential_one_never():
    application, reviewer = in_review_application()
    shared = ask(application, reviewer, email="partage@exemple.gouv.fr", organisation_name="Préfecture")
    Opinion.objects.filter(pk=shared.pk).update(confidential=False)
    secret = ask(application, reviewer, email="secret@exemple.gouv.fr", organisation_name="Service secret")
    client = logged(application.created_by)
    url = reverse("applications:dossier-detail", args=[application.reference])
    assert "Préfecture" not in text(client.get(url))  # shared, but not given yet
    shared.refresh_from_db()
    opinion_give(opinion=shared, verdict="favourable", comment="Projet bien ancré.", actor=shared.expert)
    opinion_give(opinion=secret, verdict="unfavourable", comment="Confidentiel : non.", actor=secret.expert)
    page = text(client.get(url))
    assert "Avis d'experts" in page and "Préfecture" in page and "Projet bien ancré." in page
    assert "Service secret" not in page and "Confidentiel : non." not in page


def test_the_list_filters_the_dossiers_with_an_overdue_opinion():
    application, reviewer = in_review_application()
    other, _other_reviewer = in_review_application()
    today = timezone.localdate()
    ask(application, reviewer, due_on=today + timedelta(days=2))
    ask(other, programme_admin(), due_on=today + timedelta(days=5))
    me = occitanie_instructor()

    def overdue_on(days: int) -> list[str]:
        now = timezone.now() + timedelta(days=days)
        return sorted(
            workspace_filtered(me, {"opinions_overdue": "1"}, now=now).values_list("reference", flat=True)
        )

    assert overdue_on(2) == []
    assert overdue_on(3) == [application.reference]
    assert overdue_on(6) == sorted([application.reference, other.reference])


def test_no_opinion_is_asked_on_a_decided_dossier():
    from decimal import Decimal

    from grants.services import application_award

    application, reviewer = in_review_application()
    application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    application.refresh_from_db()
    before = footprint()
    with pytest.raises(ValidationError, match="Un avis se demande sur un dossier déposé ou en instruction"):
        ask(application, reviewer)
    assert footprint() == before


def test_withdrawing_the_dossier_cancels_its_open_requests_and_tells_the_expert():
    from applications.services import application_withdraw

    application, reviewer = in_review_application()
    open_one = ask(application, reviewer)
    given = ask(application, reviewer, email="rendu@exemple.gouv.fr")
    opinion_give(opinion=given, verdict="favourable", comment="", actor=given.expert)
    application_withdraw(application=application, actor=application.created_by, reason="Projet abandonné.")
    open_one.refresh_from_db()
    given.refresh_from_db()
    assert (open_one.status, given.status) == (OS.CANCELLED, OS.GIVEN)
    change = open_one.changes.get(to_status=OS.CANCELLED)
    assert change.actor == application.created_by and change.note == "Le dossier a été retiré par le porteur."
    audit = AuditEvent.objects.get(action="opinion.cancel")
    assert audit.data["by"] == "application.withdraw"
    assert "retiré par le porteur" in OutgoingEmail.objects.get(key=f"opinion:{open_one.pk}:cancelled").body
    url = reverse("applications:expert-request", args=[open_one.pk])
    assert logged(open_one.expert).get(url).status_code == 404
