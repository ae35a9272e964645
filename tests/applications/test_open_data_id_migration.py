"""The migration of the calls' stable identifier (applications 0021): every call existing before it
gets an identifier of its own, and keeps it."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import CallFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

BEFORE = [("applications", "0020_opinions")]
AFTER = [("applications", "0021_call_open_data_id")]


@pytest.fixture
def _back_to_the_latest_state():
    yield
    call_command("migrate", verbosity=0)


@pytest.mark.usefixtures("_back_to_the_latest_state")
def test_each_existing_call_gets_an_identifier_of_its_own():
    calls = [CallFactory().pk, CallFactory().pk]
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    Call = executor.loader.project_state(AFTER).apps.get_model("applications", "Call")
    identifiers = dict(Call.objects.filter(pk__in=calls).values_list("pk", "open_data_id"))
    assert len(identifiers) == 2 and None not in identifiers.values()
    assert len(set(identifiers.values())) == 2
    every = list(Call.objects.values_list("open_data_id", flat=True))
    assert len(every) == len(set(every))
