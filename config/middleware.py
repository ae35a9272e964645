"""Project-wide request middleware."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict


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
