"""Metrics in Prometheus' text format, at /metrics, for the monitoring network or a token only.

Two kinds of figures:
- counted by each process as it works (requests by view and status, their durations, refused and
  locked logins): prometheus_client's Counter and Histogram. Under gunicorn, each worker process
  counts its own: with PROMETHEUS_MULTIPROC_DIR set (an empty folder, emptied at each start), they
  write to files there and a scrape sums them all (prometheus_client's multiprocess mode);
- read at scrape time from the database and the broker (queues, outbox, envelope, axes): a
  collector runs a handful of aggregate queries, bounded whatever the volume, when Prometheus asks.

docs/operations.md (« Métriques ») lists every metric.
"""

import hmac
import ipaddress
import json
import logging
import os
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Not in prometheus_client's global registry: each scrape builds its registry (below), from these
# or, in multiprocess mode, from the files every process writes.
REQUESTS = Counter(
    "fabriques_http_requests",
    "Responses given, by view (URL name), method and status.",
    ["view", "method", "status"],
    registry=None,
)
LATENCY = Histogram(
    "fabriques_http_request_duration_seconds",
    "Time to answer a request, by view (URL name) and method.",
    ["view", "method"],
    registry=None,
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LOGINS_REFUSED = Counter(
    "fabriques_logins_refused", "Logins refused (wrong password, or a locked-out client).", registry=None
)
LOGINS_LOCKED = Counter("fabriques_logins_locked", "Clients locked out by django-axes.", registry=None)

PROCESS_METRICS = (REQUESTS, LATENCY, LOGINS_REFUSED, LOGINS_LOCKED)


def _count_refused(**kwargs: Any) -> None:
    LOGINS_REFUSED.inc()


def _count_locked(**kwargs: Any) -> None:
    LOGINS_LOCKED.inc()


user_login_failed.connect(_count_refused, dispatch_uid="metrics_logins_refused")


def connect_axes_signal() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(_count_locked, dispatch_uid="metrics_logins_locked")


connect_axes_signal()


# --- read at scrape time ------------------------------------------------------------------------

# kombu's Redis transport keeps a queue with priorities in several lists: the queue's own name for
# priority 0, and name + "\x06\x16" + step for the others (kombu.transport.redis.PRIORITY_STEPS).
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def portal_queues() -> list[str]:
    queues = {settings.CELERY_TASK_DEFAULT_QUEUE}
    queues.update(route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route)
    return sorted(queues)


def _message_published_at(raw: bytes | None) -> float | None:
    """The time a message was sent, from the header config.observability.tasks puts in it."""
    if raw is None:
        return None
    try:
        headers = json.loads(raw).get("headers") or {}
        value = headers.get("published_at")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _queue_families() -> Iterator[GaugeMetricFamily]:
    url = settings.CELERY_BROKER_URL
    if url.split("://", 1)[0] not in {"redis", "rediss"}:
        return
    import redis

    up = GaugeMetricFamily("fabriques_celery_broker_up", "Whether the broker answered this scrape.")
    depth = GaugeMetricFamily(
        "fabriques_celery_queue_length", "Messages waiting in a queue.", labels=["queue"]
    )
    age = GaugeMetricFamily(
        "fabriques_celery_queue_oldest_age_seconds",
        "Age of the oldest message waiting in a queue (0 when empty).",
        labels=["queue"],
    )
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        now = time.time()
        for queue in portal_queues():
            keys = [queue, *(f"{queue}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS)]
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.llen(key)
                # Messages are pushed on the left and taken from the right: the oldest is the last.
                pipe.lindex(key, -1)
            replies = pipe.execute()
            lengths = replies[0::2]
            oldest = [_message_published_at(raw) for raw in replies[1::2]]
            known = [stamp for stamp in oldest if stamp is not None]
            depth.add_metric([queue], sum(lengths))
            age.add_metric([queue], max(0.0, now - min(known)) if known else 0.0)
        client.close()
    except redis.RedisError:
        logger.warning("Metrics: the broker did not answer", exc_info=True)
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    yield depth
    yield age


def _outbox_families() -> Iterator[GaugeMetricFamily]:
    from django.db.models import Count

    from notifications.models import Document, EmailStatus, OutgoingEmail, Status

    rows = GaugeMetricFamily(
        "fabriques_outbox_rows",
        "Outbox rows not yet done (pending) or given up (failed), by outbox and kind.",
        labels=["outbox", "kind", "status"],
    )
    for status in (EmailStatus.PENDING, EmailStatus.FAILED):
        rows.add_metric(["email", "email", status], 0)
    for line in (
        OutgoingEmail.objects.filter(status__in=[EmailStatus.PENDING, EmailStatus.FAILED])
        .values("status")
        .annotate(n=Count("pk"))
    ):
        rows.add_metric(["email", "email", line["status"]], line["n"])
    for line in (
        Document.objects.filter(status__in=[Status.PENDING, Status.FAILED])
        .values("kind", "status")
        .annotate(n=Count("pk"))
        .order_by("kind", "status")
    ):
        rows.add_metric(["document", line["kind"], line["status"]], line["n"])
    yield rows


def _envelope_families() -> Iterator[GaugeMetricFamily]:
    from django.db.models import Sum

    from applications.models import Call
    from grants.models import Grant, Tranche

    labels = ["call"]
    envelope = GaugeMetricFamily("fabriques_call_envelope_euros", "A call's envelope.", labels=labels)
    committed = GaugeMetricFamily(
        "fabriques_call_committed_euros", "Committed on a call (its counter).", labels=labels
    )
    paid = GaugeMetricFamily(
        "fabriques_call_paid_euros", "Paid on a call (paid tranches of its active grants).", labels=labels
    )
    calls = list(
        Call.objects.exclude(status=Call.Status.DRAFT).values_list(
            "pk", "slug", "envelope", "committed_amount"
        )
    )
    paid_by_call: dict[int, Decimal] = {
        line["grant__call"]: line["total"] or Decimal("0")
        for line in Tranche.objects.filter(status=Tranche.Status.PAID, grant__status=Grant.Status.ACTIVE)
        .values("grant__call")
        .annotate(total=Sum("amount"))
        .order_by("grant__call")
    }
    for pk, slug, amount, committed_amount in calls:
        envelope.add_metric([slug], float(amount))
        committed.add_metric([slug], float(committed_amount))
        paid.add_metric([slug], float(paid_by_call.get(pk, Decimal("0"))))
    yield envelope
    yield committed
    yield paid


def _axes_families() -> Iterator[GaugeMetricFamily]:
    from axes.models import AccessAttempt
    from django.db.models import Count, Q, Sum

    counts = AccessAttempt.objects.aggregate(
        failures=Sum("failures_since_start"),
        locked=Count("pk", filter=Q(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)),
    )
    failures = GaugeMetricFamily(
        "fabriques_axes_failures",
        "Failed logins django-axes currently counts (within the cool-off time).",
    )
    failures.add_metric([], counts["failures"] or 0)
    locked = GaugeMetricFamily(
        "fabriques_axes_locked_clients",
        "Clients (address and e-mail) django-axes currently locks out.",
    )
    locked.add_metric([], counts["locked"])
    yield failures
    yield locked


class PortalCollector(Collector):
    """The figures read when Prometheus scrapes: a few aggregate queries and one Redis round trip."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from _queue_families()
        yield from _outbox_families()
        yield from _envelope_families()
        yield from _axes_families()


def build_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for metric in PROCESS_METRICS:
            registry.register(metric)
    registry.register(PortalCollector())
    return registry


# --- who may read them ------------------------------------------------------------------------------


def _token_matches(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _network_allowed(request: HttpRequest) -> bool:
    # The address of the peer itself (REMOTE_ADDR), never X-Forwarded-For: a client writes that one.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_NETWORKS
    )


def may_read_metrics(request: HttpRequest) -> bool:
    return _token_matches(request) or _network_allowed(request)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics, or a 404 for anyone else: the address does not even admit it exists."""
    if not may_read_metrics(request):
        raise Http404
    return HttpResponse(generate_latest(build_registry()), content_type=CONTENT_TYPE_LATEST)
