"""`make bench`: run the benchmarks of bench/ on PostgreSQL and Redis, then write docs/benchmarks.md.

    python -m bench.run                  # every benchmark
    python -m bench.run letters http     # some of them (make bench BENCH="letters http")
    python -m bench.run --quick letters  # tiny sizes, to try the harness (figures not meaningful)
    python -m bench.run --list

Needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://... The benchmarks never touch the
database of DATABASE_URL: they run in `<its name>_bench` on the same server, created (dropped first
if left over) and migrated here, dropped at the end unless --keep-db. Generated files go to a
temporary MEDIA_ROOT. Each result is written to bench/results/<name>.json, and docs/benchmarks.md
is rewritten from every result present. Exit status 1 when a benchmark failed (a correctness check
or an error); a ratio beyond its limit is reported, not an error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
sys.path.insert(0, str(BENCH_DIR.parent))

from bench.common import SETTINGS_MODULE, Context  # noqa: E402


def discover() -> dict[str, ModuleType]:
    """bench/bench_<name>.py modules, by their ORDER then name."""
    modules = {}
    for info in pkgutil.iter_modules([str(BENCH_DIR)]):
        if info.name.startswith("bench_"):
            modules[info.name.removeprefix("bench_")] = importlib.import_module(f"bench.{info.name}")
    return dict(sorted(modules.items(), key=lambda item: (getattr(item[1], "ORDER", 100), item[0])))


def fail(message: str) -> None:
    print(f"make bench: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_services() -> tuple[str, str]:
    database_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if urlsplit(database_url).scheme not in {"postgres", "postgresql", "pgsql"}:
        fail(
            "the benchmarks need PostgreSQL: set DATABASE_URL=postgres://user:password@host:5432/name "
            "(the benchmarks use a database of their own, <name>_bench, on that server)."
        )
    if urlsplit(broker_url).scheme not in {"redis", "rediss"}:
        fail("the benchmarks need Redis: set CELERY_BROKER_URL=redis://host:6379/<db>.")
    import psycopg2
    import redis

    try:
        psycopg2.connect(database_url, connect_timeout=5).close()
    except psycopg2.Error as error:
        fail(f"PostgreSQL does not answer at DATABASE_URL: {str(error).strip()}")
    try:
        client = redis.Redis.from_url(broker_url, socket_connect_timeout=5)
        client.ping()
        client.close()
    except redis.RedisError as error:
        fail(f"Redis does not answer at CELERY_BROKER_URL: {error}")
    return database_url, broker_url


def bench_database_url(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") + "_bench"
    return urlunsplit(parts._replace(path="/" + name)), name


def _admin_connection(database_url: str) -> Any:
    """A connection to the server's maintenance database, to create and drop the bench database."""
    import psycopg2

    parts = urlsplit(database_url)
    try:
        conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")), connect_timeout=5)
    except psycopg2.Error:
        conn = psycopg2.connect(database_url, connect_timeout=5)
    conn.autocommit = True
    return conn


def create_database(database_url: str, name: str) -> None:
    from psycopg2 import sql

    conn = _admin_connection(database_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def drop_database(database_url: str, name: str) -> None:
    from psycopg2 import sql

    conn = _admin_connection(database_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        conn.close()


def database_exists(database_url: str, name: str) -> bool:
    conn = _admin_connection(database_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None
    finally:
        conn.close()


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    modules = discover()
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(modules)}")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: tries the harness, figures meaningless"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database at the end")
    parser.add_argument("--reuse-db", action="store_true", help="reuse the bench database left by --keep-db")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    names = [n for raw in args.names for n in raw.replace(",", " ").split()] or list(modules)
    if args.list:
        for name, module in modules.items():
            print(f"{name:16} {getattr(module, 'NUMBER', '-')}. {getattr(module, 'TITLE', '')}")
        return 0
    unknown = [name for name in names if name not in modules]
    if unknown:
        fail(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(modules)}")
    names = [name for name in modules if name in names]  # their ORDER, whatever the command line's

    database_url, broker_url = check_services()
    bench_url, bench_name = bench_database_url(database_url)
    reuse = args.reuse_db and database_exists(database_url, bench_name)
    if not reuse:
        print(f"[bench] creating the database {bench_name}", flush=True)
        create_database(database_url, bench_name)
    work_dir = Path(tempfile.mkdtemp(prefix="fabriques-bench-"))
    media_root = work_dir / "media"
    media_root.mkdir()
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.environ["DATABASE_URL"] = bench_url
    os.environ["MEDIA_ROOT"] = str(media_root)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from bench import report
    from bench.common import machine_info, purge_queues

    failed: list[str] = []
    try:
        started = time.monotonic()
        print("[bench] migrating", flush=True)
        call_command("migrate", verbosity=0, interactive=False)
        purge_queues()
        machine = machine_info()
        ctx = Context(database_url=bench_url, broker_url=broker_url, media_root=media_root, work_dir=work_dir)
        ctx.quick = args.quick
        for name in names:
            module = modules[name]
            ctx.name, ctx.module, ctx.current = name, module, None
            print(f"\n[bench] === {name}: {getattr(module, 'TITLE', '')}", flush=True)
            began = time.monotonic()
            seeding_before = dict(ctx.state.get("seeding", {}))
            try:
                data = module.run(ctx)
                error = None
            except Exception as exc:  # the figures so far are kept, with the error
                traceback.print_exc()
                data = ctx.current.as_dict() if ctx.current else {"name": name}
                error = f"{type(exc).__name__}: {exc}"
                failed.append(name)
            seeding = {
                key: value for key, value in ctx.state.get("seeding", {}).items() if key not in seeding_before
            }
            data.update(
                {
                    "name": name,
                    "number": data.get("number", getattr(module, "NUMBER", 0)),
                    "title": data.get("title", getattr(module, "TITLE", name)),
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "duration_s": round(time.monotonic() - began, 1),
                    "seeding_s": seeding,
                    "error": error,
                    "machine": machine,
                }
            )
            path = write_result(name, data)
            print(
                f"[bench] {name}: {'FAILED: ' + error if error else 'done'} "
                f"({data['duration_s']} s) -> {path}"
            )
            purge_queues()
        output = report.write()
        print(f"\n[bench] {output} written ({time.monotonic() - started:.0f} s in all)")
    finally:
        connections.close_all()
        if args.keep_db:
            print(f"[bench] database {bench_name} kept (--keep-db)")
        else:
            drop_database(database_url, bench_name)
        if failed:
            print(f"[bench] logs of gunicorn and the workers kept in {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    if failed:
        print(f"[bench] failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
