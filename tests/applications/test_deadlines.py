"""Deadlines applicants keep: corrections due by a date (reminders, overdue, closing), and drafts
reminded before their wave closes. Time travels by the services' `today=` / `now=`."""

import html
import re
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from applications.models import Application, Call, Message, Wave
from applications.services import application_submit, application_withdraw
from applications.services.deadlines import (
    corrections_deadlines_send,
    corrections_overdue_key,
    corrections_reminder_key,
    draft_reminder_key,
    drafts_reminders_send,
)
from applications.services.review import corrections_request
from applications.tasks import corrections_deadlines_task, drafts_reminders_task
from core.formatting import format_date
from grants.services import application_close
from notifications.models import OutgoingEmail
from tests.factories import (
    CallFactory,
    UserFactory,
    applicant,
    complete_application,
    in_review_application,
    member_of,
)
from tests.pages import logged

pytestmark = pytest.mark.django_db

S = Application.Status


def page(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.content.decode())


def field_error(response, field_id: str) -> str:  # type: ignore[no-untyped-def]
    match = re.search(
        rf'<div id="{re.escape(field_id)}-erreurs">(.*?)</div>', response.content.decode(), re.S
    )
    assert match, f"no error under {field_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def review_url(application: Application) -> str:
    return reverse("applications:review-detail", args=[application.reference])


def asked(points: tuple[str, ...] = ("Joindre les comptes 2025",), **kwargs: object):  # type: ignore[no-untyped-def]
    """A dossier in review whose instructor asked for corrections; returns it fresh, and the instructor."""
    application, reviewer = in_review_application()
    corrections_request(application=application, points=list(points), actor=reviewer, **kwargs)
    application.refresh_from_db()
    return application, reviewer


def emails(prefix: str) -> list[OutgoingEmail]:
    return list(OutgoingEmail.objects.filter(key__startswith=prefix).order_by("pk"))


# --- the due date of a request for corrections ----------------------------------------------------


def test_a_request_for_corrections_is_due_after_the_calls_delay_by_default():
    application, reviewer = in_review_application()
    Call.objects.filter(pk=application.call_id).update(corrections_delay_days=10)
    today = timezone.localdate()

    change = corrections_request(application=application, points=["Le RIB"], actor=reviewer)

    application.refresh_from_db()
    due = today + timedelta(days=10)
    assert application.status == S.CORRECTIONS
    assert application.corrections_due_on == due
    assert change.application.corrections_due_on == due
    email = OutgoingEmail.objects.get(key=f"application:{application.pk}:corrections:{change.pk}")
    assert f"avant le {format_date(due)}" in email.body
    thread = Message.objects.get(application=application, side=Message.Side.INSTRUCTION)
    assert f"à fournir avant le {format_date(due)}" in thread.body
    event = AuditEvent.objects.get(action="review.corrections", target_id=str(application.pk))
    assert event.data == {"due_on": due.isoformat()}


def test_the_instructor_chooses_the_due_date_and_it_must_be_after_today():
    application, reviewer = in_review_application()
    today = date(2027, 3, 10)
    for past in (today, today - timedelta(days=1)):
        with pytest.raises(ValidationError) as refused:
            corrections_request(
                application=application, points=["Le RIB"], due_on=past, today=today, actor=reviewer
            )
        assert refused.value.message_dict == {
            "due_on": ["La date limite doit être postérieure à aujourd'hui (10 mars 2027)."]
        }
    # Both mistakes at once: each next to its field.
    with pytest.raises(ValidationError) as refused:
        corrections_request(application=application, points=[" "], due_on=today, today=today, actor=reviewer)
    assert set(refused.value.message_dict) == {"points", "due_on"}
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW and application.corrections_due_on is None
    assert not Message.objects.filter(application=application, side=Message.Side.INSTRUCTION).exists()
    assert not OutgoingEmail.objects.filter(key__contains=":corrections:").exists()

    corrections_request(
        application=application, points=["Le RIB"], due_on=date(2027, 3, 11), today=today, actor=reviewer
    )
    application.refresh_from_db()
    assert application.corrections_due_on == date(2027, 3, 11)


def test_answering_the_corrections_clears_the_due_date():
    application, _reviewer = asked()
    assert application.corrections_due_on is not None
    application_submit(application=application, actor=application.created_by)
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW
    assert application.corrections_due_on is None


def test_withdrawing_clears_the_due_date_and_the_database_refuses_a_date_out_of_corrections():
    application, _reviewer = asked()
    application_withdraw(application=application, actor=application.created_by)
    application.refresh_from_db()
    assert application.status == S.WITHDRAWN and application.corrections_due_on is None
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.filter(pk=application.pk).update(corrections_due_on=date(2027, 1, 1))


def test_the_form_is_prefilled_with_the_calls_delay_and_a_past_date_is_refused_next_to_the_field():
    application, reviewer = in_review_application()
    client = logged(reviewer)
    default = timezone.localdate() + timedelta(days=15)
    text = page(client.get(review_url(application)))
    assert f'name="corrections-due_on" value="{default.isoformat()}"' in text
    assert "Le porteur est relancé par courriel 3 jour(s) avant cette date." in text

    response = client.post(
        reverse("applications:review-corrections", args=[application.reference]),
        {"corrections-points": "Le RIB", "corrections-due_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 200
    assert "La date limite doit être postérieure à aujourd'hui" in field_error(
        response, "id_corrections-due_on"
    )
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW

    chosen = timezone.localdate() + timedelta(days=30)
    response = client.post(
        reverse("applications:review-corrections", args=[application.reference]),
        {"corrections-points": "Le RIB", "corrections-due_on": chosen.isoformat()},
        follow=True,
    )
    assert f"Les compléments sont demandés au porteur, avant le {format_date(chosen)}" in page(response)
    application.refresh_from_db()
    assert application.corrections_due_on == chosen


def test_the_due_date_is_shown_to_the_applicant_and_to_the_instructor():
    application, reviewer = asked(points=("Préciser le budget",))
    due = format_date(application.corrections_due_on)
    owner = logged(application.created_by)

    detail = page(owner.get(reverse("applications:dossier-detail", args=[application.reference])))
    assert f"Compléments demandés : à compléter avant le {due}." in detail
    assert "Modifiez le dossier puis déposez-le de nouveau avant cette date" in detail

    home = page(owner.get(reverse("applications:applicant-home")))
    assert f"À compléter avant le {due}." in home
    assert "En retard" not in home

    review = page(logged(reviewer).get(review_url(application)))
    assert f"compléments à fournir avant le {due}" in review
    assert f"À fournir avant le {due}." in review
    assert "Délai dépassé" not in review


def test_once_due_the_applicant_sees_it_late_and_the_instructor_may_close_with_the_reason_prefilled():
    application, reviewer = asked()
    client = logged(reviewer)
    decide = reverse("grants:review-decide", args=[application.reference])

    # Before the due date: no closing offered, and a posted one is refused.
    text = page(client.get(review_url(application)))
    assert 'name="decision" value="close"' not in text
    response = client.post(decide, {"decision": "close", "reason": "Abandon."}, follow=True)
    assert "pour déposer ses compléments : le dossier ne peut être classé sans suite" in page(response)
    with pytest.raises(ValidationError, match="ne peut être classé sans suite qu'à partir"):
        application_close(application=application, reason="Abandon.", actor=reviewer)
    application.refresh_from_db()
    assert application.status == S.CORRECTIONS

    # The due date has come (today).
    due_on = timezone.localdate()
    Application.objects.filter(pk=application.pk).update(corrections_due_on=due_on)
    home = page(logged(application.created_by).get(reverse("applications:applicant-home")))
    assert "En retard" in home
    detail = page(
        logged(application.created_by).get(
            reverse("applications:dossier-detail", args=[application.reference])
        )
    )
    assert "Ce délai est passé" in detail

    text = page(client.get(review_url(application)))
    assert "Délai de compléments dépassé" in text
    assert 'name="decision" value="close"' in text
    assert "Délai de compléments dépassé.</textarea>" in text

    recap = client.post(decide, {"decision": "close", "reason": "Délai de compléments dépassé."})
    assert "Confirmer le classement sans suite" in page(recap)
    # The recap says what the confirmation does: a letter, with its reason, to the applicant.
    assert "La lettre de classement sans suite, avec le motif, est envoyée au porteur" in page(recap)
    assert "recevra la lettre de décision par courriel" in page(recap)
    assert "Aucune lettre" not in page(recap)
    application.refresh_from_db()
    assert application.status == S.CORRECTIONS  # the recap wrote nothing

    client.post(decide, {"decision": "close", "reason": "Délai de compléments dépassé.", "confirmer": "1"})
    application.refresh_from_db()
    assert application.status == S.CLOSED
    assert application.corrections_due_on is None
    assert application.status_changes.last().note == "Délai de compléments dépassé."
    # The letter says why, and that the corrections were due by the date set (read before the move
    # cleared it).
    email = OutgoingEmail.objects.get(key__contains="closing-letter-email")
    letter = email.attachments.get()
    assert letter.context["reasons"] == ["Délai de compléments dépassé."]
    assert letter.context["corrections_due_on"] == format_date(due_on)


# --- reminders and the instructors told ------------------------------------------------------------


def test_the_applicant_is_reminded_once_before_the_due_date_and_the_instructors_told_once_after():
    application, reviewer = asked()
    partner = applicant()
    member_of(application.members.get(is_lead=True).organisation, partner)
    due = application.corrections_due_on
    request = application.status_changes.filter(to_status=S.CORRECTIONS).last()
    reminder = corrections_reminder_key(application.pk, request.pk)
    overdue = corrections_overdue_key(application.pk, request.pk)

    # Four days before (the call reminds 3 days before): nothing.
    assert corrections_deadlines_send(today=due - timedelta(days=4)) == {"reminders": 0, "overdue": 0}
    assert not emails("deadline:")

    assert corrections_deadlines_send(today=due - timedelta(days=3)) == {"reminders": 1, "overdue": 0}
    [sent] = emails("deadline:")
    assert sent.key == reminder
    assert sorted(sent.to) == sorted([application.created_by.email, partner.email])
    assert f"avant le {format_date(due)}" in sent.subject
    assert "- Joindre les comptes 2025" in sent.body
    assert reverse("applications:dossier-detail", args=[application.reference]) in sent.body

    # The same day again, the next days: nothing more.
    for day in (3, 2, 1):
        assert corrections_deadlines_send(today=due - timedelta(days=day)) == {"reminders": 0, "overdue": 0}
    assert len(emails("deadline:")) == 1

    assert corrections_deadlines_send(today=due) == {"reminders": 0, "overdue": 1}
    told = OutgoingEmail.objects.get(key=overdue)
    assert told.to == [reviewer.email]
    assert "Délai de compléments dépassé" in told.subject
    assert reverse("applications:review-detail", args=[application.reference]) in told.body
    assert corrections_deadlines_send(today=due + timedelta(days=1)) == {"reminders": 0, "overdue": 0}
    assert len(emails("deadline:")) == 2


def test_a_missed_day_is_caught_up_and_a_second_request_has_reminders_of_its_own():
    application, reviewer = asked()
    first_due = application.corrections_due_on
    # Beat was down on the day of the reminder: the next run, still before the due date, sends it.
    assert corrections_deadlines_send(today=first_due - timedelta(days=1))["reminders"] == 1

    application_submit(application=application, actor=application.created_by)
    application.refresh_from_db()
    # Answered: nothing is sent about it any more.
    assert corrections_deadlines_send(today=first_due) == {"reminders": 0, "overdue": 0}

    corrections_request(application=application, points=["Encore le RIB"], actor=reviewer)
    application.refresh_from_db()
    second_due = application.corrections_due_on
    assert corrections_deadlines_send(today=second_due - timedelta(days=2))["reminders"] == 1
    assert len(emails("deadline:corrections-reminder:")) == 2


def test_no_reminder_when_the_call_sets_none_and_nothing_for_dossiers_not_waiting():
    application, _reviewer = asked()
    Call.objects.filter(pk=application.call_id).update(corrections_reminder_days=0)
    withdrawn, _other = asked()
    application_withdraw(application=withdrawn, actor=withdrawn.created_by)
    answered, _third = asked()
    application_submit(application=answered, actor=answered.created_by)
    due = application.corrections_due_on

    assert corrections_deadlines_send(today=due - timedelta(days=1)) == {"reminders": 0, "overdue": 0}
    # The instructors are still told once the date has come.
    assert corrections_deadlines_send(today=due) == {"reminders": 0, "overdue": 1}
    assert [email.key for email in emails("deadline:")] == [
        corrections_overdue_key(
            application.pk, application.status_changes.filter(to_status=S.CORRECTIONS).get().pk
        )
    ]


# --- drafts reminded before their wave closes ----------------------------------------------------------


def wave_in(call: Call, days: int, number: int = 1) -> Wave:
    return Wave.objects.create(
        call=call, number=number, name=f"Vague {number}", deadline=timezone.now() + timedelta(days=days)
    )


def test_each_draft_is_reminded_once_n_days_before_its_wave_closes_with_what_is_missing():
    call = CallFactory()
    wave = wave_in(call, 20)
    complete = complete_application(call=call)
    incomplete = complete_application(call=call)
    Application.objects.filter(pk=incomplete.pk).update(services="")
    submitted = complete_application(call=call)
    application_submit(application=submitted, actor=submitted.created_by)
    withdrawn = complete_application(call=call)
    application_withdraw(application=withdrawn, actor=withdrawn.created_by)
    deadline = wave.deadline

    assert drafts_reminders_send(now=deadline - timedelta(days=8)) == {"drafts": 0, "emails_queued": 0}
    assert not emails("deadline:")

    assert drafts_reminders_send(now=deadline - timedelta(days=7)) == {"drafts": 2, "emails_queued": 2}
    by_key = {email.key: email for email in emails("deadline:draft-reminder:")}
    assert set(by_key) == {
        draft_reminder_key(complete.pk, wave.pk),
        draft_reminder_key(incomplete.pk, wave.pk),
    }
    first = by_key[draft_reminder_key(complete.pk, wave.pk)]
    assert first.to == [complete.created_by.email]
    assert "« Vague 1 »" in first.subject and format_date(deadline) in first.subject
    assert complete.reference in first.body and "Vague 1" in first.body
    assert "il ne reste qu'à le déposer" in first.body
    second = by_key[draft_reminder_key(incomplete.pk, wave.pk)]
    assert "Ce qu'il reste à compléter" in second.body
    assert "Rubrique à compléter : services et activités proposés." in second.body

    # Again that day, the next days: nothing more.
    for days in (7, 3, 1):
        assert drafts_reminders_send(now=deadline - timedelta(days=days))["emails_queued"] == 0
    assert len(emails("deadline:")) == 2


def test_the_next_wave_has_its_own_reminder_and_a_call_without_delay_sends_none():
    call = CallFactory()
    first = wave_in(call, 5, number=1)
    second = wave_in(call, 40, number=2)
    draft = complete_application(call=call)
    quiet = CallFactory(draft_reminder_days=0)
    wave_in(quiet, 5)
    complete_application(call=quiet)

    assert drafts_reminders_send(now=timezone.now())["emails_queued"] == 1
    assert OutgoingEmail.objects.filter(key=draft_reminder_key(draft.pk, first.pk)).exists()
    # The first wave closed: the draft now belongs to the second, reminded 7 days before it.
    assert drafts_reminders_send(now=first.deadline + timedelta(hours=1))["emails_queued"] == 0
    assert drafts_reminders_send(now=second.deadline - timedelta(days=7))["emails_queued"] == 1
    assert OutgoingEmail.objects.filter(key=draft_reminder_key(draft.pk, second.pk)).exists()
    assert len(emails("deadline:")) == 2


def test_a_closed_call_reminds_nobody():
    call = CallFactory()
    wave_in(call, 3)
    complete_application(call=call)
    Call.objects.filter(pk=call.pk).update(status=Call.Status.CLOSED)
    assert drafts_reminders_send() == {"drafts": 0, "emails_queued": 0}


# --- the beat tasks ----------------------------------------------------------------------------------


def test_the_daily_tasks_are_scheduled_on_the_default_queue_and_call_their_service():
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "applications.tasks.corrections_deadlines_task",
        "applications.tasks.drafts_reminders_task",
    } <= schedule
    for name in ("applications.tasks.corrections_deadlines_task", "applications.tasks.drafts_reminders_task"):
        assert name not in settings.CELERY_TASK_ROUTES  # the default queue
    application, _reviewer = asked()
    Application.objects.filter(pk=application.pk).update(corrections_due_on=timezone.localdate())
    assert corrections_deadlines_task() == {"reminders": 0, "overdue": 1}
    assert corrections_deadlines_task() == {"reminders": 0, "overdue": 0}
    call = CallFactory()
    wave_in(call, 2)
    complete_application(call=call)
    assert drafts_reminders_task() == {"drafts": 1, "emails_queued": 1}
    assert drafts_reminders_task() == {"drafts": 1, "emails_queued": 0}


# --- the call's settings, in the admin -------------------------------------------------------------


def test_the_calls_delays_are_set_in_the_admin_audited_and_a_zero_delay_is_refused_next_to_the_field(client):  # type: ignore[no-untyped-def]
    from tests.config.test_admin_writes import change_form_data

    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    call = CallFactory()
    url = reverse("admin:applications_call_change", args=[call.pk])
    page_text = page(client.get(url))
    for name in ("corrections_delay_days", "corrections_reminder_days", "draft_reminder_days"):
        assert f'name="{name}"' in page_text

    response = client.post(url, change_form_data(client, url, corrections_delay_days="0"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["corrections_delay_days"] == [
        "Assurez-vous que cette valeur est supérieure ou égale à 1."
    ]
    assert not AuditEvent.objects.filter(action="call.update").exists()

    response = client.post(
        url, change_form_data(client, url, corrections_delay_days="21", draft_reminder_days="0")
    )
    assert response.status_code == 302
    call.refresh_from_db()
    assert (call.corrections_delay_days, call.draft_reminder_days) == (21, 0)
    event = AuditEvent.objects.get(action="call.update", actor=superuser)
    assert event.data == {
        "fields": ["corrections_delay_days", "draft_reminder_days"],
        "before": {"corrections_delay_days": 15, "draft_reminder_days": 7},
        "after": {"corrections_delay_days": 21, "draft_reminder_days": 0},
    }


def test_a_daily_run_with_nothing_new_to_send_costs_two_queries_whatever_the_number_of_dossiers(
    django_assert_num_queries,
):  # type: ignore[no-untyped-def]
    dossiers = [asked()[0] for _ in range(3)]
    due = min(application.corrections_due_on for application in dossiers)
    assert corrections_deadlines_send(today=due - timedelta(days=1))["reminders"] == 3
    # The dossiers waiting (with their call and request), then the e-mails already written.
    with django_assert_num_queries(2):
        assert corrections_deadlines_send(today=due - timedelta(days=1)) == {"reminders": 0, "overdue": 0}


def test_a_closing_confirmed_after_a_last_minute_answer_is_refused_and_the_dossier_stays_in_review():
    application, reviewer = asked()
    Application.objects.filter(pk=application.pk).update(corrections_due_on=timezone.localdate())
    client = logged(reviewer)
    text = page(client.get(review_url(application)))
    assert 'name="closing_from" value="corrections_requested"' in text
    # The applicant answers while the instructor reads the recap.
    application_submit(application=application, actor=application.created_by)

    response = client.post(
        reverse("grants:review-decide", args=[application.reference]),
        {
            "decision": "close",
            "reason": "Délai de compléments dépassé.",
            "closing_from": "corrections_requested",
            "confirmer": "1",
        },
        follow=True,
    )
    assert "Le dossier est passé à l'état « En instruction » depuis l'affichage de la page" in page(response)
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW
    assert not OutgoingEmail.objects.filter(key__contains="close-email").exists()


def test_a_call_closing_before_the_wave_times_the_reminder_on_its_own_closing():
    call = CallFactory(closes_at=timezone.now() + timedelta(days=10))
    wave = wave_in(call, 30)
    draft = complete_application(call=call)
    assert drafts_reminders_send(now=call.closes_at - timedelta(days=8))["emails_queued"] == 0
    assert drafts_reminders_send(now=call.closes_at - timedelta(days=7))["emails_queued"] == 1
    email = OutgoingEmail.objects.get(key=draft_reminder_key(draft.pk, wave.pk))
    assert format_date(call.closes_at) in email.subject
    assert f"avant le {format_date(call.closes_at)}" in email.body


def test_only_a_request_for_corrections_carries_a_due_date_through_the_funnel():
    from applications.workflow import transition

    application, reviewer = in_review_application()
    with pytest.raises(ValueError, match="only a request for corrections"), transaction.atomic():
        transition(
            application=application, to_status=S.CLOSED, actor=reviewer, corrections_due_on=date(2030, 1, 1)
        )
    application.refresh_from_db()
    assert application.status == S.IN_REVIEW
