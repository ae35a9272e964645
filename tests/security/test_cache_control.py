"""Pages shown to a logged-in user are neither kept by a proxy nor stored by the browser."""

import pytest
from django.urls import reverse

from tests.factories import applicant, complete_application, instructor, programme_admin

pytestmark = pytest.mark.django_db


def _assert_not_stored(response) -> None:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/html")
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives, response["Cache-Control"]


def test_applicant_pages_and_fragments_are_private_and_not_stored(client):
    application = complete_application()
    client.force_login(application.created_by)
    for url in [
        reverse("applications:applicant-home"),
        reverse("applications:dossier-list"),
        reverse("core:home"),  # a public page, seen logged in, shows the user's name
    ]:
        _assert_not_stored(client.get(url))
    # An htmx fragment too.
    _assert_not_stored(client.get(reverse("applications:dossier-list"), headers={"HX-Request": "true"}))


@pytest.mark.parametrize(
    ("make_user", "url_name"),
    [(instructor, "applications:instructor-home"), (programme_admin, "grants:admin-home")],
)
def test_staff_pages_are_private_and_not_stored(client, make_user, url_name):
    client.force_login(make_user())
    _assert_not_stored(client.get(reverse(url_name)))


def test_anonymous_public_pages_are_unchanged(client):
    response = client.get(reverse("core:home"))
    assert response.status_code == 200
    assert "Cache-Control" not in response
    # The login page keeps what Django's own view sends (never_cache), nothing more.
    login = client.get(reverse("accounts:login"))
    assert login["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_a_logged_out_visitor_with_a_stale_cookie_gets_the_public_page_unchanged(client):
    client.force_login(applicant())
    client.post(reverse("accounts:logout"))
    response = client.get(reverse("core:home"))
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
