"""Two-factor authentication: instructors and admins give a TOTP code after their password.

These tests log in as a person does (password form, then the code), so `force_login` keeps its
plain meaning here (marker `password_only`).
"""

import re

import pytest
from django.contrib.admin.sites import site as admin_site
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.admin import UserAdmin
from accounts.models import AuditEvent, User
from accounts.two_factor import BACKUP_CODE_COUNT
from tests.factories import PASSWORD, UserFactory, applicant, instructor, programme_admin, totp_code

pytestmark = [pytest.mark.django_db, pytest.mark.password_only]

VERIFY = reverse("accounts:two-factor-verify")
SETUP = reverse("accounts:two-factor-setup")
WORKSPACE = reverse("applications:instructor-home")


def password_login(client: Client, user: User) -> None:
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]


def enrol(client: Client, user: User) -> list[str]:
    """Walk the enrolment as the user does; return the backup codes the page shows."""
    page = client.get(SETUP)
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(SETUP, {"code": totp_code(device), "next": WORKSPACE})
    assert response.status_code == 302
    codes_page = client.get(response["Location"])
    return re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>", codes_page.content.decode())


def other_client() -> Client:
    return Client()


def test_an_instructor_is_sent_to_enrolment_whatever_page_they_ask_for():
    user = instructor()
    client = Client()
    password_login(client, user)
    response = client.get(WORKSPACE)
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?next=%2Finstruction%2F"
    # Without an authenticator yet, the verification page sends to the enrolment page.
    response = client.get(response["Location"])
    assert response["Location"] == f"{SETUP}?next=%2Finstruction%2F"
    page = client.get(response["Location"]).content.decode()
    assert "<svg" in page and "<path" in page  # the QR code, inline
    key = TOTPDevice.objects.get(user=user, confirmed=False).key
    assert key  # the key is shown as text too, grouped by four
    shown = re.search(r"data-otp-key>([A-Z2-7 ]+)<", page)
    assert shown is not None and len(shown.group(1).replace(" ", "")) == 32


def test_enrolment_needs_a_correct_code_and_shows_the_backup_codes_once():
    user = instructor()
    client = Client()
    password_login(client, user)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    page = client.post(SETUP, {"code": wrong, "next": WORKSPACE})
    assert page.status_code == 200
    assert "Ce code ne correspond pas" in page.content.decode()
    assert 'aria-invalid="true"' in page.content.decode() or "fr-input-group--error" in page.content.decode()
    device.refresh_from_db()
    assert device.confirmed is False
    assert client.get(WORKSPACE).status_code == 302  # still not verified

    # Reloading the page keeps the same key: a user who scanned it is not lost.
    client.get(SETUP)
    assert TOTPDevice.objects.filter(user=user).count() == 1
    device.refresh_from_db()
    device.throttle_reset()

    codes = enrol(client, user)
    assert len(codes) == BACKUP_CODE_COUNT
    assert len(set(codes)) == BACKUP_CODE_COUNT
    assert TOTPDevice.objects.get(user=user).confirmed
    assert StaticToken.objects.filter(device__user=user).count() == BACKUP_CODE_COUNT
    assert AuditEvent.objects.filter(action="two_factor.enrolled", target_id=str(user.pk)).count() == 1
    # Shown once: the page sends to the security page when reloaded.
    again = client.get(reverse("accounts:two-factor-backup-codes"))
    assert again["Location"] == reverse("accounts:security")
    assert client.get(WORKSPACE).status_code == 200


def test_the_next_login_asks_the_code_and_a_code_serves_once():
    user = instructor()
    first = Client()
    password_login(first, user)
    enrol(first, user)
    device = TOTPDevice.objects.get(user=user)

    second = Client()
    password_login(second, user)
    assert second.get(WORKSPACE)["Location"].startswith(VERIFY)
    page = second.get(f"{VERIFY}?next={WORKSPACE}").content.decode()
    assert 'autocomplete="one-time-code"' in page
    # The code used at enrolment cannot be replayed, even in another session.
    device.refresh_from_db()
    replay = second.post(VERIFY, {"code": totp_code(device), "next": WORKSPACE})
    assert replay.status_code == 200
    assert "incorrect ou a déjà servi" in replay.content.decode()
    device.refresh_from_db()
    device.throttle_reset()
    response = second.post(VERIFY, {"code": totp_code(device, offset=1), "next": WORKSPACE})
    assert response.status_code == 302
    assert response["Location"] == WORKSPACE
    assert second.get(WORKSPACE).status_code == 200


def test_the_session_key_changes_when_the_code_is_given():
    user = programme_admin()
    client = Client()
    password_login(client, user)
    enrol_client = Client()
    password_login(enrol_client, user)
    enrol(enrol_client, user)
    before = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    device = TOTPDevice.objects.get(user=user)
    client.post(VERIFY, {"code": totp_code(device, offset=1)})
    after = next(cookie.value for name, cookie in client.cookies.items() if name.endswith("sessionid"))
    assert before is None or before != after


def test_wrong_codes_are_throttled(settings):
    # A minute after the first failure, so that the test does not depend on its own speed.
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    user = instructor()
    client = Client()
    password_login(client, user)
    enrol(client, user)
    other = Client()
    password_login(other, user)
    first = other.post(VERIFY, {"code": "000000"})
    assert "incorrect" in first.content.decode()
    second = other.post(VERIFY, {"code": "000001"})
    assert "Trop de codes erronés" in second.content.decode()
    # Even the right code waits for the end of the delay.
    device = TOTPDevice.objects.get(user=user)
    third = other.post(VERIFY, {"code": totp_code(device, offset=1)})
    assert "Trop de codes erronés" in third.content.decode()
    assert other.get(WORKSPACE).status_code == 302


def test_a_backup_code_opens_the_session_once_and_is_audited():
    user = instructor()
    client = Client()
    password_login(client, user)
    codes = enrol(client, user)

    lost_phone = Client()
    password_login(lost_phone, user)
    response = lost_phone.post(VERIFY, {"code": codes[0].upper(), "next": WORKSPACE})
    assert response.status_code == 302
    assert lost_phone.get(WORKSPACE).status_code == 200
    assert StaticToken.objects.filter(device__user=user).count() == BACKUP_CODE_COUNT - 1
    event = AuditEvent.objects.get(action="two_factor.backup_code_used")
    assert event.data == {"remaining": BACKUP_CODE_COUNT - 1}

    again = Client()
    password_login(again, user)
    refused = again.post(VERIFY, {"code": codes[0], "next": WORKSPACE})
    assert refused.status_code == 200
    assert "incorrect ou a déjà servi" in refused.content.decode()


def test_the_password_alone_cannot_replace_the_authenticator():
    user = instructor()
    owner = Client()
    password_login(owner, user)
    enrol(owner, user)
    device = TOTPDevice.objects.get(user=user)

    thief = Client()
    password_login(thief, user)
    response = thief.get(SETUP)
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)
    thief.post(SETUP, {"code": "123456"})
    assert list(TOTPDevice.objects.filter(user=user)) == [device]


def test_an_admin_resets_a_lost_authenticator_and_the_user_enrols_again():
    user = instructor()
    client = Client()
    password_login(client, user)
    enrol(client, user)
    admin_user = programme_admin(is_superuser=True)
    model_admin = UserAdmin(User, admin_site)
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.test import RequestFactory

    request = RequestFactory().post("/")
    request.user = admin_user
    request.session = {}  # type: ignore[assignment]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    model_admin.reset_two_factor(request, User.objects.filter(pk=user.pk))

    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="two_factor.reset")
    assert event.actor == admin_user and event.target_id == str(user.pk)

    fresh = Client()
    password_login(fresh, user)
    response = fresh.get(f"{VERIFY}?next={WORKSPACE}")
    assert response["Location"].startswith(SETUP)


def test_unverified_staff_reach_neither_the_django_admin_nor_htmx_fragments():
    user = programme_admin(is_superuser=True)
    client = Client()
    password_login(client, user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    htmx = client.get(reverse("grants:admin-home"), headers={"HX-Request": "true"})
    assert htmx.status_code == 204
    assert htmx["HX-Redirect"].startswith(VERIFY)
    # A form posted before the code is not acted upon.
    posted = client.post(reverse("accounts:two-factor-backup-codes-new"))
    assert posted.status_code == 302
    assert not StaticDevice.objects.filter(user=user).exists()


def test_logout_and_public_pages_stay_open_before_the_code():
    user = instructor()
    client = Client()
    password_login(client, user)
    assert client.get(reverse("core:accessibility")).status_code == 200
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert client.get(WORKSPACE)["Location"].startswith(reverse("accounts:login"))


def test_next_never_leaves_the_site():
    user = instructor()
    client = Client()
    password_login(client, user)
    enrol(client, user)
    other = Client()
    password_login(other, user)
    device = TOTPDevice.objects.get(user=user)
    response = other.post(VERIFY, {"code": totp_code(device, offset=1), "next": "https://exemple.org/"})
    assert response["Location"] == WORKSPACE


def test_applicants_owe_nothing_until_they_enrol_and_then_give_the_code():
    user = applicant()
    client = Client()
    password_login(client, user)
    home = reverse("applications:applicant-home")
    assert client.get(home).status_code == 200
    security = client.get(reverse("accounts:security")).content.decode()
    assert "Non activée" in security and "Facultative" in security

    enrol(client, user)
    assert client.get(home).status_code == 200

    later = Client()
    password_login(later, user)
    assert later.get(home)["Location"].startswith(VERIFY)
    device = TOTPDevice.objects.get(user=user)
    later.post(VERIFY, {"code": totp_code(device, offset=1)})
    assert later.get(home).status_code == 200


def test_the_security_page_regenerates_backup_codes():
    user = instructor()
    client = Client()
    password_login(client, user)
    old = enrol(client, user)
    page = client.get(reverse("accounts:security")).content.decode()
    assert "Il vous reste 10 codes de secours." in page
    response = client.post(reverse("accounts:two-factor-backup-codes-new"))
    new_page = client.get(response["Location"]).content.decode()
    new = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", new_page)
    assert len(new) == BACKUP_CODE_COUNT and not set(new) & set(old)
    assert AuditEvent.objects.filter(action="two_factor.backup_codes_regenerated").count() == 1
    other = Client()
    password_login(other, user)
    assert other.post(VERIFY, {"code": old[1]}).status_code == 200  # the old codes no longer work


def test_a_key_shown_to_another_session_is_void_once_the_owner_opens_the_page():
    user = instructor()
    thief = Client()
    password_login(thief, user)
    thief.get(SETUP)
    stolen = TOTPDevice.objects.get(user=user, confirmed=False)
    owner = Client()
    password_login(owner, user)
    owner_page = owner.get(SETUP).content.decode()
    own = TOTPDevice.objects.get(user=user, confirmed=False)
    assert own.pk != stolen.pk and own.key != stolen.key
    assert stolen.key.upper() not in owner_page
    # The thief can no longer confirm the key they copied, nor the owner's.
    refused = thief.post(SETUP, {"code": totp_code(stolen), "next": WORKSPACE})
    assert (
        "La page d&#x27;activation a expiré" in refused.content.decode()
        or "expiré" in refused.content.decode()
    )
    assert thief.post(SETUP, {"code": totp_code(own), "next": WORKSPACE}).status_code == 200
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    # Each page drawn for the thief voided the owner's key in turn: the owner reloads and confirms
    # a key the thief never saw; the thief's session still cannot reach the workspace.
    assert not TOTPDevice.objects.filter(pk=own.pk).exists()
    owner.get(SETUP)
    own = TOTPDevice.objects.get(user=user, confirmed=False)
    response = owner.post(SETUP, {"code": totp_code(own), "next": WORKSPACE})
    assert response.status_code == 302
    assert thief.get(WORKSPACE).status_code == 302


def test_wrong_codes_at_enrolment_are_counted():
    user = instructor()
    client = Client()
    password_login(client, user)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    client.post(SETUP, {"code": "000000"})
    device.refresh_from_db()
    assert device.throttling_failure_count == 1


def test_the_delay_after_many_wrong_codes_is_capped(settings):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.two_factor import MAX_COUNTED_FAILURES

    user = instructor()
    client = Client()
    password_login(client, user)
    enrol(client, user)
    device = TOTPDevice.objects.get(user=user)
    # Forty failures would mean years of waiting; the count is held at the cap instead.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=40, throttling_failure_timestamp=timezone.now() - timedelta(minutes=9)
    )
    other = Client()
    password_login(other, user)
    response = other.post(VERIFY, {"code": totp_code(device, offset=1), "next": WORKSPACE})
    assert response.status_code == 302 and response["Location"] == WORKSPACE
    device.refresh_from_db()
    assert device.throttling_failure_count == 0  # reset by the success
    assert MAX_COUNTED_FAILURES == 10


def test_an_applicant_whose_authenticator_was_reset_is_not_sent_round_in_circles():
    from accounts.two_factor import two_factor_reset

    user = applicant()
    client = Client()
    password_login(client, user)
    enrol(client, user)
    later = Client()
    password_login(later, user)
    two_factor_reset(user=user, actor=None)
    home = reverse("applications:applicant-home")
    first = later.get(home)
    assert first["Location"].startswith(VERIFY)
    assert later.get(first["Location"])["Location"] == home
    assert later.get(home).status_code == 200


def test_an_account_with_is_staff_but_no_role_owes_the_code():
    user = UserFactory(is_staff=True)
    client = Client()
    password_login(client, user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
