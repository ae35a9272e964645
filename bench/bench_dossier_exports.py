"""14. The instructors' dossier exports (CSV, XLSX): memory flat whatever the number of dossiers.

One subprocess per size, as the budget exports are measured (bench_exports): the export of the
programme admin's instruction list (every dossier submitted, in review or decided: the export's own
queryset, `applications.exports.exported_dossiers`, narrowed to its first N dossiers by id) is
written by the export's own code, `DossierTable` with `csv_stream` (the chunks the streaming
response sends) or `xlsx_write` (the background job's workbook, into a temporary file). The child
reports its peak RSS (VmHWM, reset just before the build) minus its RSS at that moment.

The rows are read by chunks of `applications.exports.CHUNK_SIZE` from a server-side cursor, with
the related tables walked alongside in the same order, so the memory grows until about two chunks
are held, then stays flat: the ratio compares the largest size with two chunks; limit 1.5×.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_exports import memory_table, reset_peak, status_mib
from bench.common import PROJECT_ROOT, Context

NUMBER = 14
TITLE = "Instructors' dossier exports: memory flat with size"
# After the list pages (their 100 000 dossiers are reused), before the budget exports add calls.
ORDER = 68
MEMORY_LIMIT = 1.5
BULK = 100_000
MIB = 1024 * 1024


def child(mode: str, rows: int) -> dict[str, Any]:
    """Export the first `rows` dossiers of the admin's list in this process; its peak RSS."""
    import django

    django.setup()
    from django.db import connection

    from accounts.models import Role, User
    from applications.exports import DossierTable, csv_stream, exported_dossiers, xlsx_write
    from applications.views.workspace import TABS

    admin = User.objects.filter(groups__name=Role.ADMIN.value).order_by("pk").first()
    if admin is None:
        raise RuntimeError("no programme admin in the bench database")
    statuses = [status for tab in TABS for status in tab.statuses]
    listed = exported_dossiers(admin, {}, statuses)
    last = listed.order_by("pk").values_list("pk", flat=True)[rows - 1]
    table = DossierTable(listed.filter(pk__lte=last), viewer=admin)
    connection.ensure_connection()
    gc.collect()
    baseline = reset_peak()
    began = time.perf_counter()
    if mode == "csv":
        size = sum(len(chunk.encode()) for chunk in csv_stream(table))
    elif mode == "xlsx":
        with tempfile.NamedTemporaryFile(suffix=".xlsx") as workbook:
            written = xlsx_write(table, workbook.name)
            size = Path(workbook.name).stat().st_size
        if written != rows:
            raise RuntimeError(f"{written} rows written for {rows}")
    else:
        raise ValueError(mode)
    elapsed = time.perf_counter() - began
    peak = status_mib("VmHWM")
    return {
        "mode": mode,
        "rows": rows,
        "baseline_mib": baseline,
        "peak_mib": peak,
        "delta_mib": peak - baseline,
        "bytes": size,
        "seconds": elapsed,
    }


def measure(ctx: Context, mode: str, sizes: list[int]) -> list[dict[str, Any]]:
    measured = []
    for rows in sizes:
        ctx.log(f"{mode}: {rows} dossiers in a subprocess")
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.bench_dossier_exports", "child", mode, str(rows)],
            cwd=PROJECT_ROOT,
            env=ctx.child_env(),
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the {mode} child for {rows} dossiers failed:\n{done.stderr[-4000:]}")
        measured.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return measured


def sizes_for(total: int, chunk: int, quick: bool) -> tuple[list[int], int]:
    """Doubling from a quarter of a chunk to every dossier; the ratio starts at two chunks."""
    if quick or total < 8 * chunk:
        smallest = max(1, total >> 3)
        return [smallest << step for step in range(3)] + [total], 0
    sizes = [chunk // 4, chunk]
    size = 2 * chunk
    while size < total:
        sizes.append(size)
        size *= 2
    return sizes + [total], 2


def run(ctx: Context) -> dict[str, Any]:
    result = ctx.result()
    from accounts.models import Role, User
    from applications.exports import CHUNK_SIZE, exported_dossiers
    from applications.views.workspace import TABS

    if ctx.ensure_bulk(300 if ctx.quick else BULK) is None:
        raise RuntimeError("devtools.bulk.seed_bulk is missing")
    admin = User.objects.filter(groups__name=Role.ADMIN.value).order_by("pk").first()
    statuses = [status for tab in TABS for status in tab.statuses]
    total = exported_dossiers(admin, {}, statuses).count()  # type: ignore[arg-type]
    sizes, first = sizes_for(total, CHUNK_SIZE, ctx.quick)
    for mode, title, name in (
        (
            "csv",
            "CSV of the instruction list as the streaming response sends it, a subprocess per size",
            "CSV",
        ),
        (
            "xlsx",
            "XLSX of the instruction list as the background export writes it, a subprocess per size",
            "XLSX",
        ),
    ):
        memory = measure(ctx, mode, sizes)
        result.figures[f"{mode}_memory"] = memory
        ratio = memory_table(result, title, memory, first)
        growth = memory[-1]["rows"] / memory[first]["rows"]
        result.ratio(
            f"{name} peak memory above baseline, {memory[-1]['rows']} dossiers / {memory[first]['rows']} "
            f"dossiers (×{growth:.0f} dossiers)",
            ratio,
            MEMORY_LIMIT,
        )
    result.note(
        "The export of the programme admin's list (every tab's dossiers, no filter), narrowed to its "
        "first N dossiers by id, written by the export's own code (applications.exports); one "
        f"subprocess per size. Rows are read by chunks of {CHUNK_SIZE} from a server-side cursor, "
        "members, scores, instructors and labels walked alongside in the dossiers' order: the memory "
        "grows until about two chunks are held, then stays flat. The ratio starts from two chunks."
    )
    return result.as_dict()


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "child":
    print(json.dumps(child(sys.argv[2], int(sys.argv[3]))), flush=True)
