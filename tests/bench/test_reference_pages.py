"""bench/reference.py: the reference pages of bench_pages, served only by bench/urls.py."""

import pytest
from django.test import override_settings
from django.urls import NoReverseMatch, reverse

from tests.factories import programme_admin, submitted_application

pytestmark = pytest.mark.django_db


def test_the_reference_pages_exist_only_under_the_bench_urls() -> None:
    with pytest.raises(NoReverseMatch):
        reverse("bench-reference-list", args=["application"])
    with pytest.raises(NoReverseMatch):
        reverse("bench-reference-dossier", args=["TST-2026-00001"])


@override_settings(ROOT_URLCONF="bench.urls")
def test_the_reference_pages_draw_the_base_layout_around_the_same_rows_and_fields(client) -> None:
    first, second = submitted_application(), submitted_application()
    client.force_login(programme_admin())
    url = reverse("bench-reference-list", args=["application"]) + f"?ids={second.pk},{first.pk}"
    page = client.get(url).content.decode()
    assert page.index(second.reference) < page.index(first.reference)  # in the order asked
    assert "Gers" in page
    assert 'id="footer"' in page or "fr-footer" in page  # the portal's own layout
    detail = client.get(reverse("bench-reference-dossier", args=[first.reference])).content.decode()
    assert first.reference in detail
    assert first.title in detail
    assert "fr-header" in detail
    assert client.get(reverse("bench-reference-list", args=["autre"])).status_code == 404
