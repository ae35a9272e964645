"""The notification centre's rows: every kind fires from its service to the right people, once; the
preferences decide the e-mails; the daily digest; the unread counter always equals a recount."""

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent, User
from accounts.services import notification_preferences_set
from applications.models import Application
from applications.services import application_submit
from applications.services.messaging import broadcast_send
from applications.services.notify import dossiers_overdue_notify, message_notify
from applications.services.review import (
    assignment_create,
    corrections_request,
    message_post,
    opinion_give,
    opinion_request,
)
from core.formatting import format_money
from fabriques.models import Departement, Region
from fabriques.services import instructor_scope_set
from grants.models import Tranche
from grants.services import application_award
from grants.services.notify import payments_overdue_notify
from grants.services.payments import tranche_pay
from notifications.models import Delivery, Frequency, Notification, NotificationPreference, OutgoingEmail
from notifications.models import NotificationKind as K
from notifications.services_inbox import (
    Event,
    digest_send,
    digests_send,
    notification_mark_read,
    notifications_mark_all_read,
    notify,
    notify_many,
    unread_recount,
)
from tests.factories import (
    applicant,
    in_review_application,
    instructor,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def counters_equal_a_recount() -> Iterator[None]:
    """After every test of this file: each person's unread counter equals a count of their rows."""
    yield
    for user_id, counter in User.objects.values_list("pk", "unread_notifications"):
        assert counter == unread_recount(user_id=user_id), f"user {user_id}: counter {counter}"


def kinds_of(user: User) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("pk").values_list("kind", flat=True))


def instant_emails(user: User) -> list[OutgoingEmail]:
    return list(OutgoingEmail.objects.filter(key__startswith="notification:", to=[user.email]))


def paris_instructor() -> User:
    user = instructor()
    instructor_scope_set(instructor=user, regions=[Region.objects.get(code="11")], actor=None)
    return user


# --- instruction staff ------------------------------------------------------------------------------


def test_a_submitted_dossier_notifies_the_instructors_of_its_territory_only_in_their_digest() -> None:
    covering, elsewhere = occitanie_instructor(), paris_instructor()
    application = submitted_application()
    notification = Notification.objects.get(recipient=covering)
    assert notification.kind == K.DOSSIER_SUBMITTED
    assert notification.dossier == application
    assert application.reference in notification.title
    assert notification.link == f"/instruction/dossiers/{application.reference}/"
    assert notification.delivery == Delivery.DIGEST
    assert kinds_of(elsewhere) == []
    assert kinds_of(application.created_by) == []
    # In the digest by default: no e-mail until the digest's task.
    assert instant_emails(covering) == []
    assert User.objects.get(pk=covering.pk).unread_notifications == 1


def test_corrections_answered_notify_the_assigned_instructors_at_once_and_corrections_asked_the_applicants() -> (
    None
):
    application, reviewer = in_review_application()
    other = occitanie_instructor()  # covers the territory, not assigned
    change = corrections_request(application=application, points=["Le RIB"], actor=reviewer)
    asked = Notification.objects.get(recipient=application.created_by)
    assert (asked.kind, asked.delivery) == (K.CORRECTIONS_ASKED, Delivery.NONE)
    # The request itself, a legal act with its due date, is still e-mailed, not doubled.
    assert OutgoingEmail.objects.filter(key=f"application:{application.pk}:corrections:{change.pk}").exists()
    assert instant_emails(application.created_by) == []
    application_submit(application=application, actor=application.created_by)
    answered = Notification.objects.get(recipient=reviewer, kind=K.CORRECTIONS_ANSWERED)
    assert answered.delivery == Delivery.INSTANT
    [email] = instant_emails(reviewer)
    assert answered.email == email
    assert email.subject == answered.title
    assert f"/instruction/dossiers/{application.reference}/" in email.body
    assert K.CORRECTIONS_ANSWERED not in kinds_of(other)
    # A resubmission is not a new dossier for the territory.
    assert kinds_of(other) == []


def test_an_opinion_given_notifies_who_asked_it_and_the_assigned_instructors_once() -> None:
    application, reviewer = in_review_application()
    asker = occitanie_instructor()
    assignment_create(application=application, instructor=asker, actor=asker)
    bystander = occitanie_instructor()
    opinion = opinion_request(
        application=application,
        email="ddt@gers.gouv.fr",
        organisation_name="DDT",
        question="Le local est-il conforme ?",
        actor=asker,
    )
    # The expert finds the request in their own centre (its e-mail carries the invitation).
    assert kinds_of(opinion.expert) == [K.OPINION_REQUESTED]
    assert opinion.expert.notifications.get().delivery == "none"
    opinion_give(opinion=opinion, verdict="favourable", comment="", actor=opinion.expert, author_name="Mme X")
    assert kinds_of(asker).count(K.OPINION_GIVEN) == 1
    assert kinds_of(reviewer).count(K.OPINION_GIVEN) == 1
    assert K.OPINION_GIVEN not in kinds_of(bystander)


def test_a_message_replaces_its_email_by_the_notifications_and_each_side_hears_of_the_other() -> None:
    application, reviewer = in_review_application()
    author = application.created_by
    message = message_post(application=application, body="Une question ?", actor=author)
    assert kinds_of(reviewer)[-1] == K.MESSAGE_FROM_APPLICANT
    # One e-mail per recipient, the notification's: no second e-mail of the message's own.
    assert not OutgoingEmail.objects.filter(key=f"message:{message.pk}").exists()
    [email] = instant_emails(reviewer)
    assert application.reference in email.subject
    # A retry notifies nobody twice.
    message_notify(message=message)
    assert kinds_of(reviewer).count(K.MESSAGE_FROM_APPLICANT) == 1
    assert len(instant_emails(reviewer)) == 1
    message_post(application=application, body="Voici la réponse.", actor=reviewer)
    assert kinds_of(author)[-1] == K.MESSAGE_FROM_INSTRUCTION
    assert f"/mon-espace/dossiers/{application.reference}/messages/" in instant_emails(author)[0].body
    assert K.MESSAGE_FROM_INSTRUCTION not in kinds_of(reviewer)


def test_a_dossier_assigned_by_an_admin_notifies_the_instructor_but_not_one_assigning_oneself() -> None:
    application = submitted_application()
    admin, chosen, volunteer = programme_admin(), occitanie_instructor(), occitanie_instructor()
    assignment_create(application=application, instructor=chosen, actor=admin)
    assignment_create(application=application, instructor=volunteer, actor=volunteer)
    assert K.DOSSIER_ASSIGNED in kinds_of(chosen)
    assert K.DOSSIER_ASSIGNED not in kinds_of(volunteer)
    assert len(instant_emails(chosen)) == 1


def test_an_overdue_dossier_notifies_its_assigned_instructors_once() -> None:
    application, reviewer = in_review_application()
    outsider = occitanie_instructor()
    now = timezone.now()
    assert dossiers_overdue_notify(now=now) == 0
    late = now + timedelta(days=application.call.instruction_delay_days + 1)
    assert dossiers_overdue_notify(now=late) == 1
    assert dossiers_overdue_notify(now=late + timedelta(days=1)) == 0
    assert kinds_of(reviewer).count(K.DOSSIER_OVERDUE) == 1
    assert K.DOSSIER_OVERDUE not in kinds_of(outsider)


# --- grants ------------------------------------------------------------------------------------------


def test_a_decision_and_a_tranche_paid_notify_the_applicants_in_the_centre_only() -> None:
    application, reviewer = in_review_application()
    grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    author = application.created_by
    decision = Notification.objects.get(recipient=author, kind=K.DECISION_TAKEN)
    assert decision.delivery == Delivery.NONE
    assert decision.title == f"Décision sur votre dossier {application.reference} : Lauréat"
    assert OutgoingEmail.objects.filter(key__contains="award-letter-email").exists()
    assert K.DECISION_TAKEN not in kinds_of(reviewer)
    admin = programme_admin()
    tranche = Tranche.objects.get(grant=grant, year_index=1)
    Tranche.objects.filter(pk=tranche.pk).update(
        status=Tranche.Status.VALIDATED,
        requested_at=timezone.now() - timedelta(days=3),
        validated_at=timezone.now() - timedelta(days=1),
    )
    tranche.refresh_from_db()
    tranche_pay(tranche=tranche, paid_on=timezone.localdate(), payment_reference="MANDAT-1", actor=admin)
    paid = Notification.objects.get(recipient=author, kind=K.TRANCHE_PAID)
    assert paid.grant == grant
    assert paid.text.startswith(f"Le versement de {format_money(tranche.amount)} a été effectué le ")
    assert instant_emails(author) == []


def test_an_overdue_payment_notifies_the_programme_admins_once_per_tranche() -> None:
    application, reviewer = in_review_application()
    grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    admin = programme_admin()
    Tranche.objects.filter(grant=grant, year_index=1).update(
        status=Tranche.Status.REQUESTED, requested_at=timezone.now() - timedelta(days=70)
    )
    today = timezone.localdate()
    assert payments_overdue_notify(today=today) == 1
    assert payments_overdue_notify(today=today + timedelta(days=1)) == 0
    notification = Notification.objects.get(recipient=admin, kind=K.PAYMENT_OVERDUE)
    assert notification.delivery == Delivery.DIGEST
    assert K.PAYMENT_OVERDUE not in kinds_of(reviewer)
    assert K.PAYMENT_OVERDUE not in kinds_of(application.created_by)


# --- bulk --------------------------------------------------------------------------------------------


def submitted_in_gers() -> Application:
    application = submitted_application()
    Application.objects.filter(pk=application.pk).update(departement=Departement.objects.get(code="32"))
    return Application.objects.get(pk=application.pk)


def test_a_broadcast_notifies_the_applicants_of_every_dossier_in_the_centre_only() -> None:
    reviewer = occitanie_instructor()
    first, second = submitted_in_gers(), submitted_in_gers()
    broadcast_send(
        token=uuid.uuid4(),
        subject="Réunion d'information",
        body="Le 12 janvier.",
        dossiers=Application.objects.filter(pk__in=[first.pk, second.pk]),
        actor=reviewer,
    )
    for application in (first, second):
        notification = Notification.objects.get(
            recipient=application.created_by, kind=K.MESSAGE_FROM_INSTRUCTION
        )
        assert notification.dossier_id == application.pk
        # The broadcast's own e-mail carries the text: not e-mailed twice.
        assert notification.delivery == Delivery.NONE
        assert instant_emails(application.created_by) == []


def test_notify_many_takes_the_same_number_of_queries_whatever_the_number_of_recipients() -> None:
    def queries_for(count: int) -> int:
        people = [instructor().pk for _ in range(count)]
        NotificationPreference.objects.create(user_id=people[0], kind=K.DOSSIER_ASSIGNED, frequency="digest")
        event = Event(kind=K.DOSSIER_ASSIGNED, key=f"test:{count}", title="Titre", text="", link="/")
        with CaptureQueriesContext(connection) as captured:
            written = notify(event=event, recipient_ids=people)
        assert len(written) == count
        return len(captured)

    small, large = queries_for(2), queries_for(9)
    assert small == large
    # Lock the people, the keys already there, the preferences, the e-mails, the rows, the counters.
    assert large <= 6


def test_notify_many_counts_each_person_once_per_event_across_events() -> None:
    person = instructor()
    events = [
        (Event(kind=K.DOSSIER_OVERDUE, key=f"test:{index}", title="T", text="", link="/"), [person.pk])
        for index in range(3)
    ]
    notify_many(events=events)
    notify_many(events=events)
    assert User.objects.get(pk=person.pk).unread_notifications == 3


# --- preferences --------------------------------------------------------------------------------------


def notify_assigned(person: User, key: str) -> Notification:
    [row] = notify(
        event=Event(kind=K.DOSSIER_ASSIGNED, key=key, title="Dossier", text="", link="/"),
        recipient_ids=[person.pk],
    )
    return row


@pytest.mark.parametrize(
    ("frequency", "delivery", "emails"),
    [
        (Frequency.INSTANT, Delivery.INSTANT, 1),
        (Frequency.DIGEST, Delivery.DIGEST, 0),
        (Frequency.NEVER, Delivery.NONE, 0),
    ],
)
def test_the_preferences_decide_the_email(frequency: str, delivery: str, emails: int) -> None:
    person = instructor()
    notification_preferences_set(user=person, choices={K.DOSSIER_ASSIGNED: frequency}, actor=person)
    row = notify_assigned(person, "pref")
    assert row.delivery == delivery
    assert len(instant_emails(person)) == emails


def test_the_preferences_are_audited_and_refuse_a_kind_of_another_role() -> None:
    person = instructor()
    changes = notification_preferences_set(user=person, choices={K.DOSSIER_SUBMITTED: "never"}, actor=person)
    assert changes == {K.DOSSIER_SUBMITTED: ["digest", "never"]}
    event = AuditEvent.objects.get(action="notifications.preferences")
    assert event.actor == person
    assert event.data == {"changes": {K.DOSSIER_SUBMITTED: ["digest", "never"]}}
    with pytest.raises(Exception, match="ne concerne pas votre rôle"):
        notification_preferences_set(user=person, choices={K.PAYMENT_OVERDUE: "never"}, actor=person)
    someone = applicant()
    with pytest.raises(Exception, match="invalide"):
        notification_preferences_set(user=someone, choices={K.DECISION_TAKEN: "instant"}, actor=someone)
    with pytest.raises(Exception, match="propres notifications"):
        notification_preferences_set(
            user=someone, choices={K.MESSAGE_FROM_INSTRUCTION: "never"}, actor=person
        )


def test_an_inactive_or_unconfirmed_account_gets_no_instant_email() -> None:
    person = instructor()
    User.objects.filter(pk=person.pk).update(is_active=False)
    row = notify_assigned(person, "inactive")
    assert row.delivery == Delivery.NONE
    assert instant_emails(person) == []


# --- the digest ---------------------------------------------------------------------------------------


def test_the_digest_is_one_email_per_person_grouped_by_kind_with_links_and_sent_once_a_day() -> None:
    person, other, quiet = instructor(), instructor(), instructor()
    for index in range(2):
        notify(
            event=Event(
                kind=K.DOSSIER_SUBMITTED,
                key=f"s{index}",
                title=f"Nouveau dossier {index}",
                text="",
                link=f"/d/{index}/",
            ),
            recipient_ids=[person.pk, other.pk],
        )
    notify(
        event=Event(kind=K.DOSSIER_OVERDUE, key="o", title="Dossier en retard", text="", link="/o/"),
        recipient_ids=[person.pk],
    )
    notify_assigned(person, "instant")  # instant: not in the digest
    day = date(2026, 12, 5)
    assert digests_send(day=day) == {"digests": 2}
    email = OutgoingEmail.objects.get(key=f"digest:{person.pk}:2026-12-05")
    assert email.to == [person.email]
    assert email.subject == "Votre résumé quotidien : 3 notifications"
    body = email.body
    assert body.index("Nouveau dossier déposé dans mon territoire (2)") < body.index(
        "Dossier en retard d'instruction (1)"
    )
    assert "http://testserver/d/0/" in body or "/d/0/" in body
    assert "Dossier qui m'est affecté" not in body
    assert not Notification.objects.filter(
        recipient=person, delivery=Delivery.DIGEST, digested_at__isnull=True
    ).exists()
    assert Notification.objects.filter(recipient=person, email=email).count() == 3
    assert not OutgoingEmail.objects.filter(key__startswith=f"digest:{quiet.pk}:").exists()
    # A second run the same day sends nothing, even for a notification arrived since.
    notify(
        event=Event(kind=K.DOSSIER_SUBMITTED, key="late", title="Tard", text="", link="/"),
        recipient_ids=[person.pk],
    )
    assert digests_send(day=day) == {"digests": 0}
    assert OutgoingEmail.objects.filter(key__startswith="digest:").count() == 2
    # The next day, it goes.
    assert digests_send(day=day + timedelta(days=1)) == {"digests": 1}


def test_the_digest_sends_nothing_when_there_is_nothing_to_say_or_to_a_closed_account() -> None:
    person = instructor()
    assert digest_send(user_id=person.pk, day=date(2026, 12, 5)) is None
    notify(
        event=Event(kind=K.DOSSIER_SUBMITTED, key="s", title="Nouveau", text="", link="/"),
        recipient_ids=[person.pk],
    )
    User.objects.filter(pk=person.pk).update(is_active=False)
    assert digest_send(user_id=person.pk, day=date(2026, 12, 5)) is None
    assert not OutgoingEmail.objects.filter(key__startswith="digest:").exists()
    # Taken all the same: a reopened account does not get months of notifications at once.
    assert Notification.objects.get(recipient=person).digested_at is not None


# --- reading ------------------------------------------------------------------------------------------


def test_marking_read_lowers_the_counter_once() -> None:
    person, other = instructor(), instructor()
    first = notify_assigned(person, "a")
    notify_assigned(person, "b")
    assert User.objects.get(pk=person.pk).unread_notifications == 2
    assert notification_mark_read(notification=first, user=person) is True
    assert notification_mark_read(notification=first, user=person) is False
    assert User.objects.get(pk=person.pk).unread_notifications == 1
    with pytest.raises(Exception, match="ne vous est pas adressée"):
        notification_mark_read(notification=first, user=other)
    assert notifications_mark_all_read(user=person) == 1
    assert notifications_mark_all_read(user=person) == 0
    assert User.objects.get(pk=person.pk).unread_notifications == 0


def test_the_database_refuses_a_negative_counter() -> None:
    from django.db import IntegrityError, transaction

    person = instructor()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=person.pk).update(unread_notifications=-1)
