"""The request's context for the logs, and its count and duration for the metrics."""

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from config.observability import metrics
from core import log_context

REQUEST_ID_HEADER = "X-Request-ID"

# The request being handled, for the error reports' scrubbing (config.observability.sentry): the
# names of its user and of its uploaded files are removed from anything sent.
_request_var: ContextVar[HttpRequest | None] = ContextVar("request", default=None)


def current_request() -> HttpRequest | None:
    return _request_var.get()


class RequestContextMiddleware:
    """Gives each request an id (the proxy's X-Request-ID if sane, else a new one), sent back in the
    response and carried into the tasks it queues (config.observability.tasks), and names the acting
    user (by id) and the dossier or agreement of the address for the logs (core.log_context).

    First of the list, so that every line logged while the request runs carries the id.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        log_context.clear()
        request_id = log_context.sane_request_id(request.headers.get(REQUEST_ID_HEADER))
        log_context.request_id_var.set(request_id)
        _request_var.set(request)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        # Without a session cookie nobody is logged in: no need to load the session to know it.
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                log_context.bind_user_id(user.pk)
        reference = view_kwargs.get("reference") or view_kwargs.get("number")
        if reference:
            log_context.bind_reference(str(reference))


def _clear_after_response(**kwargs: Any) -> None:
    # After Django has logged the response (4xx, 5xx): the next lines of this thread (the server's
    # own) belong to no request.
    log_context.clear()
    _request_var.set(None)


request_finished.connect(_clear_after_response, dispatch_uid="log_context_clear")


class RequestMetricsMiddleware:
    """Counts each response by view (the URL's name, never the raw path: bounded labels), method and
    status, and observes its duration. Right after RequestContextMiddleware: it times the rest."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        began = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = (match.view_name or "unnamed") if match is not None else "unresolved"
        method = request.method if request.method in metrics.KNOWN_METHODS else "other"
        metrics.REQUESTS.labels(view=view, method=method, status=str(response.status_code)).inc()
        metrics.LATENCY.labels(view=view, method=method).observe(time.perf_counter() - began)
        return response
