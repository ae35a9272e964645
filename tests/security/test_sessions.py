"""Idle expiry of staff sessions: instructors and admins are logged out after an hour without a
request; applicants keep the ordinary session. The clock is moved, never waited for."""

import html
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from accounts import middleware
from accounts.models import User
from tests.factories import UserFactory, applicant, instructor, programme_admin

pytestmark = pytest.mark.django_db

EXPIRED = "Votre session a expiré après une heure d'inactivité."
HOUR = 3600
START = 1_800_000_000.0  # some time in 2027


@dataclass
class Clock:
    now: float = START

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(middleware, "current_time", lambda: fake.now)
    yield fake


def _home(user: User) -> str:
    from accounts.roles import home_url_for

    return home_url_for(user)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _page_text(response: object) -> str:
    return html.unescape(response.content.decode())  # type: ignore[attr-defined]


@pytest.mark.parametrize("make_user", [instructor, programme_admin], ids=["instructor", "admin"])
def test_staff_session_ends_after_an_hour_without_a_request(
    client: Client, clock: Clock, make_user: object
) -> None:
    user: User = make_user()  # type: ignore[operator]
    client.force_login(user)
    home = _home(user)
    assert client.get(home).status_code == 200

    clock.advance(HOUR + 1)
    response = client.get(f"{home}?tri=score")
    assert response.status_code == 302
    login = reverse("accounts:login")
    assert response.headers["Location"].startswith(f"{login}?next=")
    assert "tri%3Dscore" in response.headers["Location"]  # back to the same page once logged in
    assert not _logged_in(client)

    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert EXPIRED in _page_text(page)
    # The session is gone: the workspace asks for a login again, without the message this time.
    again = client.get(home)
    assert again.status_code == 302 and again.headers["Location"].startswith(login)
    assert EXPIRED not in _page_text(client.get(again.headers["Location"]))


def test_exactly_one_hour_is_still_within_the_limit(client: Client, clock: Clock) -> None:
    user = instructor()
    client.force_login(user)
    assert client.get(_home(user)).status_code == 200
    clock.advance(HOUR)
    assert client.get(_home(user)).status_code == 200
    assert _logged_in(client)


def test_each_request_restarts_the_hour(client: Client, clock: Clock) -> None:
    user = instructor()
    client.force_login(user)
    for _ in range(6):  # five hours of work, a request every 50 minutes
        assert client.get(_home(user)).status_code == 200
        clock.advance(50 * 60)
    assert client.get(_home(user)).status_code == 200
    assert _logged_in(client)


def test_applicants_keep_the_ordinary_session(client: Client, clock: Clock) -> None:
    user = applicant()
    client.force_login(user)
    assert client.get(_home(user)).status_code == 200
    clock.advance(10 * HOUR)
    assert client.get(_home(user)).status_code == 200
    assert _logged_in(client)
    assert middleware.LAST_ACTIVITY_KEY not in client.session


def test_a_superuser_counts_as_staff(client: Client, clock: Clock) -> None:
    user = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:index")).status_code == 200
    clock.advance(HOUR + 60)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert not _logged_in(client)


def test_a_form_posted_after_the_hour_is_not_acted_upon(client: Client, clock: Clock) -> None:
    user = programme_admin()
    client.force_login(user)
    assert client.get(_home(user)).status_code == 200
    clock.advance(2 * HOUR)
    response = client.post(
        reverse("grants:review-bulk"), {"references": "FDT-2026-00001", "decision": "refuse"}
    )
    # To the login page, without a `next` pointing at an address that answers only POST.
    assert response.status_code == 302
    assert response.headers["Location"] == reverse("accounts:login")
    assert not _logged_in(client)
    assert EXPIRED in _page_text(client.get(response.headers["Location"]))


def test_htmx_requests_are_sent_to_the_login_page_as_a_whole(client: Client, clock: Clock) -> None:
    user = instructor()
    client.force_login(user)
    assert client.get(_home(user)).status_code == 200
    clock.advance(HOUR + 1)
    response = client.get(_home(user), headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith(reverse("accounts:login"))
    assert not _logged_in(client)


def test_the_clock_starts_at_login(client: Client, clock: Clock) -> None:
    # Logged in, then left alone: the hour runs from the login, not from a first page.
    user = instructor()
    client.force_login(user)
    assert client.session[middleware.LAST_ACTIVITY_KEY] == START
    clock.advance(HOUR + 1)
    assert client.get(_home(user)).status_code == 302
    assert not _logged_in(client)


def test_the_login_form_starts_the_clock_too(client: Client, clock: Clock) -> None:
    from tests.factories import PASSWORD

    user = programme_admin()
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session[middleware.LAST_ACTIVITY_KEY] == START


def test_a_session_without_a_stamp_starts_the_clock_at_its_next_request(client: Client, clock: Clock) -> None:
    # Sessions opened before this rule existed carry no stamp: their next request sets it.
    user = instructor()
    client.force_login(user)
    session = client.session
    del session[middleware.LAST_ACTIVITY_KEY]
    session.save()
    clock.advance(5 * HOUR)
    assert client.get(_home(user)).status_code == 200
    assert client.session[middleware.LAST_ACTIVITY_KEY] == clock.now


def test_the_stamp_is_rewritten_at_most_once_a_minute(client: Client, clock: Clock) -> None:
    # Saving the session on every click would cost a write per request.
    user = instructor()
    client.force_login(user)
    clock.advance(30)
    client.get(_home(user))
    assert client.session[middleware.LAST_ACTIVITY_KEY] == START
    clock.advance(30)
    client.get(_home(user))
    assert client.session[middleware.LAST_ACTIVITY_KEY] == START + 60


def test_applicants_get_no_stamp_at_login(client: Client, clock: Clock) -> None:
    client.force_login(applicant())
    assert middleware.LAST_ACTIVITY_KEY not in client.session


def test_logging_in_again_after_expiry_works(client: Client, clock: Clock) -> None:
    from tests.factories import PASSWORD, give_second_factor

    user = instructor()
    client.force_login(user)
    client.get(_home(user))
    clock.advance(HOUR + 1)
    expired = client.get(_home(user))
    login_page = expired.headers["Location"]
    response = client.post(login_page, {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == _home(user)
    # The new session owes the second factor again.
    assert client.get(_home(user)).headers["Location"].startswith(reverse("accounts:two-factor-verify"))
    give_second_factor(client, user)
    assert client.get(_home(user)).status_code == 200


@override_settings(STAFF_SESSION_IDLE_SECONDS=600)
def test_the_limit_is_a_setting(client: Client, clock: Clock) -> None:
    user = instructor()
    client.force_login(user)
    clock.advance(599)
    assert client.get(_home(user)).status_code == 200
    clock.advance(601)
    response = client.get(_home(user), follow=True)
    assert "Votre session a expiré après 10 minutes d'inactivité." in _page_text(response)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3600, "une heure"), (7200, "2 heures"), (1800, "30 minutes"), (60, "1 minute"), (30, "1 minute")],
)
def test_the_message_says_the_limit(seconds: int, text: str) -> None:
    assert middleware.idle_limit_text(seconds) == text


def test_the_middleware_comes_after_authentication_and_messages() -> None:
    from django.conf import settings

    order = settings.MIDDLEWARE
    position = order.index("accounts.middleware.StaffIdleTimeoutMiddleware")
    assert order.index("django.contrib.auth.middleware.AuthenticationMiddleware") < position
    assert order.index("django.contrib.messages.middleware.MessageMiddleware") < position
    assert settings.STAFF_SESSION_IDLE_SECONDS == HOUR
