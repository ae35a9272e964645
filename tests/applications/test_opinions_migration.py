"""The migration of the opinions asked before expert accounts (applications 0020): answered ones
become « rendu », open ones get an expert account for their address, every one a due date and
its log rows, all stay confidential."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import in_review_application

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

BEFORE = [("applications", "0019_review_facts_lock")]
AFTER = [("applications", "0020_opinions")]


@pytest.fixture
def _back_to_the_latest_state():
    yield
    # As `migrate` leaves it: every migration applied and the post-migrate steps run (the page
    # cache's triggers, on the tables the migrations above rebuilt).
    call_command("migrate", verbosity=0)


@pytest.mark.usefixtures("_back_to_the_latest_state")
def test_the_opinions_asked_before_are_migrated_sensibly():
    application, reviewer = in_review_application()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Opinion = old.get_model("applications", "Opinion")
    asked_at = timezone.now() - timedelta(days=20)
    Opinion.objects.create(
        application_id=application.pk,
        email="ancien@exemple.gouv.fr",
        organisation_name="DDT",
        token="jeton-ouvert",
        requested_by_id=reviewer.pk,
        requested_at=asked_at,
    )
    Opinion.objects.create(
        application_id=application.pk,
        email="rendu@exemple.gouv.fr",
        organisation_name="SGAR",
        token="jeton-rendu",
        requested_by_id=reviewer.pk,
        requested_at=asked_at,
        verdict="favourable",
        author_name="Mme X",
        given_at=asked_at + timedelta(days=3),
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Opinion = new.get_model("applications", "Opinion")
    open_one = Opinion.objects.get(token="jeton-ouvert")
    given = Opinion.objects.get(token="jeton-rendu")
    assert (open_one.status, given.status) == ("requested", "given")
    assert open_one.due_on == asked_at.date() + timedelta(days=15)
    assert open_one.confidential and given.confidential
    assert open_one.expert.email == "ancien@exemple.gouv.fr"
    assert not open_one.expert.password.startswith("pbkdf2")  # no usable password
    assert list(open_one.expert.groups.values_list("name", flat=True)) == ["expert"]
    assert given.expert_id is None and given.verdict == "favourable"
    assert list(given.changes.order_by("at").values_list("from_status", "to_status")) == [
        ("", "requested"),
        ("requested", "given"),
    ]
    assert list(open_one.changes.values_list("to_status", "actor_id")) == [("requested", reviewer.pk)]
