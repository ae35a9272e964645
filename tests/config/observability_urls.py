"""The portal's addresses, plus two views the observability tests need (`pytest.mark.urls`)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from core.tasks import data_changes_prune_task

SENT: list[str] = []


def queue_a_task(request: HttpRequest, queue: str) -> HttpResponse:
    """A request that queues a task (the portal's views queue theirs after commit, the same way)."""
    result = data_changes_prune_task.apply_async(queue=queue, routing_key=queue)
    SENT.append(result.id)
    return HttpResponse("queued")


def fail_with_personal_data(request: HttpRequest) -> HttpResponse:
    """A view that fails with what a real one might hold: an IBAN, an address, a name, a file."""
    uploaded = request.FILES["piece"]
    iban = request.POST["iban"]
    raise ValueError(
        f"RIB refusé pour {request.user.email} ({request.user.get_full_name()}) : "
        f"{iban}, fichier {uploaded.name}"
    )


urlpatterns = [
    path("tests/queue/<str:queue>/", queue_a_task),
    path("tests/fail/", fail_with_personal_data),
    path("", include("config.urls")),
]

# The portal's own error pages, as in config/urls.py.
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
