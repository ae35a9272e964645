"""The public home page leads to the public list of each call's laureates."""

import pytest
from django.urls import reverse

from applications.models import Call
from tests.factories import CallFactory, applicant

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("logged_in", [False, True])
def test_the_home_page_links_the_laureates_of_each_public_call(client, logged_in):
    opened = CallFactory(
        status=Call.Status.OPEN, slug="fabriques-2026", title="Fabriques de territoires 2026"
    )
    CallFactory(status=Call.Status.DRAFT, slug="brouillon", title="Appel en préparation")
    if logged_in:
        client.force_login(applicant())
    page = client.get(reverse("core:home")).content.decode()
    laureates = reverse("grants:export-laureates", args=[opened.slug])
    assert f'href="{laureates}"' in page
    assert "Les lauréats de l'appel « Fabriques de territoires 2026 »" in page
    # A call in preparation has no public page (404), so no link.
    assert reverse("grants:export-laureates", args=["brouillon"]) not in page
    assert "Appel en préparation" not in page
    assert client.get(laureates).status_code == 200
