"""The error pages: in French, with their status, under the same Content-Security-Policy.

DEBUG is False (Django's technical pages would answer otherwise). 403 and 404 are full pages of
the portal; 400 and 500 are self-contained (templates/500.html), rendered from the settings
alone. A view that raises, a bad request and a CSRF failure are provoked through a URL
configuration of the test's own: the project's plus three views that fail on purpose.
"""

from types import ModuleType
from typing import Any

import pytest
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path, reverse

from config import urls as project_urls
from tests.factories import applicant
from tests.security.test_headers import assert_page_obeys_its_policy, assert_strict_policy, scan

pytestmark = pytest.mark.django_db


def _raises(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a failure inside a view")


def _bad_request(request: HttpRequest) -> HttpResponse:
    raise BadRequest("refused")


def _denied(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def _form(request: HttpRequest) -> HttpResponse:
    return HttpResponse("reçu")


# A module (the resolver caches URL configurations by identity, so it must be hashable).
URLCONF = ModuleType("error_pages_urls")
URLCONF.urlpatterns = [  # type: ignore[attr-defined]
    path("essai/erreur/", _raises),
    path("essai/requete/", _bad_request),
    path("essai/interdit/", _denied),
    path("essai/formulaire/", _form),
    *project_urls.urlpatterns,
]
for _code in (400, 403, 404, 500):
    setattr(URLCONF, f"handler{_code}", getattr(project_urls, f"handler{_code}"))


@pytest.fixture
def failing_urls() -> Any:
    with override_settings(ROOT_URLCONF=URLCONF, DEBUG=False):
        yield


def _text(response: Any) -> str:
    return response.content.decode()


def _assert_self_contained(response: Any) -> None:
    """No script at all (nothing needs a nonce), no inline style, the theme's stylesheets."""
    assert_strict_policy(response)
    page = scan(_text(response))
    assert not page.scripts and not page.inline_script_text and not page.handlers
    assert not page.style_attributes and page.style_elements == 0
    assert "/static/dsfr/dist/dsfr/dsfr.min.css" in _text(response)
    assert 'lang="fr"' in _text(response)


def test_a_missing_page_is_a_french_404_of_the_portal(client: Client) -> None:
    response = client.get("/cette-page-n-existe-pas/")
    assert response.status_code == 404
    assert "Page non trouvée" in _text(response)
    assert "Erreur 404" in _text(response)
    assert_page_obeys_its_policy(response)


def test_an_unknown_dossier_is_the_same_404(client: Client) -> None:
    client.force_login(applicant())
    response = client.get(reverse("applications:dossier-project", args=["FDT-9999-99999"]))
    assert response.status_code == 404
    assert "Page non trouvée" in _text(response)
    assert_page_obeys_its_policy(response)


def test_a_page_of_another_role_is_a_french_403(client: Client) -> None:
    client.force_login(applicant())
    response = client.get(reverse("grants:admin-home"))
    assert response.status_code == 403
    assert "Accès refusé" in _text(response)
    assert "Erreur 403" in _text(response)
    assert_page_obeys_its_policy(response)


def test_permission_denied_raised_in_a_view_gives_the_403_page(client: Client, failing_urls: None) -> None:
    client.force_login(applicant())
    response = client.get("/essai/interdit/")
    assert response.status_code == 403
    assert "Accès refusé" in _text(response)
    assert_page_obeys_its_policy(response)


def test_a_view_that_raises_gives_the_french_500(client: Client, failing_urls: None) -> None:
    client.raise_request_exception = False
    response = client.get("/essai/erreur/")
    assert response.status_code == 500
    assert "Erreur inattendue" in _text(response)
    assert "Erreur 500" in _text(response)
    assert "RuntimeError" not in _text(response) and "Traceback" not in _text(response)
    _assert_self_contained(response)


def test_the_500_is_drawn_for_a_logged_in_user_too(client: Client, failing_urls: None) -> None:
    client.raise_request_exception = False
    client.force_login(applicant())
    response = client.post("/essai/erreur/", {"x": "y"})
    assert response.status_code == 500
    assert "Erreur inattendue" in _text(response)
    _assert_self_contained(response)


@override_settings(PORTAL_THEME="neutral")
def test_the_500_follows_the_neutral_theme(client: Client, failing_urls: None) -> None:
    client.raise_request_exception = False
    response = client.get("/essai/erreur/")
    assert response.status_code == 500
    assert "/static/css/neutral.css" in _text(response)
    assert "dsfr.min.css" not in _text(response)
    assert "République" not in _text(response)  # the bloc-marque is the State's


def test_the_500_template_needs_no_request_and_no_context_processor() -> None:
    # What config.views.server_error does: the template and the settings, nothing else.
    from config.views import server_error

    response = server_error(HttpRequest())
    assert response.status_code == 500
    assert "Erreur inattendue" in response.content.decode()


def test_the_500_view_survives_a_broken_template(monkeypatch: pytest.MonkeyPatch) -> None:
    from config import views

    def broken(name: str) -> Any:
        raise ValueError("Missing staticfiles manifest entry")

    monkeypatch.setattr(views.loader, "get_template", broken)
    response = views.server_error(HttpRequest())
    assert response.status_code == 500
    assert "Erreur inattendue" in response.content.decode()


def test_a_bad_request_is_a_french_400(client: Client, failing_urls: None) -> None:
    client.raise_request_exception = False
    response = client.get("/essai/requete/")
    assert response.status_code == 400
    assert "Requête incorrecte" in _text(response)
    assert "Erreur 400" in _text(response)
    _assert_self_contained(response)


def test_an_oversized_form_is_the_french_400(client: Client) -> None:
    # DATA_UPLOAD_MAX_MEMORY_SIZE: Django's RequestDataTooBig, answered by handler400.
    client.raise_request_exception = False
    client.force_login(applicant())
    response = client.post(reverse("fabriques:organisation-create"), {"name": "x" * (6 * 1024 * 1024)})
    assert response.status_code == 400
    assert "Requête incorrecte" in _text(response)
    _assert_self_contained(response)


def test_a_form_without_its_csrf_token_gets_the_french_page(failing_urls: None) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(applicant())
    response = client.post("/essai/formulaire/", {"x": "y"})
    assert response.status_code == 403
    assert "Formulaire expiré" in _text(response)
    assert "rechargez-la" in _text(response)
    assert "verification failed" not in _text(response)  # Django's own page, in English
    assert_page_obeys_its_policy(response)


def test_the_csrf_page_for_an_anonymous_visitor(failing_urls: None) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("accounts:login"), {"username": "a@exemple.fr", "password": "x"})
    assert response.status_code == 403
    assert "Formulaire expiré" in _text(response)
    assert_page_obeys_its_policy(response)


def test_a_request_for_another_host_is_the_french_400_before_any_middleware(
    client: Client, settings: Any
) -> None:
    # Django refuses the Host header before the middleware set request.user: the page needs neither.
    settings.ALLOWED_HOSTS = ["fabriques.exemple.fr"]
    response = client.get("/", HTTP_HOST="ailleurs.example")
    assert response.status_code == 400
    assert "Requête incorrecte" in response.content.decode()
