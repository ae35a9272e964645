"""The parts of the chaos run (bench/chaos.py) that need no service: the SMTP sink, how an answer
is read, the kill plan replayed by its seed, the report's section kept by `make bench`."""

import random
import smtplib
import threading
from email.message import EmailMessage
from pathlib import Path

from bench import chaos, report


def test_the_smtp_sink_keeps_each_message_django_would_send_with_its_message_id() -> None:
    sink = chaos.SmtpSink()
    sink.start()
    try:
        for number in (1, 2, 2):
            message = EmailMessage()
            message["From"] = "ne-pas-repondre@fabriques.local"
            message["To"] = "porteur@exemple.fr"
            message["Subject"] = "Décision sur votre dossier"
            message["Message-ID"] = f"<{number}@fabriques.local>"
            message.set_content("Bonjour,\n.\nUne ligne qui commence par un point.")
            with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
                smtp.send_message(message)
    finally:
        sink.stop()

    assert sink.message_ids() == {"<1@fabriques.local>": 1, "<2@fabriques.local>": 2}
    assert b"\r\n.\r\nUne ligne" in sink.messages[0]  # the dot-stuffing undone


def test_an_answer_is_read_as_the_envelope_refusal_a_lost_award_or_something_else() -> None:
    envelope = "L'enveloppe de l'appel n'a plus que 0\u202f€ disponibles : 150\u202f000\u202f€ ne peuvent pas être engagés."
    assert chaos.classify(envelope) == "envelope"
    already = "Seul un dossier en instruction peut être retenu (ce dossier est «\u00a0Lauréat\u00a0»)."
    assert chaos.classify(already) == "already"
    assert chaos.classify('<p class="fr-error-text">Indiquez le montant</p>') == "other: Indiquez le montant"


class Recorder:
    def __init__(self) -> None:
        self.kills: list[tuple[str, str, float]] = []

    def kill(self, kind: str, target: str, delay: float) -> threading.Thread | None:
        self.kills.append((kind, target, round(delay, 6)))
        return None


def test_a_seed_replays_the_same_kills_each_kind_its_rounds_and_redis_once() -> None:
    options = chaos.Options(rounds=2, gap=(0.0, 0.0))
    runs = []
    for _ in range(2):
        recorder = Recorder()
        chaos.chaos_loop(recorder, random.Random(42), options)  # type: ignore[arg-type]  # noqa: S311
        runs.append(recorder.kills)

    assert runs[0] == runs[1]
    kinds = [kind for kind, _, _ in runs[0]]
    assert sorted(kinds) == sorted([*chaos.KINDS, *chaos.KINDS, "redis"])
    assert {target for kind, target, _ in runs[0] if kind == "pdf"} <= {"pdf1", "pdf2"}


def test_make_bench_keeps_the_chaos_section_of_the_report(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    result = {
        "seed": 7,
        "date": "2026-12-05T03:00:00+00:00",
        "options": {"dossiers": 40, "fit": 36, "clients": 3},
        "kills": {"gunicorn": 1},
        "requests": 50,
        "retries": 1,
        "errors": {"RemoteDisconnected": 1},
        "errors_explained": {"RemoteDisconnected (bulk) after gunicorn kill": 1},
        "posting_s": 10.0,
        "recovery_s": 20.0,
        "sweep_requeued": {"documents": 3, "emails": 4},
        "emails_received": 76,
        "emails_received_twice": {},
        "checks": [{"name": "exactly M awards", "passed": True, "detail": "36"}],
    }
    output.write_text("# Benchmarks\n\n" + chaos.markdown(result) + "\n", encoding="utf-8")

    report.write(results_dir=tmp_path, output=output)
    report.write(results_dir=tmp_path, output=output)

    text = output.read_text(encoding="utf-8")
    assert text.count(chaos.SECTION_START) == 1
    assert "seed **7**" in text
    assert "| exactly M awards | passed | 36 |" in text
    assert "RemoteDisconnected (bulk) after gunicorn kill: 1" in text
