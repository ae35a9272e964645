"""The retention table applied on a time-travelled dataset: the data is made today, and the run is
given a `now` years ahead, just before and just after each rule's time. Each rule acts exactly
where it should; a dossier under an open grant is never touched; a dry run writes nothing."""

import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessLog
from django.apps import apps
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from accounts.services import audit_record
from applications.models import Application, Attachment, Message, MessageFile, Opinion
from applications.services import application_withdraw
from applications.services.messaging import FileUpload
from applications.services.opinions import opinion_give, opinion_request
from applications.services.review import message_post
from grants.models import Agreement, Grant, Tranche
from grants.services import application_award, application_refuse
from notifications.models import EmailStatus, Notification, OutgoingEmail
from retention.models import RetentionAction
from retention.rules import rules
from retention.services import open_grants, retention_apply
from tests.factories import PDF_BYTES, complete_application, in_review_application, submitted_application

pytestmark = pytest.mark.django_db

YEAR = timedelta(days=365)
DAY = timedelta(days=1)


def later(delta: timedelta) -> datetime:
    return timezone.now() + delta


def with_message_file(application: Application) -> MessageFile:
    message = message_post(
        application=application,
        body="Voici le compte rendu de notre réunion avec Mme Durand.",
        files=[FileUpload(file=io.BytesIO(PDF_BYTES), name="compte-rendu.pdf")],
        actor=application.created_by,
    )
    return message.files.get()


def stored_names(application: Application) -> list[str]:
    return list(Attachment.objects.filter(application=application).values_list("file", flat=True))


def purged(application: Application, rule_key: str) -> bool:
    return RetentionAction.objects.filter(
        rule=rule_key, target_type="applications.application", target_id=str(application.pk)
    ).exists()


def awarded(*, closed: bool) -> Application:
    """A laureate's dossier; `closed`: its agreement completed and every tranche paid today."""
    application, reviewer = in_review_application()
    grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    if closed:
        Tranche.objects.filter(grant=grant).update(
            status=Tranche.Status.PAID,
            requested_at=timezone.now(),
            validated_at=timezone.now(),
            paid_on=timezone.localdate(),
            payment_reference="MANDAT-0001",
        )
        Agreement.objects.filter(grant=grant).update(
            status=Agreement.Status.COMPLETED, signed_at=timezone.now()
        )
    application.refresh_from_db()
    return application


def test_closed_dossiers_lose_their_files_after_their_time_and_not_before(django_capture_on_commit_callbacks):
    withdrawn = submitted_application()
    message_file = with_message_file(withdrawn)
    application_withdraw(application=withdrawn, actor=withdrawn.created_by, reason="Projet abandonné")
    untouched = submitted_application()  # in instruction: no rule applies to it, ever
    names = stored_names(withdrawn)
    assert names and all(default_storage.exists(name) for name in names)
    keep = timedelta(days=365 * settings.RETENTION_REFUSED_DOSSIER_YEARS)

    assert retention_apply(now=later(keep - DAY))["closed_dossier"] == 0
    assert Attachment.objects.filter(application=withdrawn).count() == len(names)

    # The files leave the storage once the purge has committed.
    with django_capture_on_commit_callbacks(execute=True):
        report = retention_apply(now=later(keep + DAY))
    assert report["closed_dossier"] == 1
    assert not Attachment.objects.filter(application=withdrawn).exists()
    assert not any(default_storage.exists(name) for name in names)
    assert not MessageFile.objects.filter(pk=message_file.pk).exists()
    assert not default_storage.exists(message_file.file.name)
    assert list(Message.objects.filter(application=withdrawn).values_list("body", flat=True)) == [""]
    # The dossier row stays, with its reference, its structure and its decision.
    withdrawn.refresh_from_db()
    assert withdrawn.status == Application.Status.WITHDRAWN
    assert withdrawn.members.filter(is_lead=True).exists()
    event = AuditEvent.objects.get(action="retention.purge_files")
    assert (event.target_id, event.data["rule"], event.data["attachments"]) == (
        str(withdrawn.pk),
        "closed_dossier",
        len(names),
    )
    assert event.data["message_files"] == 1
    # The dossier in instruction keeps everything.
    assert Attachment.objects.filter(application=untouched).count() == len(stored_names(untouched)) > 0
    assert not purged(untouched, "closed_dossier")

    # Idempotent: a second run finds nothing more to do.
    assert retention_apply(now=later(keep + DAY))["closed_dossier"] == 0
    assert AuditEvent.objects.filter(action="retention.purge_files").count() == 1


def test_a_refused_dossier_loses_the_files_of_its_experts_opinions_and_another_keeps_its_own(
    django_capture_on_commit_callbacks,
):
    refused, reviewer = in_review_application()
    kept, other_reviewer = in_review_application()
    opinions = []
    for application, actor in ((refused, reviewer), (kept, other_reviewer)):
        opinion = opinion_request(
            application=application,
            email="expert@ddt-gers.gouv.fr",
            organisation_name="DDT du Gers",
            question="Le lieu est-il bien desservi ?",
            files=[FileUpload(file=io.BytesIO(PDF_BYTES), name="plan-d-acces.pdf")],
            actor=actor,
        )
        opinion_give(
            opinion=opinion,
            verdict="favourable",
            comment="Desservi par deux lignes de car.",
            files=[FileUpload(file=io.BytesIO(PDF_BYTES), name="avis-signe.pdf")],
            actor=opinion.expert,
        )
        opinions.append(opinion)
    refused_files = [*opinions[0].request_files.all(), *opinions[0].answer_files.all()]
    kept_files = [*opinions[1].request_files.all(), *opinions[1].answer_files.all()]
    assert len(refused_files) == len(kept_files) == 2
    assert all(default_storage.exists(file.file.name) for file in refused_files + kept_files)
    application_refuse(application=refused, reasons="Projet hors du champ de l'appel.", actor=reviewer)
    keep = timedelta(days=365 * settings.RETENTION_REFUSED_DOSSIER_YEARS)

    assert retention_apply(now=later(keep - DAY))["closed_dossier"] == 0
    assert opinions[0].request_files.count() == opinions[0].answer_files.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        assert retention_apply(now=later(keep + DAY))["closed_dossier"] == 1
    assert not MessageFile.objects.filter(pk__in=[file.pk for file in refused_files]).exists()
    assert not any(default_storage.exists(file.file.name) for file in refused_files)
    assert (
        AuditEvent.objects.get(action="retention.purge_files", target_id=str(refused.pk)).data[
            "message_files"
        ]
        == 2
    )
    # The opinion itself stays (who was asked, when, the verdict): only its files went.
    assert Opinion.objects.get(pk=opinions[0].pk).verdict == "favourable"
    # The dossier still in review keeps its expert's files.
    assert opinions[1].request_files.count() == opinions[1].answer_files.count() == 1
    assert all(default_storage.exists(file.file.name) for file in kept_files)


def test_a_grant_file_is_purged_ten_years_after_the_last_payment_and_never_while_open():
    closed = awarded(closed=True)
    still_open = awarded(closed=False)
    assert list(open_grants().values_list("application", flat=True)) == [still_open.pk]
    closed_names, open_names = stored_names(closed), stored_names(still_open)
    assert closed_names and open_names

    assert retention_apply(now=later(10 * YEAR - DAY))["grant_file"] == 0
    assert stored_names(closed) == closed_names

    assert retention_apply(now=later(10 * YEAR + DAY))["grant_file"] == 1
    assert not Attachment.objects.filter(application=closed).exists()
    assert purged(closed, "grant_file")
    # What the open data needs stays: the grant, its tranches, its agreement.
    grant = Grant.objects.get(application=closed)
    assert grant.amount == Decimal("150000")
    assert grant.tranches.filter(status=Tranche.Status.PAID).count() == grant.tranches.count() > 0
    assert Agreement.objects.filter(grant=grant, status=Agreement.Status.COMPLETED).exists()

    # Thirty years on, the open grant's dossier is still whole, and its holder still active.
    report = retention_apply(now=later(30 * YEAR))
    assert stored_names(still_open) == open_names
    assert not purged(still_open, "grant_file") and not purged(still_open, "closed_dossier")
    assert report["grant_file"] == 0
    still_open.created_by.refresh_from_db()
    assert still_open.created_by.is_active
    assert still_open.created_by.email.endswith("anonyme.invalid") is False


def test_an_idle_account_is_warned_then_deactivated_then_anonymised_once_its_dossiers_are_purged():
    dossier = submitted_application()
    person = dossier.created_by
    application_withdraw(application=dossier, actor=person, reason="")
    holder = awarded(closed=False).created_by  # holds an open grant
    returning = complete_application().created_by  # logs in again after the warning
    idle = 3 * YEAR
    notice = timedelta(days=settings.RETENTION_INACTIVITY_NOTICE_DAYS)

    assert retention_apply(now=later(idle - DAY))["inactive_account_warning"] == 0
    warned_at = later(idle + DAY)
    report = retention_apply(now=warned_at)
    assert report["inactive_account_warning"] == User.objects.filter(is_active=True).count() > 0
    warning = OutgoingEmail.objects.get(key__startswith=f"retention-idle:{person.pk}:")
    assert warning.to == [person.email]
    assert "désactivé" in warning.body
    # A second run the same day warns nobody twice.
    assert retention_apply(now=warned_at)["inactive_account_warning"] == 0
    assert (
        OutgoingEmail.objects.filter(key__startswith="retention-idle:").count()
        == report["inactive_account_warning"]
    )

    User.objects.filter(pk=returning.pk).update(last_login=warned_at + 10 * DAY)
    assert retention_apply(now=warned_at + notice - DAY)["inactive_account_deactivation"] == 0
    assert User.objects.get(pk=person.pk).is_active

    retention_apply(now=warned_at + notice + DAY)
    assert not User.objects.get(pk=person.pk).is_active
    assert User.objects.get(pk=holder.pk).is_active, "an account holding an open grant stays open"
    assert User.objects.get(pk=returning.pk).is_active, "a login after the warning keeps the account"
    assert AuditEvent.objects.filter(
        action="retention.deactivate_inactive", target_id=str(person.pk)
    ).exists()
    # Deactivated, but their dossier's files are still kept: the person is not anonymised yet.
    assert User.objects.get(pk=person.pk).email == person.email

    refused_years = timedelta(days=365 * settings.RETENTION_REFUSED_DOSSIER_YEARS)
    retention_apply(now=later(refused_years + DAY))
    anonymous = User.objects.get(pk=person.pk)
    assert anonymous.email == f"anonyme-{person.pk}@anonyme.invalid"
    assert (anonymous.first_name, anonymous.last_name, anonymous.phone, anonymous.job_title) == (
        "",
        "",
        "",
        "",
    )
    assert not anonymous.has_usable_password()
    assert (
        AuditEvent.objects.filter(action="retention.anonymise_person", target_id=str(person.pk)).count() == 1
    )
    assert User.objects.get(pk=holder.pk).email == holder.email


def test_logs_are_deleted_after_their_time_and_recent_ones_kept():
    user = complete_application().created_by
    old, recent = timezone.now() - 10 * YEAR - DAY, timezone.now() - 10 * YEAR + DAY
    for when in (old, recent):
        event = audit_record(actor=user, action="test.event", data={})
        AuditEvent.objects.filter(pk=event.pk).update(occurred_at=when)
    for days in (366, 364):
        attempt = AccessAttempt.objects.create(
            username=f"x{days}@example.org",
            ip_address="127.0.0.1",
            user_agent="test",
            path_info="/",
            failures_since_start=1,
        )
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=timezone.now() - timedelta(days=days))
        log = AccessLog.objects.create(
            username="x@example.org", ip_address="127.0.0.1", user_agent="test", path_info="/"
        )
        AccessLog.objects.filter(pk=log.pk).update(attempt_time=timezone.now() - timedelta(days=days))
    for read_at, days in ((timezone.now(), 366), (None, 366), (timezone.now(), 364)):
        Notification.objects.create(
            key=f"test-{days}-{read_at is None}",
            recipient=user,
            kind=Notification._meta.get_field("kind").choices[0][0],
            title="Test",
            link="/",
            created_at=timezone.now() - timedelta(days=days),
            read_at=read_at,
        )
    for key, days in (("old", 366), ("recent", 364)):
        OutgoingEmail.objects.create(
            key=f"test-{key}",
            to=["x@example.org"],
            subject="s",
            body="b",
            status=EmailStatus.DONE,
            sent_at=timezone.now() - timedelta(days=days),
        )
    Session.objects.create(session_key="expired", session_data="", expire_date=timezone.now() - DAY)
    Session.objects.create(session_key="live", session_data="", expire_date=timezone.now() + DAY)

    report = retention_apply(now=timezone.now())

    assert list(AuditEvent.objects.filter(action="test.event").values_list("occurred_at", flat=True)) == [
        recent
    ]
    assert AccessAttempt.objects.count() == AccessLog.objects.count() == 1
    assert report["login_attempts"] == 2
    assert set(Notification.objects.values_list("key", flat=True)) == {"test-366-True", "test-364-False"}
    assert list(OutgoingEmail.objects.filter(key__startswith="test-").values_list("key", flat=True)) == [
        "test-recent"
    ]
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]
    assert (report["audit_rows"], report["notifications"], report["sent_emails"], report["sessions"]) == (
        1,
        1,
        1,
        1,
    )
    # One audit row per batch deleted, naming the rule and the count.
    deletions = AuditEvent.objects.filter(action="retention.delete")
    assert {(row.data["rule"], row.data["model"], row.data["count"]) for row in deletions} == {
        ("audit_rows", "accounts.auditevent", 1),
        ("login_attempts", "axes.accessattempt", 1),
        ("login_attempts", "axes.accesslog", 1),
        ("notifications", "notifications.notification", 1),
        ("sent_emails", "notifications.outgoingemail", 1),
        ("sessions", "sessions.session", 1),
    }


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_a_dry_run_counts_and_writes_nothing(capsys):
    withdrawn = submitted_application()
    application_withdraw(application=withdrawn, actor=withdrawn.created_by, reason="")
    awarded(closed=True)
    Session.objects.create(session_key="expired", session_data="", expire_date=timezone.now() - DAY)
    before = _row_counts()
    names = stored_names(withdrawn)
    users = list(User.objects.order_by("pk").values_list("email", "is_active"))

    report = retention_apply(now=later(11 * YEAR), dry_run=True)

    assert report["closed_dossier"] == 1
    assert report["grant_file"] == 1
    assert report["inactive_account_warning"] == len(users)
    assert report["sessions"] == 1
    assert _row_counts() == before
    assert all(default_storage.exists(name) for name in names)
    assert list(User.objects.order_by("pk").values_list("email", "is_active")) == users

    call_command("retention_apply", "--dry-run")
    out = capsys.readouterr().out
    assert "sessions: would act on 1" in out
    assert _row_counts() == before


def test_the_command_applies_the_table():
    Session.objects.create(session_key="expired", session_data="", expire_date=timezone.now() - DAY)
    out = io.StringIO()
    call_command("retention_apply", stdout=out)
    assert "sessions: acted on 1" in out.getvalue()
    assert [line.split(":")[0] for line in out.getvalue().splitlines()] == [item.key for item in rules()]
    assert not Session.objects.exists()


def test_the_monthly_run_is_scheduled():
    entry = settings.CELERY_BEAT_SCHEDULE["retention-apply"]
    assert entry["task"] == "retention.tasks.retention_apply_task"
    assert entry["schedule"].day_of_month == {1}


def test_the_task_applies_the_table():
    from retention.tasks import retention_apply_task

    Session.objects.create(session_key="expired", session_data="", expire_date=timezone.now() - DAY)
    assert retention_apply_task()["sessions"] == 1
    assert not Session.objects.exists()


def test_a_run_stopped_by_its_time_limit_queues_the_next_which_goes_on(monkeypatch, task_queues):
    from celery.exceptions import SoftTimeLimitExceeded

    from retention import tasks

    expired = [
        Session.objects.create(session_key=f"expired-{n}", session_data="", expire_date=timezone.now() - DAY)
        for n in range(2)
    ]
    real_apply = tasks.retention_apply
    runs: list[int] = []

    def stopped_once(*, now: datetime) -> dict[str, int]:
        runs.append(1)
        if len(runs) == 1:  # the first run is cut short by the soft time limit, mid-way
            Session.objects.filter(pk=expired[0].pk).delete()
            raise SoftTimeLimitExceeded()
        return real_apply(now=now)

    monkeypatch.setattr(tasks, "retention_apply", stopped_once)
    assert tasks.retention_apply_task.delay() is not None
    runs_done = task_queues.drain()
    assert [run.message.task for run in runs_done] == [tasks.retention_apply_task.name] * 2
    assert runs_done[0].result == {"continued": 1}
    assert runs_done[1].message.queue == "reports" and runs_done[1].result["sessions"] == 1
    assert not Session.objects.exists()


def test_the_rgpd_notice_shows_the_durations_of_the_table(client: Client, settings):
    settings.RETENTION_REFUSED_DOSSIER_YEARS = 4
    response = client.get(reverse("core:personal-data"))
    content = response.content.decode()
    for item in rules():
        assert str(item.data).replace("'", "&#x27;") in content
    assert "4 ans" in content
    assert "10 ans" in content


def test_what_the_instruction_wrote_about_a_refused_dossier_goes_with_its_files_and_its_figures_stay():
    """The team's private notes are deleted; the comments of the scores, of the eligibility checks
    and of the experts' opinions are emptied; scores, verdicts and the decision stay. Another
    dossier, still in review, keeps all of its own."""
    from applications.models import Annotation, Assignment, EligibilityAnswer, Score
    from applications.services.review import annotation_add, eligibility_record, scores_save

    dossiers = []
    for _ in range(2):
        application, reviewer = in_review_application()
        eligibility_record(
            application=application,
            answers={
                check.pk: (True, "Mme Durand confirme l'adresse du lieu.")
                for check in application.call.eligibility_checks.all()
            },
            actor=reviewer,
        )
        assignment = Assignment.objects.get(application=application, instructor=reviewer)
        scores_save(
            assignment=assignment,
            values={
                criterion.pk: (3, "La présidente, Mme Durand, porte seule le projet.")
                for criterion in application.call.criteria.all()
            },
            submit=False,
            actor=reviewer,
        )
        annotation_add(application=application, body="Appeler Mme Durand au 06 12 34 56 78.", actor=reviewer)
        opinion = opinion_request(
            application=application,
            email="expert@ddt-gers.gouv.fr",
            organisation_name="DDT du Gers",
            question="Mme Durand a-t-elle déjà reçu une aide ?",
            files=[],
            actor=reviewer,
        )
        opinion_give(
            opinion=opinion, verdict="reserved", comment="Oui, en 2021.", files=[], actor=opinion.expert
        )
        dossiers.append((application, reviewer))
    (refused, reviewer), (kept, _kept_reviewer) = dossiers
    application_refuse(application=refused, reasons="Projet hors du champ de l'appel.", actor=reviewer)
    keep = timedelta(days=365 * settings.RETENTION_REFUSED_DOSSIER_YEARS)

    assert retention_apply(now=later(keep + DAY))["closed_dossier"] == 1

    criteria = refused.call.criteria.count()
    checks = refused.call.eligibility_checks.count()
    assert not Annotation.objects.filter(application=refused).exists()
    assert (
        list(Score.objects.filter(assignment__application=refused).values_list("value", "comment"))
        == [(3, "")] * criteria
    )
    assert (
        list(EligibilityAnswer.objects.filter(application=refused).values_list("satisfied", "note"))
        == [(True, "")] * checks
    )
    assert list(
        Opinion.objects.filter(application=refused).values_list("verdict", "question", "comment")
    ) == [("reserved", "", "")]
    event = AuditEvent.objects.get(action="retention.purge_files", target_id=str(refused.pk))
    assert (event.data["notes"], event.data["comments"]) == (1, criteria + checks + 1)

    # The dossier in review keeps everything the instruction wrote.
    assert Annotation.objects.filter(application=kept).count() == 1
    assert not Score.objects.filter(assignment__application=kept, comment="").exists()
    assert not EligibilityAnswer.objects.filter(application=kept, note="").exists()
    assert Opinion.objects.get(application=kept).comment == "Oui, en 2021."
