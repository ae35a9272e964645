from typing import Any

import pytest

from applications.models import Application, Call
from tests.allocation.world import four_candidates
from tests.factories import programme_admin


@pytest.fixture
def admin_user() -> Any:
    return programme_admin()


@pytest.fixture
def candidates(db: Any) -> dict[str, Application]:
    return four_candidates()


@pytest.fixture
def call(candidates: dict[str, Application]) -> Call:
    return Call.objects.get(pk=candidates["gers1"].call_id)
