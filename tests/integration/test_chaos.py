"""The short chaos run (bench/chaos.py) in CI: awards over HTTP while processes are killed, nothing lost.

40 dossiers ready for an award of 150 000 € on an envelope for 36, posted by three clients through
the single and grouped decision pages while a pdf worker, the e-mail worker, beat and a gunicorn
worker are each killed (SIGKILL) at least once and Redis is restarted once, empty. The run's own
checks must all pass: 36 awards, 5 400 000 € committed, the 4 others refused with the envelope's
message, one letter and one agreement per award with their files and SHA-256, every e-mail received
by the SMTP sink, nothing pending or failed, `envelope_check` clean, every HTTP error explained.

The seed is printed (and in the failure message): `python -m bench.chaos --short --seed N` replays
the run. About two minutes on two busy cores, most of it seeding and starting the processes.

Skipped (reason shown) without DATABASE_URL=postgres://..., CELERY_BROKER_URL or `redis-server`;
failing instead with CI=true (see tests/conftest.py): the run starts a Redis server of its own.
"""

import os
import random
import shutil
from pathlib import Path

import pytest

from bench.chaos import SHORT, Options, run
from tests.integration.test_worker_chain import worker_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker, pytest.mark.slow]


def test_a_short_chaos_run_loses_no_award_no_document_and_no_e_mail(  # type: ignore[no-untyped-def]
    _media_root: Path, transactional_db, django_db_serialized_rollback, tmp_path: Path
) -> None:
    # Committed rows that the servers' connections see; the data of the migrations (groups, régions)
    # restored first, as an earlier test's flush may have removed it, and restored the same way
    # for the tests after this one.
    if not shutil.which("redis-server"):
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("CI=true but redis-server is not installed")
        pytest.skip("needs the redis-server program")
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 10**6))
    options = Options(**SHORT)
    options.seed = seed
    work_dir = tmp_path / "chaos"
    work_dir.mkdir()

    result = run(options, database_url=worker_database_url(), media_root=_media_root, work_dir=work_dir)

    failed = [f"{check['name']}: {check['detail']}" for check in result["checks"] if not check["passed"]]
    assert failed == [], f"seed {seed}: {failed}; events {result['events']}"
    assert result["awarded"] == 36
    assert result["envelope_refusals"] == 4
    killed = result["kills"]
    assert {kind: killed.get(kind, 0) > 0 for kind in ("gunicorn", "beat", "email", "redis-server")} == {
        "gunicorn": True,
        "beat": True,
        "email": True,
        "redis-server": True,
    }, killed
    assert killed.get("pdf1", 0) + killed.get("pdf2", 0) >= 1, killed
