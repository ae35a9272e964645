"""The benchmark harness without its services: the report, discovery, sessions, the load fallback.

`make bench` itself needs PostgreSQL, Redis and real workers and asserts no duration; these tests
check the parts that run anywhere, and the letter comparison in a tiny mode (one run, no worker).
"""

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse

from applications.models import Call
from bench import report, run
from bench.bench_letters import TEMPLATE, compare_render
from bench.common import Result, _python_load, percentile, session_cookie
from tests.factories import applicant, occitanie_instructor, submitted_application

MACHINE = {
    "cpu": "Example CPU 3000",
    "cores": "2",
    "ram": "8.0 GiB",
    "os": "Debian GNU/Linux 12 (bookworm)",
    "python": "3.11.7",
    "postgresql": "15.18",
    "redis": "7.0.15",
    "load_generator": "wrk 4.1.0",
}


def sample(name: str, number: int, value: float, error: str | None = None) -> dict:
    result = Result(name=name, number=number, title=f"Sample {name}")
    result.table("Medians", ["Path", "Median"], [["portal", "12.0 ms"], ["baseline", "10.0 ms"]])
    result.ratio("portal / baseline", value, 1.3)
    result.ratio("informative", 0.5, None)
    result.checks.append({"name": "each letter once", "passed": True, "detail": "20 letters"})
    result.note("A note | with a pipe.")
    return result.as_dict() | {
        "date": "2026-11-27T10:00:00+00:00",
        "duration_s": 12.3,
        "seeding_s": {"demo": 2.0},
        "error": error,
        "machine": MACHINE,
    }


def test_the_report_lists_the_machine_the_medians_and_each_ratio_against_its_limit(tmp_path: Path):
    (tmp_path / "letters.json").write_text(json.dumps(sample("letters", 3, 1.1)), encoding="utf-8")
    (tmp_path / "http.json").write_text(
        json.dumps(sample("http", 4, 1.9, error="CheckFailed: http: no error")), encoding="utf-8"
    )
    output = tmp_path / "benchmarks.md"

    report.write(results_dir=tmp_path, output=output)
    text = output.read_text(encoding="utf-8")

    assert text.startswith("# Benchmarks\n")
    assert "## Machine" in text
    for value in (
        "| CPU | Example CPU 3000 |",
        "| Cores | 2 |",
        "| RAM | 8.0 GiB |",
        "| PostgreSQL | 15.18 |",
    ):
        assert value in text
    assert "| Redis | 7.0.15 |" in text and "| Python | 3.11.7 |" in text and "| Date | 2026-11-27 |" in text
    assert "## Summary" in text
    assert "| 3. Sample letters | portal / baseline | 1.10× | ≤ 1.3× | ✅ |" in text
    assert "| 4. Sample http | portal / baseline | 1.90× | ≤ 1.3× | ❌ missed by 46 % (1.90 > 1.3) |" in text
    assert "| 4. Sample http | run failed |" in text
    assert "| informative | 0.50× | — | — (no limit) |" in text
    # Benchmarks in the order of their number, each with its table, checks and notes.
    assert text.index("## 3. Sample letters (`letters`)") < text.index("## 4. Sample http (`http`)")
    assert "| Path | Median |\n|---|---|\n| portal | 12.0 ms |" in text
    assert "- ✅ each letter once: 20 letters" in text
    assert "> A note | with a pipe." in text
    assert "**Failed**: `CheckFailed: http: no error`" in text


def test_the_report_without_results_says_how_to_get_them(tmp_path: Path):
    output = tmp_path / "benchmarks.md"
    report.write(results_dir=tmp_path, output=output)
    assert "No result yet: run `make bench`." in output.read_text(encoding="utf-8")


def test_a_failed_check_is_recorded_then_raised():
    result = Result(name="x", number=9, title="X")
    result.check("fine", True)
    with pytest.raises(Exception, match="x: broken \\(2 lost\\)"):
        result.check("broken", False, "2 lost")
    assert [c["passed"] for c in result.as_dict()["checks"]] == [True, False]


def test_every_benchmark_module_is_discovered_with_its_number_title_and_run():
    modules = run.discover()
    assert {"letters", "http", "submission_day"} <= set(modules)
    for module in modules.values():
        assert isinstance(module.NUMBER, int) and module.TITLE and callable(module.run)
    orders = [getattr(module, "ORDER", 100) for module in modules.values()]
    assert orders == sorted(orders)


def test_the_harness_refuses_to_run_without_postgresql(monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///db.sqlite3")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(SystemExit) as exit_info:
        run.main(["letters"])
    assert exit_info.value.code == 2
    assert "the benchmarks need PostgreSQL: set DATABASE_URL=postgres://" in capsys.readouterr().err


def test_the_harness_refuses_to_run_without_redis(monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@127.0.0.1:5432/x")
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        run.main([])
    assert exit_info.value.code == 2
    assert "the benchmarks need Redis" in capsys.readouterr().err


def test_the_bench_database_is_named_after_the_configured_one():
    url, name = run.bench_database_url("postgres://u:p@127.0.0.1:5432/fabriques")
    assert (url, name) == ("postgres://u:p@127.0.0.1:5432/fabriques_bench", "fabriques_bench")


def test_the_letter_comparison_in_quick_mode():
    """Benchmark 3's first half, one run: both paths give the same PDF (no duration asserted)."""
    context = {
        "reference": "FDT-2026-00042",
        "title": "La fabrique du Gers",
        "call": "Fabriques de territoires",
        "date": "27 novembre 2026",
        "lead_name": "Gers Développement",
        "lead_siret": "123 456 789 00012",
        "lead_address": "1 place de la Mairie, 32000 Auch",
        **Call(
            grantor_name="Agence nationale de la cohésion des territoires",
            grantor_siret="13002612300013",
            grantor_representative="le directeur général",
            signatory_name="Camille Martin",
            signatory_title="Directrice du programme",
            signature_place="Paris",
        ).letterhead(),
        "amount": "150 000 €",
        "bonus": "",
        "duration": 3,
        "tranches": [{"year": year, "amount": "50 000 €"} for year in (1, 2, 3)],
    }
    figures = compare_render(TEMPLATE, context, runs=1, warmup=0)
    assert figures["runs"] == 1 and len(figures["portal_s"]) == len(figures["alone_s"]) == 1
    assert figures["pdf_bytes"]["portal"] == figures["pdf_bytes"]["alone"] > 1000
    assert figures["ratio"] > 0


def test_percentiles_interpolate_between_ranks():
    assert percentile([1, 2, 3, 4, 5], 50) == 3
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 99) == 99


@pytest.mark.django_db
def test_a_session_made_by_the_harness_opens_the_applicant_and_instructor_pages(client):
    """As bench_http does: a session in the store, its cookie, no login form (and the second
    factor marked as given for staff when django-otp is installed)."""
    from django.conf import settings

    application = submitted_application()
    owner = application.created_by
    name, value = session_cookie(owner)
    assert name == settings.SESSION_COOKIE_NAME
    client.cookies[name] = value
    page = client.get(reverse("applications:dossier-detail", args=[application.reference]))
    assert page.status_code == 200
    assert application.reference in page.content.decode()

    client.cookies.clear()
    name, value = session_cookie(occitanie_instructor())
    client.cookies[name] = value
    page = client.get(reverse("applications:instructor-home"))
    assert page.status_code == 200
    assert application.reference in page.content.decode()

    client.cookies.clear()
    name, value = session_cookie(applicant())
    client.cookies[name] = value
    assert client.get(reverse("applications:dossier-detail", args=[application.reference])).status_code == 404


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        status = 200 if self.path == "/ok" else 302
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tiny_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_python_load_fallback_counts_requests_and_non_2xx_answers(tiny_server: str):
    good = _python_load(f"{tiny_server}/ok", cookies={"sessionid": "x"}, connections=2, duration=0.3)
    assert good.generator == "python" and good.requests > 0 and good.errors == 0
    assert 0 < good.p50_ms <= good.p99_ms <= good.max_ms
    redirected = _python_load(f"{tiny_server}/elsewhere", cookies=None, connections=1, duration=0.2)
    assert redirected.requests > 0 and redirected.errors == redirected.requests
