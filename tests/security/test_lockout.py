"""The login lockout counts one address however it is typed (stripped, case-insensitive)."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests.factories import PASSWORD, applicant

pytestmark = pytest.mark.django_db


def _login(client, email, password):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


@pytest.mark.parametrize(
    "variants",
    [
        ["someone@example.org", "Someone@Example.org", " SOMEONE@EXAMPLE.ORG", "someone@EXAMPLE.org "],
        ["Someone@Example.org", "someone@example.org", "SOMEONE@EXAMPLE.ORG", "\tsomeone@example.org"],
    ],
)
def test_failed_logins_share_one_counter_whatever_the_case_and_spaces(client, settings, variants):
    user = applicant(email="someone@example.org")
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        typed = variants[attempt % len(variants)]
        assert _login(client, typed, "mauvais-mot-de-passe").status_code == 200
    assert _login(client, variants[-1], "mauvais-mot-de-passe").status_code == 429
    # One counter, under the normalised address.
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"someone@example.org"}

    # Locked out: the right password is refused however the address is typed.
    for typed in [*variants, "SOMEONE@example.ORG"]:
        locked = _login(client, typed, PASSWORD)
        assert locked.status_code == 429, typed
        assert "Connexion temporairement suspendue" in locked.content.decode()
        assert "_auth_user_id" not in client.session
    assert user.pk  # the account itself is untouched


def test_a_success_resets_the_counter_of_the_normalised_address(client, settings):
    applicant(email="someone@example.org")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "SOMEONE@example.org", "mauvais-mot-de-passe")
    assert _login(client, " Someone@Example.ORG", PASSWORD).status_code == 302
    client.logout()
    # The failures before the success no longer count: one more wrong password does not lock.
    assert _login(client, "someone@example.org", "mauvais-mot-de-passe").status_code == 200


def test_the_admin_login_counts_the_same_normalised_address(client, settings):
    applicant(email="someone@example.org")
    admin_login = reverse("admin:login")
    for typed in [
        "someone@example.org",
        "SOMEONE@EXAMPLE.ORG",
        " Someone@example.org",
        "someone@Example.org",
    ]:
        client.post(admin_login, {"username": typed, "password": "mauvais-mot-de-passe"})
    assert _login(client, "Someone@Example.ORG", "mauvais-mot-de-passe").status_code == 429
    assert _login(client, "someone@example.org", PASSWORD).status_code == 429
