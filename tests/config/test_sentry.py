"""Error tracking: what leaves for Sentry when a view fails with personal data at hand.

No network here: a tiny HTTP server in a thread plays Sentry's ingest endpoint, and the DSN points
at it. The SDK sends its envelope there as it would to sentry.io; the test reads what arrived.
"""

import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sentry_sdk
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from config.observability.sentry import FILTERED, scrub_event, sentry_init
from core import log_context
from tests.factories import applicant

pytestmark = pytest.mark.django_db

IBAN = "FR76 3000 6000 0112 3456 7890 189"
IBAN_BLOCK = "FR7630006000011234567890189"
EMAIL = "jeanne.martin@tiers-lieu.example.org"
FILE_NAME = "RIB_Jeanne_Martin_2026.pdf"


class _Ingest(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        type(self).received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


@pytest.fixture(scope="module")
def ingest() -> Iterator[type[_Ingest]]:
    """The stand-in for Sentry, and the SDK pointed at it, for the module; off again afterwards."""
    handler = type("Ingest", (_Ingest,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sentry_init(
        dsn=f"http://publickey@127.0.0.1:{server.server_port}/1",
        environment="test",
        release="",
        traces_sample_rate=0.0,
    )
    try:
        yield handler
    finally:
        sentry_sdk.flush(timeout=5)
        sentry_sdk.init()  # no DSN: the SDK sends nothing for the rest of the run
        server.shutdown()
        server.server_close()
        thread.join()


def _events(raw: list[bytes]) -> list[dict[str, Any]]:
    """The events of the envelopes received (an envelope: a header line, then item header/payload)."""
    events = []
    for envelope in raw:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    return events


def test_sentry_is_off_without_a_dsn(settings):
    # Before the module's stand-in is started (tests run in the file's order): the settings of
    # every environment leave the SDK without a client unless SENTRY_DSN is set.
    assert settings.SENTRY_DSN == ""
    assert not sentry_sdk.get_client().is_active()


@pytest.mark.urls("tests.config.observability_urls")
def test_an_error_reaches_sentry_with_its_request_id_and_without_personal_data(ingest):
    user = applicant(email=EMAIL, first_name="Jeanne", last_name="Martin")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    ingest.received.clear()
    response = client.post(
        "/tests/fail/",
        {
            "iban": IBAN,
            "piece": SimpleUploadedFile(FILE_NAME, b"%PDF-1.4 rib", content_type="application/pdf"),
        },
        headers={"X-Request-ID": "req-sentry-0042abcd"},
    )
    assert response.status_code == 500
    assert sentry_sdk.flush(timeout=10) is None
    events = _events(ingest.received)
    assert len(events) == 1, ingest.received
    [event] = events
    sent = json.dumps(event, ensure_ascii=False)
    # What left: the error, its type and place, the request id, the user by id.
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    assert event["tags"]["request_id"] == "req-sentry-0042abcd"
    assert event["user"] == {"id": str(user.pk)}
    assert "RIB refusé pour" in event["exception"]["values"][-1]["value"]
    assert FILTERED in event["exception"]["values"][-1]["value"]
    # What did not: the IBAN (in groups or in one block), the e-mail, the names, the file's name.
    for personal in (IBAN, IBAN_BLOCK, "3000 6000", EMAIL, "jeanne.martin", "Jeanne", "Martin", FILE_NAME):
        assert personal not in sent, personal
    # No request body, no cookies, no local variables.
    assert "data" not in event.get("request", {})
    assert "cookies" not in event.get("request", {})
    assert all(
        "vars" not in frame
        for value in event["exception"]["values"]
        for frame in value.get("stacktrace", {}).get("frames", [])
    )


def test_scrub_event_filters_keys_strings_and_breadcrumbs():
    log_context.clear()
    log_context.request_id_var.set("req-unit-00000001")
    event = {
        "message": f"Versement au {IBAN_BLOCK} de {EMAIL}",
        "user": {"id": 7, "email": EMAIL, "ip_address": "203.0.113.9", "username": "jeanne"},
        "extra": {"iban": "anything", "first_name": "Jeanne", "amount": "150000"},
        "breadcrumbs": {"values": [{"message": f"mail sent to {EMAIL}", "category": "mail"}]},
        "request": {"data": {"iban": IBAN}, "cookies": {"sessionid": "x"}, "headers": {"Cookie": "x"}},
    }
    scrubbed = scrub_event(event)
    log_context.clear()
    assert scrubbed["user"] == {"id": "7"}
    assert scrubbed["message"] == f"Versement au {FILTERED} de {FILTERED}"
    assert scrubbed["extra"] == {"iban": FILTERED, "first_name": FILTERED, "amount": "150000"}
    assert scrubbed["breadcrumbs"]["values"][0]["message"] == f"mail sent to {FILTERED}"
    assert scrubbed["request"] == {"headers": {"Cookie": FILTERED}}
    assert scrubbed["tags"]["request_id"] == "req-unit-00000001"
