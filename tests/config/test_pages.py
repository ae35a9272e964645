import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = [
    ("core:home", "Fabriques de territoires"),
    ("core:legal-notice", "Mentions légales"),
    ("core:personal-data", "Données personnelles"),
    ("core:accessibility", "Déclaration d'accessibilité"),
    ("accounts:login", "Connexion"),
    ("accounts:sign-up", "Créer un compte porteur de projet"),
    ("accounts:password-reset", "Mot de passe oublié"),
]


@pytest.mark.parametrize(("url_name", "heading"), PUBLIC_PAGES)
def test_public_pages_render_with_header_footer_and_legal_links(client, url_name, heading):
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    page = response.content.decode()
    assert f"<h1>{heading}</h1>" in page
    assert '<header role="banner"' in page
    assert 'id="pied-de-page"' in page
    assert "Accessibilité : partiellement conforme" in page
    for legal in ("core:legal-notice", "core:personal-data", "core:accessibility"):
        assert f'href="{reverse(legal)}"' in page


def test_pages_use_the_bundled_dsfr_assets_and_no_outside_host(client):
    page = client.get(reverse("core:home")).content.decode()
    assert 'href="/static/dsfr/dist/dsfr/dsfr.min.css"' in page
    assert 'src="/static/dsfr/dist/dsfr/dsfr.module.min.js"' in page
    assert "République<br>française" in page
    assert "https://" not in page and "http://" not in page


def test_every_asset_a_page_links_is_served_locally(client):
    import re

    page = client.get(reverse("core:home")).content.decode()
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert len(assets) >= 5
    for asset in assets:
        response = client.get(asset)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        response.close()
        assert response.status_code == 200, asset
        assert body, asset


def test_the_theme_is_swappable_and_the_neutral_theme_drops_the_states_identity(client, settings):
    settings.PORTAL_THEME = "neutral"
    page = client.get(reverse("core:home")).content.decode()
    assert "République" not in page
    assert "dsfr.min.css" not in page
    assert 'href="/static/css/neutral.css"' in page
    # The service, the navigation and the legal links stay.
    assert "Fabriques de territoires" in page
    assert f'href="{reverse("core:accessibility")}"' in page


def test_pages_are_in_french(client):
    page = client.get(reverse("accounts:login")).content.decode()
    assert '<html lang="fr"' in page
    assert "Adresse e-mail" in page and "Mot de passe" in page
