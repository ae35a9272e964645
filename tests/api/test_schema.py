"""Schemathesis against the live OpenAPI schema of the read API: every operation, with a token.

The schema is the one the running application serves (/api/v1/openapi.json, read through the WSGI
application in process: no server, no network). Each operation gets a bounded number of generated
requests, derandomized (the same examples at every run), so the run stays a few seconds; every
response must match the schema (status, content type, body), no 5xx, and the operations that
declare the bearer token must refuse a request without it.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.generation import GenerationMode

from accounts.models import Role, User
from api.services import api_token_create
from config.wsgi import application
from tests.api.world import build_world

pytestmark = pytest.mark.django_db

# Examples per operation and mode: the 8 operations' run stays within a few seconds.
EXAMPLES = 10
OPERATIONS = 8


@pytest.fixture
def connections_kept() -> Iterator[None]:
    """The WSGI application ends each request by closing the database connection (Django's
    `close_old_connections`), which would close the test's transaction; Django's test client
    disconnects it the same way for the length of its requests."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (signals.request_started, signals.request_finished):
            signal.connect(close_old_connections)


@pytest.mark.usefixtures("connections_kept")
def test_the_api_answers_as_its_schema_says(settings: Any) -> None:
    # Far above what the run sends: the limit is tested in test_tokens.py.
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    build_world()
    admin = User.objects.filter(groups__name=Role.ADMIN.value).get()
    headers = {
        "Authorization": f"Bearer {api_token_create(user=admin, name='Schemathesis', days=1, actor=None).secret}"
    }
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == OPERATIONS, [operation.label for operation in operations]
    for operation in operations:
        # Invalid requests (refused with a 422) only where there is a query to spoil: a path's
        # text parameter has no invalid value.
        has_query = any(parameter.location == "query" for parameter in operation.iter_parameters())
        modes = (
            (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_query else (GenerationMode.POSITIVE,)
        )
        for mode in modes:

            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis_settings(
                max_examples=EXAMPLES,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                case.call_and_validate(headers=headers)

            check()
