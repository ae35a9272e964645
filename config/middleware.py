"""Project-wide request middleware."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.cache import patch_cache_control


class StripNullCharactersFromQueryMiddleware:
    """Remove NUL characters from the query string's values before any view reads them.

    PostgreSQL cannot compare a string holding NUL (psycopg2 raises ValueError, a 500): every
    filter read from the address (the admin's list filters, searches) would have to refuse it on
    its own. Nobody types a NUL: removing it changes nothing a person asked for. Forms posted in
    the body keep their own check (Django's CharField refuses NUL).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            cleaned = QueryDict(mutable=True)
            for key, values in request.GET.lists():
                cleaned.setlist(key.replace("\x00", ""), [value.replace("\x00", "") for value in values])
            cleaned._mutable = False
            request.GET = cleaned  # type: ignore[assignment]  # immutable, as Django's own
        return self.get_response(request)


class PrivatePagesNotStoredMiddleware:
    """Pages shown to a logged-in user carry `Cache-Control: private, no-store`.

    They hold dossiers, IBANs and decisions: neither a shared proxy nor the browser's disk (a
    shared computer in a tiers-lieu, the back button after logout) may keep them. Files served
    by the download views already say so; this covers every HTML page and fragment. Anonymous
    pages are left as they are: the session is not even read for a request without its cookie.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.SESSION_COOKIE_NAME in request.COOKIES
            and response.get("Content-Type", "").startswith("text/html")
            and getattr(request, "user", None) is not None
            and request.user.is_authenticated
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response
