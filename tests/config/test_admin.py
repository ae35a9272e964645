import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import UserFactory, complete_application

pytestmark = pytest.mark.django_db


@pytest.mark.ignore_template_errors  # Django's own admin templates use optional variables
def test_every_admin_list_and_the_dossier_page_open_for_a_superuser(client):
    application = complete_application()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
    page = client.get(reverse("admin:applications_application_change", args=[application.pk]))
    assert page.status_code == 200
    assert application.reference in page.content.decode()


def test_dossiers_and_the_audit_log_cannot_be_edited_in_the_admin(client):
    application = complete_application()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:applications_application_change", args=[application.pk]), {"title": "Changé"}
    )
    assert response.status_code == 403
    application.refresh_from_db()
    assert application.title != "Changé"
    assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
