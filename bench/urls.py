"""The portal's URLs plus the baselines of the benchmarks: a bare view behind the same middleware, and
the reference pages of bench_pages (bench/reference.py)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from bench.reference import reference_dossier, reference_list


def bare(request: HttpRequest) -> HttpResponse:
    """The least a Django view can do: the cost of the server, the middleware and the routing."""
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("bench/reference/<slug:rows>/", reference_list, name="bench-reference-list"),
    path("bench/reference/dossier/<str:reference>/", reference_dossier, name="bench-reference-dossier"),
    path("", include("config.urls")),
]
