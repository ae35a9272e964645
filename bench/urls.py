"""The portal's URLs plus the baseline of the HTTP benchmarks: a bare view behind the same middleware."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def bare(request: HttpRequest) -> HttpResponse:
    """The least a Django view can do: the cost of the server, the middleware and the routing."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("", include("config.urls")),
]
