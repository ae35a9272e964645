"""/metrics: who may read it, and what a scrape says, parsed by prometheus_client's own parser."""

import json
import os
import time
import uuid
from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from config.observability import metrics
from grants.models import Tranche
from grants.services import application_award
from notifications.models import Document, EmailStatus, OutgoingEmail, Status
from tests.factories import CallFactory, in_review_application

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789abcdefghijklmnop"


@pytest.fixture
def token(settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return TOKEN


def scrape(client, token: str = TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get(reverse("metrics"), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_answer_404_without_token_or_network(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get(reverse("metrics")).status_code == 404
    # An empty token configured never matches an empty bearer.
    assert client.get(reverse("metrics"), headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_answer_404_to_a_wrong_token_and_a_foreign_network(client, token, settings):
    assert client.get(reverse("metrics"), headers={"Authorization": "Bearer nope"}).status_code == 404
    assert client.get(reverse("metrics"), headers={"Authorization": f"Basic {TOKEN}"}).status_code == 404
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    # The test client's peer is 127.0.0.1; a forged X-Forwarded-For changes nothing.
    assert client.get(reverse("metrics"), headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 404


def test_metrics_answer_an_allowed_network_without_token(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["192.0.2.0/24", "127.0.0.0/8"]
    response = client.get(reverse("metrics"))
    assert response.status_code == 200
    assert b"fabriques_outbox_rows" in response.content


def test_requests_are_counted_by_view_and_status_with_their_latency(client, token):
    before = scrape(client)
    client.get(reverse("healthz-live"))
    client.get(reverse("healthz-live"))
    client.get("/nowhere-at-all/")
    after = scrape(client)
    live = (("method", "GET"), ("status", "200"), ("view", "healthz-live"))
    unresolved = (("method", "GET"), ("status", "404"), ("view", "unresolved"))
    assert (
        after[("fabriques_http_requests_total", live)]
        - before.get(("fabriques_http_requests_total", live), 0)
        == 2
    )
    assert after[("fabriques_http_requests_total", unresolved)] >= 1
    count = ("fabriques_http_request_duration_seconds_count", (("method", "GET"), ("view", "healthz-live")))
    assert after[count] - before.get(count, 0) == 2
    bucket = (
        "fabriques_http_request_duration_seconds_bucket",
        (("le", "+Inf"), ("method", "GET"), ("view", "healthz-live")),
    )
    assert after[bucket] == after[count]


def test_outbox_rows_pending_and_failed_by_kind(client, token):
    Document.objects.create(key="a:1", kind="award_letter", template_name="x", filename="a.pdf")
    Document.objects.create(key="a:2", kind="award_letter", template_name="x", filename="b.pdf")
    Document.objects.create(
        key="r:1", kind="receipt", template_name="x", filename="c.pdf", status=Status.FAILED
    )
    OutgoingEmail.objects.create(
        key="e:1", to=["x@example.org"], subject="s", body="b", status=EmailStatus.FAILED
    )
    samples = scrape(client)
    rows = "fabriques_outbox_rows"
    assert samples[(rows, (("kind", "award_letter"), ("outbox", "document"), ("status", "pending")))] == 2
    assert samples[(rows, (("kind", "receipt"), ("outbox", "document"), ("status", "failed")))] == 1
    assert samples[(rows, (("kind", "email"), ("outbox", "email"), ("status", "failed")))] == 1
    assert samples[(rows, (("kind", "email"), ("outbox", "email"), ("status", "pending")))] == 0


def test_envelope_committed_and_paid_per_call(client, token):
    call = CallFactory(envelope=Decimal("1000000"))
    application, reviewer = in_review_application(call=call)
    grant = application_award(application=application, amount=Decimal("90000"), actor=reviewer)
    first = grant.tranches.order_by("year_index").first()
    Tranche.objects.filter(pk=first.pk).update(
        status=Tranche.Status.PAID,
        paid_on=timezone.localdate(),
        requested_at=timezone.now(),
        payment_reference="V-1",
    )
    call.refresh_from_db()
    samples = scrape(client)
    label = (("call", call.slug),)
    assert samples[("fabriques_call_envelope_euros", label)] == 1000000
    assert samples[("fabriques_call_committed_euros", label)] == float(call.committed_amount) == 90000
    assert samples[("fabriques_call_paid_euros", label)] == float(first.amount)


def test_logins_refused_and_locked(client, token, settings):
    AccessAttempt.objects.create(
        username="a@example.org",
        ip_address="192.0.2.1",
        user_agent="x",
        failures_since_start=2,
        get_data="",
        post_data="",
        http_accept="",
        path_info="/",
    )
    AccessAttempt.objects.create(
        username="b@example.org",
        ip_address="192.0.2.2",
        user_agent="x",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        get_data="",
        post_data="",
        http_accept="",
        path_info="/",
    )
    before = scrape(client)
    response = client.post(
        reverse("accounts:login"), {"username": "nobody@example.org", "password": "wrong-password"}
    )
    assert response.status_code == 200
    samples = scrape(client)
    assert samples[("fabriques_axes_failures", ())] == 2 + settings.AXES_FAILURE_LIMIT + 1
    assert samples[("fabriques_axes_locked_clients", ())] == 1
    assert (
        samples[("fabriques_logins_refused_total", ())] - before[("fabriques_logins_refused_total", ())] == 1
    )


def test_a_scrape_makes_a_bounded_number_of_queries(client, token):
    for _ in range(3):
        CallFactory()
    with CaptureQueriesContext(connection) as few:
        scrape(client)
    for index in range(5):
        Document.objects.create(key=f"k:{index}", kind=f"kind{index}", template_name="x", filename="f.pdf")
        CallFactory()
    with CaptureQueriesContext(connection) as more:
        scrape(client)
    assert len(more) == len(few)


def test_the_published_at_header_is_read_from_a_kombu_message():
    raw = json.dumps({"body": "", "headers": {"published_at": 1700000000.5, "task": "x"}, "properties": {}})
    assert metrics._message_published_at(raw.encode()) == 1700000000.5
    assert metrics._message_published_at(b"not json") is None
    assert metrics._message_published_at(json.dumps({"headers": {}}).encode()) is None
    assert metrics._message_published_at(None) is None


@pytest.mark.redis
def test_queue_depth_and_oldest_age_are_read_from_redis(client, token, settings):
    """Messages really published on Redis (the broker of the integration tests), on queues of their
    own: the scrape reads their number (LLEN) and the oldest one's `published_at` header."""
    from core.tasks import data_changes_prune_task

    prefix = f"obs-{uuid.uuid4().hex[:8]}-"
    settings.CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
    settings.CELERY_TASK_DEFAULT_QUEUE = f"{prefix}default"
    settings.CELERY_TASK_ROUTES = {"x": {"queue": f"{prefix}pdf"}}
    import redis

    client_redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        for _ in range(3):
            data_changes_prune_task.apply_async(queue=f"{prefix}pdf", routing_key=f"{prefix}pdf")
        # The oldest message, as if sent 90 seconds ago: its header is rewritten in place.
        oldest = json.loads(client_redis.lindex(f"{prefix}pdf", -1))
        oldest["headers"]["published_at"] = time.time() - 90
        client_redis.lset(f"{prefix}pdf", -1, json.dumps(oldest))
        samples = scrape(client)
    finally:
        client_redis.delete(f"{prefix}pdf", f"{prefix}default")
        client_redis.close()
    assert samples[("fabriques_celery_broker_up", ())] == 1
    assert samples[("fabriques_celery_queue_length", (("queue", f"{prefix}pdf"),))] == 3
    assert samples[("fabriques_celery_queue_length", (("queue", f"{prefix}default"),))] == 0
    assert 89 <= samples[("fabriques_celery_queue_oldest_age_seconds", (("queue", f"{prefix}pdf"),))] < 150
    assert samples[("fabriques_celery_queue_oldest_age_seconds", (("queue", f"{prefix}default"),))] == 0


def test_an_unreachable_broker_is_reported_not_raised(client, token, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    samples = scrape(client)
    assert samples[("fabriques_celery_broker_up", ())] == 0
    assert not any(name == "fabriques_celery_queue_length" for name, _ in samples)


def test_multiprocess_mode_reads_the_files_of_every_process(tmp_path, monkeypatch):
    """With PROMETHEUS_MULTIPROC_DIR set the scrape sums the files the processes wrote (here one
    file written by a process of gunicorn's kind), instead of this process's own counters."""
    import subprocess
    import sys

    folder = tmp_path / "prometheus"
    folder.mkdir()
    script = (
        "from prometheus_client import Counter\n"
        "c = Counter('fabriques_http_requests', 'x', ['view', 'method', 'status'], registry=None)\n"
        "c.labels(view='core:home', method='GET', status='200').inc(7)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)},
    )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    from prometheus_client import generate_latest

    text = generate_latest(metrics.build_registry()).decode()
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert (
        values[
            ("fabriques_http_requests_total", (("method", "GET"), ("status", "200"), ("view", "core:home")))
        ]
        == 7
    )
