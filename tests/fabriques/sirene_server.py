"""A real HTTP server on 127.0.0.1 standing in for the API « Recherche d'entreprises ».

There is no network where the tests run: this server replays the answers recorded under
tests/fixtures/recherche_entreprises/ (reconstructed from the API's public documentation). Each
SIRET is given a script of answers (status, body file, headers, delay), played one per request;
the last one repeats. The server runs in a thread for the whole test module (`sirene_api`
fixture, scope="module"); `sirene` (per test) points the settings at it and empties the script.
"""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from fabriques import sirene as sirene_module

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "recherche_entreprises"

# The SIRETs of the recorded answers.
FOUND = "83491021800017"
CLOSED = "44231788900024"
NOT_FOUND = "79876543400013"
FOUND_AS_SIEGE = "51234567900033"


@dataclass
class Answer:
    status: int = 200
    fixture: str = "found.json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Script:
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.answers.clear()
            self.requests.clear()
        self.answers.update(
            {
                FOUND: [Answer(fixture="found.json")],
                CLOSED: [Answer(fixture="closed.json")],
                NOT_FOUND: [Answer(fixture="not_found.json")],
                FOUND_AS_SIEGE: [Answer(fixture="found_as_siege.json")],
            }
        )

    def next(self, siret: str) -> Answer:
        with self.lock:
            queue = self.answers.get(siret) or [Answer(fixture="not_found.json")]
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def count(self, siret: str) -> int:
        return sum(1 for query in self.requests if query.get("q") == [siret])


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        query = parse_qs(url.query)
        with self.script.lock:
            self.script.requests.append(query)
        if url.path != "/search":
            self._send(404, b'{"erreur": "Not found"}', {})
            return
        answer = self.script.next((query.get("q") or [""])[0])
        if answer.delay:
            threading.Event().wait(answer.delay)
        body = (FIXTURES / answer.fixture).read_bytes()
        self._send(answer.status, body, answer.headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): what a real server sees too

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass
class SireneApi:
    url: str
    script: Script
    waits: list[float] = field(default_factory=list)

    def play(self, siret: str, *answers: Answer) -> None:
        self.script.answers[siret] = list(answers)

    def count(self, siret: str) -> int:
        return self.script.count(siret)


@pytest.fixture(scope="module")
def sirene_api() -> Iterator[SireneApi]:
    script = Script()
    handler = type("Handler", (_Handler,), {"script": script})
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SireneApi(url=f"http://127.0.0.1:{server.server_address[1]}", script=script)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def sirene(sirene_api: SireneApi, settings: Any, monkeypatch: pytest.MonkeyPatch) -> SireneApi:
    """The look-up on, pointed at the local server; back-off waits recorded, not slept."""
    sirene_api.script.reset()
    sirene_api.waits.clear()
    settings.SIRENE_API_URL = sirene_api.url
    # Far above the local server's answer, even on a loaded machine: only the timeout tests,
    # which set their own, see one.
    settings.SIRENE_API_TIMEOUT = 5.0
    settings.SIRENE_API_RETRIES = 2
    settings.SIRENE_API_BACKOFF = 0.5
    settings.SIRENE_API_RATE = 1000
    settings.SIRENE_RATE_LIMIT_URL = ""
    monkeypatch.setattr(sirene_module, "_sleep", sirene_api.waits.append)
    return sirene_api


def body(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))
