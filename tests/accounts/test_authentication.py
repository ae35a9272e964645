import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Role, User
from accounts.roles import roles_of
from tests.factories import PASSWORD, UserFactory, applicant

pytestmark = pytest.mark.django_db

SIGN_UP = {
    "first_name": "Claire",
    "last_name": "Darmaillacq",
    "email": "Claire.Darmaillacq@Gers-Developpement.fr",
    "password1": "Tiers-lieux-du-Gers-2026",
    "password2": "Tiers-lieux-du-Gers-2026",
}


def _link_in_last_email(pattern: str) -> str:
    match = re.search(pattern, mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(0)


def _login(client, email, password):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


def test_sign_up_creates_an_inactive_applicant_and_sends_a_confirmation_link(
    client, django_capture_on_commit_callbacks, task_queues
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:sign-up"), SIGN_UP)
    task_queues.drain()
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:sign-up-done")
    user = User.objects.get()
    assert user.email == "claire.darmaillacq@gers-developpement.fr"
    assert not user.is_active
    assert user.email_confirmed_at is None
    assert roles_of(user) == {Role.APPLICANT}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["claire.darmaillacq@gers-developpement.fr"]
    assert "Confirmez votre adresse" in mail.outbox[0].subject
    assert AuditEvent.objects.filter(action="account.sign_up", actor=user).exists()


def test_confirmation_link_activates_the_account_then_login_lands_on_applicant_home(
    client, django_capture_on_commit_callbacks, task_queues
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:sign-up"), SIGN_UP)
    task_queues.drain()
    link = _link_in_last_email(r"/compte/confirmer/[^/\s]+/[^/\s]+/")

    # Before confirmation the right password is not enough, and a new link is sent.
    with django_capture_on_commit_callbacks(execute=True):
        refused = _login(client, SIGN_UP["email"], SIGN_UP["password1"])
    task_queues.drain()
    assert refused.status_code == 200
    assert "n&#x27;est pas encore confirmée" in refused.content.decode()
    assert len(mail.outbox) == 2

    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    user = User.objects.get()
    assert user.is_active and user.email_confirmed_at is not None

    logged_in = _login(client, SIGN_UP["email"], SIGN_UP["password1"])
    assert logged_in["Location"] == reverse("applications:applicant-home")
    assert client.get(reverse("applications:applicant-home")).status_code == 200

    # The link may be followed again (mail clients prefetch links): it says so and changes nothing.
    again = client.get(link, follow=True)
    assert "déjà confirmée" in again.content.decode()


def test_a_forged_confirmation_link_is_refused_and_activates_nothing(client):
    user = UserFactory(unconfirmed=True)
    response = client.get(reverse("accounts:confirm-email", kwargs={"uidb64": "MQ", "token": "abc-def"}))
    assert response.status_code == 400
    assert "Lien de confirmation invalide" in response.content.decode()
    user.refresh_from_db()
    assert not user.is_active


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "pas-une-adresse"}, "email", "Saisissez une adresse de courriel valide."),
        ({"password1": "court-2026", "password2": "court-2026"}, "password1", "au minimum 12 caractères"),
        ({"password2": "Autre-chose-entierement"}, "password2", "ne correspondent pas"),
        ({"first_name": ""}, "first_name", "Ce champ est obligatoire."),
    ],
)
def test_sign_up_errors_are_in_french_next_to_the_field_and_in_the_summary(client, change, field, message):
    response = client.post(reverse("accounts:sign-up"), {**SIGN_UP, **change})
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["form"].errors[field]
    assert message in " ".join(response.context["form"].errors[field])
    assert "data-error-summary" in page
    assert f'href="#id_{field}"' in page  # the summary links to the field
    assert f'id="id_{field}-erreurs"' in page  # the error sits next to the field
    assert f'aria-describedby="id_{field}-erreurs"' in page
    assert not User.objects.exists()


def test_sign_up_with_an_address_already_used_is_refused_without_writing(client):
    UserFactory(email="claire.darmaillacq@gers-developpement.fr")
    response = client.post(reverse("accounts:sign-up"), SIGN_UP)
    assert response.status_code == 200
    assert "Un compte existe déjà avec cette adresse e-mail." in response.content.decode()
    assert User.objects.count() == 1
    assert not mail.outbox


def test_wrong_password_gets_a_french_error(client):
    user = applicant()
    response = _login(client, user.email, "pas-le-bon-mot-de-passe")
    assert response.status_code == 200
    assert "Adresse e-mail ou mot de passe incorrect." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_ignores_the_case_of_the_email_address(client):
    user = applicant(email="jeanne@exemple.fr")
    response = _login(client, "Jeanne@Exemple.FR", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_logout_ends_the_session(client):
    client.force_login(applicant())
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("applications:applicant-home")).status_code == 302


def test_password_reset_sends_a_single_use_link_that_sets_a_new_password(
    client, django_capture_on_commit_callbacks, task_queues
):
    user = applicant()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:password-reset"), {"email": user.email})
    task_queues.drain()
    assert response["Location"] == reverse("accounts:password-reset-done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Nouveau mot de passe — Fabriques de territoires"
    link = _link_in_last_email(r"/compte/mot-de-passe/nouveau/[^/\s]+/[^/\s]+/")

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    new_password = "Nouveau-mot-de-passe-2026"
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert done["Location"] == reverse("accounts:password-reset-complete")
    user.refresh_from_db()
    assert user.check_password(new_password)
    assert not user.check_password(PASSWORD)
    event = AuditEvent.objects.get(action="account.password_set", target_id=str(user.pk))
    assert event.actor == user and event.data == {"reason": "reset", "usable": True}
    assert new_password not in str(event.data) and user.password not in str(event.data)

    reused = client.get(link, follow=True)
    assert "Ce lien est invalide ou a déjà servi." in reused.content.decode()


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client):
    response = client.post(reverse("accounts:password-reset"), {"email": "inconnu@exemple.fr"})
    assert response["Location"] == reverse("accounts:password-reset-done")
    assert not mail.outbox


def test_failed_logins_are_rate_limited_with_a_cool_off_not_a_permanent_lock(client, settings):
    user = applicant()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, user.email, "mauvais-mot-de-passe").status_code == 200
    assert _login(client, user.email, "mauvais-mot-de-passe").status_code == 429

    # Locked out: even the right password is refused during the cool-off.
    locked = _login(client, user.email, PASSWORD)
    assert locked.status_code == 429
    assert "Connexion temporairement suspendue" in locked.content.decode()
    assert "Réessayez dans 15 minutes." in locked.content.decode()
    assert "_auth_user_id" not in client.session

    # Once the cool-off has passed, the right password works again.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response = _login(client, user.email, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
