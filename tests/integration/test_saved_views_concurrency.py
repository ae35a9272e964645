"""Saved views under concurrent writes on PostgreSQL: one instructor saving one name in eight cases
from eight tabs at once gets one view and seven French refusals next to the name.

Skipped (reason shown) without DATABASE_URL=postgres://...; failing instead with CI=true.
"""

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import AuditEvent, User
from applications.models import SavedView
from applications.services.saved_views import saved_view_create
from tests.factories import occitanie_instructor
from tests.integration.test_labels_concurrency import THREADS, at_once

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def committed_db(transactional_db, django_db_serialized_rollback) -> None:  # type: ignore[no-untyped-def]
    """Rows committed for real, so that the threads' connections see them."""


def test_eight_tabs_saving_one_name_in_eight_cases_at_once_get_one_view(committed_db: None) -> None:
    me = occitanie_instructor()
    names = ["Retards", "RETARDS", "retards", "Retards ", " retards", "ReTaRdS", "RETARDs", "rETARDS"]

    def work(index: int) -> Callable[[], Any]:
        actor = User.objects.get(pk=me.pk)
        return lambda: (
            saved_view_create(name=names[index], query=f"overdue=1&per_page={index}", actor=actor).pk
        )

    outcomes = at_once(work)
    assert [outcome for outcome, _ in outcomes.values()].count("done") == 1, outcomes
    refused = [detail for outcome, detail in outcomes.values() if outcome == "refused"]
    assert len(refused) == THREADS - 1, outcomes
    for detail in refused:
        assert list(detail) == ["name"]
        assert detail["name"][0].startswith("Vous avez déjà une vue ")
    assert SavedView.objects.filter(user=me).count() == 1
    assert AuditEvent.objects.filter(action="saved_view.create").count() == 1
