"""The page cache (core/page_cache.py): a page is kept per user and browser until the data moves.

Each test turns the cache on (the test settings keep it off, see config/settings/test.py). The
tests that read the data version across writes on PostgreSQL are transactional: inside one
transaction every write has the same transaction id, and the version only moves at commit.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse

from applications.models import Application
from applications.services.labels import application_labels_set, label_create
from core.models import DataChange, DataGeneration
from core.page_cache import (
    NONCE_MARK,
    cached_page,
    data_changes_prune,
    data_version,
    install_data_triggers,
    tables_without_trigger,
)
from fabriques.models import Region
from fabriques.services import instructor_scope_set
from tests.factories import in_review_application, instructor, programme_admin

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def _cache_on(settings: Any) -> Iterator[None]:
    settings.PAGE_CACHE = True
    caches["pages"].clear()
    yield
    caches["pages"].clear()


def _get(client: Client, url: str) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(captured.captured_queries)


def test_every_table_the_pages_read_has_the_trigger_that_moves_the_version() -> None:
    assert tables_without_trigger() == []
    # A table created outside the migrations has none until the next migrate installs it.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE core_page_cache_probe (id integer PRIMARY KEY)")
    try:
        assert tables_without_trigger() == ["core_page_cache_probe"]
        install_data_triggers()
        assert tables_without_trigger() == []
        before = data_version()
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO core_page_cache_probe (id) VALUES (1)")
        assert data_version() != before
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE core_page_cache_probe")


def test_the_version_moves_with_every_write_and_not_with_reads() -> None:
    application, _reviewer = in_review_application()
    version = data_version()
    assert version is not None
    assert Application.objects.filter(pk=application.pk).exists()
    assert data_version() == version
    Application.objects.filter(pk=application.pk).update(title="Un autre titre")
    assert data_version() != version


def test_what_no_kept_page_shows_moves_no_version_and_what_they_show_does() -> None:
    """A login stamps `last_login`, an audited download writes only its audit row, a read API call
    logs itself and notes its token's use: no kept page shows any of these, so none of them makes
    every kept page be built again. A change of the same user's name does."""
    from django.contrib.auth.models import update_last_login

    from accounts.models import User
    from accounts.services import audit_record
    from api.services import api_call_record, api_token_create

    reviewer = instructor()
    admin = programme_admin()
    issued = api_token_create(user=reviewer, name="Tableau régional", days=30, actor=admin)
    version = data_version()
    update_last_login(None, reviewer)
    audit_record(actor=reviewer, action="export.download", target=reviewer, data={})
    api_call_record(token=issued.token, method="GET", path="/api/v1/dossiers", status=200)
    assert User.objects.get(pk=reviewer.pk).last_login is not None
    assert data_version() == version
    User.objects.filter(pk=reviewer.pk).update(first_name="Camille")
    assert data_version() != version
    version = data_version()
    # The rule holds whatever else the UPDATE sets along with the login's column.
    User.objects.filter(pk=reviewer.pk).update(last_login=None, is_active=False)
    assert data_version() != version


def test_a_kept_page_survives_another_persons_login() -> None:
    application, reviewer = in_review_application()
    admin = programme_admin()
    client = Client()
    client.force_login(reviewer)
    url = reverse("applications:review-detail", args=[application.reference])
    client.get(url)
    _built, built_queries = _get(client, url)
    Client().force_login(admin)  # a login elsewhere: `last_login` stamped, a session written
    _kept, kept_queries = _get(client, url)
    assert kept_queries < built_queries // 2


def test_a_kept_page_is_served_until_a_write_and_then_built_again() -> None:
    application, reviewer = in_review_application()
    admin = programme_admin()
    client = Client()
    client.force_login(reviewer)
    url = reverse("applications:review-detail", args=[application.reference])
    client.get(url)  # the CSRF cookie: a page is kept only for a browser that has one
    built, built_queries = _get(client, url)
    kept, kept_queries = _get(client, url)
    assert application.reference in kept
    # The page, less its nonce, as it was built; at a fraction of its queries.
    assert kept_queries < built_queries // 2
    label = label_create(
        call=application.call, name="À revoir en comité", colour="purple-glycine", actor=admin
    )
    application_labels_set(application=application, labels=[label], actor=reviewer)
    rebuilt, rebuilt_queries = _get(client, url)
    assert "À revoir en comité" in rebuilt
    assert "À revoir en comité" not in kept
    assert rebuilt_queries == built_queries


def test_a_page_is_never_served_to_another_user_nor_to_another_browser_of_the_same_user() -> None:
    application, reviewer = in_review_application()
    other = instructor(first_name="Camille", last_name="Autre")
    occitanie = Region.objects.get(code="76")
    instructor_scope_set(instructor=other, regions=[occitanie], departements=[], actor=programme_admin())
    url = reverse("applications:instructor-home")
    # Logging in is a write: every client logs in before the pages are compared.
    first, second, third = Client(), Client(), Client()
    first.force_login(reviewer)
    second.force_login(other)
    # The same instructor in another browser: a CSRF secret of its own.
    third.force_login(reviewer)
    for client in (first, second, third):
        client.get(url)
    page_first, built_queries = _get(first, url)
    page_second, _ = _get(second, url)
    # The header names who is logged in.
    mine, theirs = f"({reviewer.email}) : sécurité du compte", f"({other.email}) : sécurité du compte"
    assert theirs in page_second and mine not in page_second
    assert mine in page_first and theirs not in page_first
    kept_first, kept_queries = _get(first, url)
    assert kept_queries < built_queries
    assert mine in kept_first and theirs not in kept_first
    page_third, third_queries = _get(third, url)
    assert mine in page_third
    assert third_queries == built_queries  # built for this browser, not taken from the first


def test_a_right_taken_away_is_a_write_the_next_request_sees() -> None:
    application, reviewer = in_review_application()
    client = Client()
    client.force_login(reviewer)
    url = reverse("applications:review-detail", args=[application.reference])
    client.get(url)
    _get(client, url)
    # The instructor leaves the dossier's territory and its assignment: the kept page must go.
    instructor_scope_set(
        instructor=reviewer, regions=[Region.objects.get(code="11")], departements=[], actor=programme_admin()
    )
    application.assignments.all().delete()
    assert client.get(url).status_code == 404


def test_the_nonce_of_a_kept_page_is_the_new_responses_own() -> None:
    application, reviewer = in_review_application()
    client = Client()
    client.force_login(reviewer)
    url = reverse("applications:review-detail", args=[application.reference])
    client.get(url)
    client.get(url)
    response = client.get(url)
    header = response["Content-Security-Policy"]
    nonce = header.split("'nonce-", 1)[1].split("'", 1)[0]
    body = response.content.decode()
    assert f'nonce="{nonce}"' in body
    assert NONCE_MARK not in body
    assert body.count("nonce=") == body.count(f'nonce="{nonce}"')


def _request(path: str, user: Any, *, csrf: str = "s" * 32, htmx: bool = False) -> HttpRequest:
    request = RequestFactory().get(path, headers={"HX-Request": "true"} if htmx else {})
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    request.META["CSRF_COOKIE"] = csrf
    request.resolver_match = resolve(reverse("applications:instructor-home"))
    request._csp_nonce = "NONCE-ONE"  # type: ignore[attr-defined]
    request.csp_nonce = "NONCE-TWO"  # type: ignore[attr-defined]
    return request


def test_what_is_never_kept() -> None:
    user = instructor()
    calls: list[str] = []

    def page(status: int = 200, header: str = "", content_type: str = "text/html; charset=utf-8") -> Any:
        @cached_page
        def view(request: HttpRequest) -> HttpResponse:
            calls.append(request.path)
            response = HttpResponse(
                '<script nonce="NONCE-ONE"></script>', status=status, content_type=content_type
            )
            if header:
                response["HX-Trigger"] = header
            return response

        return view

    def twice(view: Any, path: str, **kwargs: Any) -> int:
        calls.clear()
        view(_request(path, user, **kwargs))
        view(_request(path, user, **kwargs))
        return len(calls)

    assert twice(page(), "/kept/") == 1
    # Kept with its nonce as a mark, served with the new request's.
    assert page()(_request("/kept/", user)).content.decode() == '<script nonce="NONCE-TWO"></script>'
    assert twice(page(status=404), "/a-404/") == 2
    assert twice(page(header="changed"), "/a-header/") == 2
    assert twice(page(content_type="text/csv"), "/a-csv/") == 2
    assert twice(page(), "/htmx/", htmx=True) == 2
    assert twice(page(), "/no-csrf-cookie/", csrf="") == 2
    # Messages waiting: the page would show them, so it is built, and not kept.
    calls.clear()
    for _ in range(2):
        request = _request("/messages/", user)
        request._messages.add(20, "Enregistré.")  # type: ignore[attr-defined]
        page()(request)
    assert len(calls) == 2
    assert twice(page(), "/messages/") == 1


@pytest.mark.postgres  # the log of write transactions is PostgreSQL's (SQLite counts in one row)
def test_pruning_the_log_moves_to_a_version_never_seen() -> None:
    in_review_application()
    before = data_version()
    assert DataChange.objects.exists()
    assert data_changes_prune(above=10**9) == 0
    assert data_version() == before
    removed = data_changes_prune(above=0)
    assert removed > 0
    assert DataGeneration.objects.get(pk=1).generation >= 1
    assert data_version() != before
