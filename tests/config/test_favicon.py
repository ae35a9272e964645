"""Every page names an icon that is served, in both themes, and /favicon.ico answers."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_favicon_ico_is_served_at_the_root_of_the_site(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    body = _body(response)
    assert body.startswith(b"\x00\x00\x01\x00")  # the ICO header
    assert body == (ROOT / "static" / "root" / "favicon.ico").read_bytes()


@pytest.mark.parametrize(
    ("theme", "svg"), [("dsfr", "dsfr/dist/favicon/favicon.svg"), ("neutral", "img/favicon.svg")]
)
def test_each_theme_links_icons_that_are_served(client, settings, theme, svg):
    settings.PORTAL_THEME = theme
    for url in [reverse("core:home"), reverse("accounts:login")]:
        page = client.get(url).content.decode()
        icons = re.findall(r'<link rel="icon" href="([^"]+)"', page)
        assert f"/static/{svg}" in icons, icons
        assert any(icon.endswith(".ico") for icon in icons), icons
        for icon in icons:
            response = client.get(icon)
            assert response.status_code == 200, icon
            assert response["Content-Type"].startswith("image/"), (icon, response["Content-Type"])
            assert _body(response)
    # The neutral theme does not show the State's Marianne.
    if theme == "neutral":
        assert "dsfr/dist/favicon" not in page
