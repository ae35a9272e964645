"""2. Budget exports: the tranches CSV against PostgreSQL's COPY, and the memory of the XLSX build.

First part, in this process: the CSV budget export of every tranche of every call, as the portal
produces it (grants.writers.csv_stream over report_rows_tranches, one file per call, encoded to
UTF-8 as the streaming response sends it) against `COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)`
of the same rows and columns (same joins, lead structure, labels, local dates, neutralised text,
same order, ";" and a byte order mark), one COPY per call through psycopg2's copy_expert into a
buffer, on the same connection. Runs alternate, medians compared, limit 5×. Checked: both outputs
hold the same number of data rows and, parsed as CSV, the same cells.

Two volumes: the bulk data (100 000 dossiers over six calls, about 6 000 tranches, a few tens of
milliseconds), then the same with 40 more past calls seeded by devtools.bulk.seed_bulk in the
bench database (about 50 000 tranches), where the times are well above the noise.

Second part, one subprocess per size: the XLSX workbook built by the background job's code path
(grants.export_jobs.export_job_build, into MEDIA_ROOT, a temporary folder), its two long sheets limited
to the first N tranches (and N/3 grants) of every call, for N, 2N, 4N... The child reports its
peak RSS (VmHWM, reset just before the build) minus its RSS at that moment; flat means the
largest size's peak stays within 1.5× of the peak at two chunks of rows (see memory_sizes) while
the rows grow 8× or more. The tranches CSV through the view's StreamingHttpResponse is measured
the same way.
"""

from __future__ import annotations

import csv
import gc
import inspect
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import PROJECT_ROOT, Context, Result, median, ms

NUMBER = 2
TITLE = "Budget exports: CSV against COPY, XLSX memory"
# After the list pages at 100 000 dossiers: the calls seeded here would change their data.
ORDER = 70
CSV_LIMIT = 5.0
MEMORY_LIMIT = 1.5
BOM = "\ufeff".encode()
MIB = 1024 * 1024


# --- CSV: the portal against COPY ---------------------------------------------------------------


def _quote(name: str) -> str:
    from django.db import connection

    return str(connection.ops.quote_name(name))


def _table(model: Any) -> str:
    return _quote(model._meta.db_table)


def _column(model: Any, field: str) -> str:
    return _quote(model._meta.get_field(field).column)


def _neutralised(expression: str) -> str:
    """SQL for grants.writers.neutralise: a quote before a text that could start a formula."""
    from grants.writers import FORMULA_TRIGGERS

    triggers = ", ".join("'" + trigger.replace("'", "''") + "'" for trigger in FORMULA_TRIGGERS)
    return f"CASE WHEN left({expression}, 1) IN ({triggers}) THEN '''' || {expression} ELSE {expression} END"


def _labels(column: str, choices: Any) -> str:
    """SQL for get_FOO_display(): each stored value's label, the value itself when unknown."""
    whens = " ".join(
        "WHEN '{}' THEN '{}'".format(value.replace("'", "''"), str(label).replace("'", "''"))
        for value, label in choices
    )
    return f"CASE {column} {whens} ELSE {column} END"


def copy_select() -> str:
    """The SELECT of the tranches CSV of one call (`%s`, its id):
    grants.selectors.exports.report_rows_tranches
    and csv_stream's formatting, in SQL."""
    from django.conf import settings

    from applications.models import Application, Member
    from fabriques.models import Departement, Organisation, Region
    from grants.models import Grant, Tranche
    from grants.selectors.exports import KIND_SHORT, labels, tranche_columns

    def c(model: Any, field: str, alias: str) -> str:
        return f"{alias}.{_column(model, field)}"

    def text(expression: str) -> str:
        # An empty text is written as nothing, as csv.writer writes "" (COPY would write "").
        return _neutralised(f"NULLIF({expression}, '')")

    zone = settings.TIME_ZONE.replace("'", "''")
    requested_on = f"({c(Tranche, 'requested_at', 't')} AT TIME ZONE '{zone}')::date"
    kind = _labels(c(Application, "kind", "a"), KIND_SHORT.items())
    values = [
        text(c(Application, "reference", "a")),
        text("lead.name"),
        text("lead.siret"),
        text(c(Departement, "code", "d")),
        text(c(Region, "name", "r")),
        text(kind),
        c(Tranche, "year_index", "t"),
        c(Tranche, "amount", "t"),
        c(Tranche, "due_date", "t"),
        text(_labels(c(Tranche, "status", "t"), Tranche.Status.choices)),
        requested_on,
        f"{requested_on} + {int(Tranche.PAYMENT_DELAY_DAYS)}",
        c(Tranche, "paid_on", "t"),
        text(c(Tranche, "payment_reference", "t")),
        text(_labels(c(Grant, "status", "g"), Grant.Status.choices)),
    ]
    header = labels(tranche_columns())
    if len(header) != len(values):
        raise RuntimeError("the COPY query no longer has the columns of the tranches CSV")
    selected = ",\n  ".join(
        f"{value} AS {_quote(str(label))}" for value, label in zip(values, header, strict=True)
    )

    def pk(model: Any, alias: str) -> str:
        return f"{alias}.{_quote(model._meta.pk.column)}"

    name, siret = _column(Organisation, "name"), _column(Organisation, "siret")
    lead = " ".join(  # noqa: S608 - identifiers from the models' metadata, quoted
        [
            f"SELECT o.{name} AS name, o.{siret} AS siret",
            f"FROM {_table(Member)} m JOIN {_table(Organisation)} o",
            f"ON {pk(Organisation, 'o')} = {c(Member, 'organisation', 'm')}",
            f"WHERE {c(Member, 'application', 'm')} = {pk(Application, 'a')} AND {c(Member, 'is_lead', 'm')}",
            "LIMIT 1",
        ]
    )
    order = [c(Application, "reference", "a"), c(Tranche, "grant", "t"), c(Tranche, "year_index", "t")]
    # Identifiers from the models' metadata, quoted; the call's id is the one parameter.
    return "\n".join(  # noqa: S608
        [
            f"SELECT\n  {selected}",
            f"FROM {_table(Tranche)} t",
            f"JOIN {_table(Grant)} g ON {pk(Grant, 'g')} = {c(Tranche, 'grant', 't')}",
            f"JOIN {_table(Application)} a ON {pk(Application, 'a')} = {c(Grant, 'application', 'g')}",
            f"LEFT JOIN {_table(Departement)} d"
            f" ON {pk(Departement, 'd')} = {c(Application, 'departement', 'a')}",
            f"LEFT JOIN {_table(Region)} r ON {pk(Region, 'r')} = {c(Departement, 'region', 'd')}",
            f"LEFT JOIN LATERAL ({lead}) lead ON TRUE",
            f"WHERE {c(Grant, 'call', 'g')} = %s",
            f"ORDER BY {', '.join(order)}",
        ]
    )


def portal_csv(call_ids: list[int]) -> list[bytes]:
    """The portal's tranches CSV of each call, as the bytes its streaming response sends."""
    from applications.models import Call
    from grants.selectors.exports import labels, report_rows_tranches, tranche_columns
    from grants.writers import csv_stream

    files = []
    for call in Call.objects.filter(pk__in=call_ids).order_by("pk"):
        buffer = io.BytesIO()
        for chunk in csv_stream(report_rows_tranches(call), labels(tranche_columns())):
            buffer.write(chunk.encode("utf-8"))
        files.append(buffer.getvalue())
    return files


def copy_csv(call_ids: list[int], select: str) -> list[bytes]:
    """The same files by COPY ... TO STDOUT, one per call, into a buffer."""
    from django.db import connection

    files = []
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg2's own cursor, for copy_expert
        for call_id in call_ids:
            query = raw.mogrify(select, [call_id]).decode()
            buffer = io.BytesIO()
            buffer.write(BOM)
            raw.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';')", buffer)
            files.append(buffer.getvalue())
    return files


def parsed(files: list[bytes]) -> list[list[str]]:
    """Every data row of the files (header left out), parsed as CSV."""
    rows: list[list[str]] = []
    for content in files:
        text = content.decode("utf-8").removeprefix("\ufeff")
        rows.extend(list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))[1:])
    return rows


def compare_csv(result: Result, label: str, runs: int) -> dict[str, Any]:
    """Median times of the portal's CSV of every call's tranches and of COPY of the same rows."""
    from django.db import connection

    from applications.models import Call
    from grants.models import Tranche

    # Fresh planner statistics after seeding by COPY, as autovacuum would give a live database
    # (without them both sides run whatever plan the stale estimates suggest).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    call_ids = list(Call.objects.order_by("pk").values_list("pk", flat=True))
    select = copy_select()
    tranches = Tranche.objects.count()

    portal_files = portal_csv(call_ids)  # warm-up, and the files checked
    copy_files = copy_csv(call_ids, select)
    portal_rows, copy_rows = parsed(portal_files), parsed(copy_files)
    result.check(
        f"{label}: same number of data rows",
        len(portal_rows) == len(copy_rows) == tranches,
        f"portal {len(portal_rows)}, COPY {len(copy_rows)}, tranches {tranches}",
    )
    differing = next(
        (
            index
            for index, (one, other) in enumerate(zip(portal_rows, copy_rows, strict=True))
            if one != other
        ),
        None,
    )
    result.check(
        f"{label}: same cells",
        differing is None,
        "every cell equal"
        if differing is None
        else f"row {differing + 1}: portal {portal_rows[differing]}, COPY {copy_rows[differing]}",
    )

    portal_times: list[float] = []
    copy_times: list[float] = []
    for index in range(runs):
        order = [("portal", lambda: portal_csv(call_ids)), ("copy", lambda: copy_csv(call_ids, select))]
        if index % 2:
            order.reverse()
        for name, function in order:
            began = time.perf_counter()
            function()
            (portal_times if name == "portal" else copy_times).append(time.perf_counter() - began)
    return {
        "label": label,
        "calls": len(call_ids),
        "rows": len(portal_rows),
        "runs": runs,
        "portal_bytes": sum(len(f) for f in portal_files),
        "copy_bytes": sum(len(f) for f in copy_files),
        "portal_s": portal_times,
        "copy_s": copy_times,
        "portal_median_s": median(portal_times),
        "copy_median_s": median(copy_times),
        "ratio": median(portal_times) / median(copy_times),
    }


def more_calls(ctx: Context, extra_calls: int, per_call: int) -> dict[str, Any]:
    """`extra_calls` more past calls of bulk data in the bench database, each with about `per_call`
    dossiers (enough to reach the call's target of laureates): many more tranches to export."""
    from bench.common import purge_queues
    from devtools import bulk

    # The calls ctx.ensure_bulk seeded (seed_bulk's default), the first ones again, then older years.
    calls = int(inspect.signature(bulk.seed_bulk).parameters["calls"].default)
    total = calls + extra_calls
    began = time.monotonic()
    ctx.log(f"seeding {extra_calls} more calls ({total * per_call} dossiers over {total} calls, seed_bulk)")
    summary = bulk.seed_bulk(
        dossiers=total * per_call, calls=total, seed=700 + int(ctx.state.get("bulk_runs", 0))
    )
    purge_queues()
    elapsed = round(time.monotonic() - began, 1)
    ctx.state.setdefault("seeding", {})[f"{extra_calls} more calls (exports)"] = elapsed
    # ctx.state["bulk_dossiers"] is left alone: a benchmark after this one (ORDER) would see more
    # calls than ctx.ensure_bulk seeded.
    ctx.state["exports_calls_added"] = extra_calls
    return {
        "dossiers": summary.dossiers,
        "grants": summary.rows["grants"],
        "tranches": summary.rows["tranches"],
    }


# --- memory, one subprocess per size ------------------------------------------------------------


def _limit_rows(rows: int) -> None:
    """In the child: the long sheets of the report hold the first `rows` tranches of every call
    and the first rows/3 grants, through the report's own queries."""
    from grants.models import Grant, Tranche
    from grants.selectors import exports

    def tranches(call: Any) -> Any:
        return exports.tranche_report_queryset(Tranche.objects.all())[:rows]

    def grants(call: Any) -> Any:
        return exports.grant_report_queryset(Grant.objects.all())[: max(1, rows // 3)]

    exports._tranches = tranches  # type: ignore[assignment]
    exports._grants = grants  # type: ignore[assignment]


def status_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> float:
    """Start the peak RSS afresh (clear_refs 5: the high-water mark back to the current RSS) and
    return the current RSS: django.setup() and the imports peak above what the build needs."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_mib("VmRSS")


def child(mode: str, rows: int, call_id: int) -> dict[str, Any]:
    """Build one export of `rows` rows in this process; its peak RSS above the baseline."""
    import django

    django.setup()
    from django.core.files.storage import default_storage
    from django.db import connection

    from accounts.models import User
    from applications.models import Call
    from grants.export_jobs import export_job_build, export_job_create, export_job_file_name
    from grants.selectors.exports import labels, report_rows_tranches, tranche_columns
    from grants.views import exports as views_exports
    from grants.writers import csv_stream

    _limit_rows(rows)
    call = Call.objects.get(pk=call_id)
    actor = User.objects.order_by("pk").first()
    connection.ensure_connection()
    gc.collect()
    baseline = reset_peak()
    began = time.perf_counter()
    if mode == "xlsx":
        if actor is None:
            raise RuntimeError("no user to request the workbook")
        job_id = export_job_create(call=call, actor=actor).pk
        export_job_build(job_id=job_id)
        name = export_job_file_name(job_id)
        size = default_storage.size(name)
        default_storage.delete(name)
    elif mode == "csv":
        response = views_exports._csv_response(
            csv_stream(report_rows_tranches(call), labels(tranche_columns())), "tranches.csv"
        )
        if not response.streaming:
            raise RuntimeError("the CSV response is not streamed")
        size = sum(len(chunk) for chunk in response)
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
        "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_memory(ctx: Context, mode: str, sizes: list[int], call_id: int) -> list[dict[str, Any]]:
    measured = []
    for rows in sizes:
        ctx.log(f"{mode}: {rows} rows in a subprocess")
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.bench_exports", "child", mode, str(rows), str(call_id)],
            cwd=PROJECT_ROOT,
            env=ctx.child_env(),
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the {mode} child for {rows} rows failed:\n{done.stderr[-4000:]}")
        measured.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return measured


def memory_sizes(total: int, quick: bool) -> tuple[list[int], int]:
    """The sizes measured, and the index of the first one the ratio starts from.

    The rows are read by chunks of CHUNK_SIZE from a server-side cursor, and while the next chunk
    is fetched the previous one is still referenced: the memory grows until two chunks are held
    (the bound), then stays flat. So the sizes double from a quarter of a chunk up to every
    tranche, and the ratio starts from two chunks (×12 up to the larger volume).
    """
    from grants.selectors.exports import CHUNK_SIZE

    if quick or total < 8 * CHUNK_SIZE:
        smallest = max(1, total >> 3)
        return [smallest << step for step in range(3)] + [total], 0
    sizes = [CHUNK_SIZE // 4]
    size = CHUNK_SIZE
    while size < total:
        sizes.append(size)
        size *= 2
    return sizes + [total], 2


# --- the benchmark ------------------------------------------------------------------------------


def csv_table(result: Result, measured: list[dict[str, Any]]) -> None:
    result.table(
        "Tranches CSV of every call, portal against COPY of the same rows, "
        f"median of {measured[0]['runs']} runs",
        ["Data", "Calls", "Rows", "Portal", "COPY", "Portal / COPY", "Size (portal / COPY)"],
        [
            [
                m["label"],
                m["calls"],
                m["rows"],
                ms(m["portal_median_s"]),
                ms(m["copy_median_s"]),
                f"{m['ratio']:.2f}×",
                f"{m['portal_bytes'] / MIB:.2f} / {m['copy_bytes'] / MIB:.2f} MiB",
            ]
            for m in measured
        ],
    )


def memory_table(result: Result, title: str, measured: list[dict[str, Any]], first: int) -> float:
    smallest, largest = measured[first], measured[-1]
    ratio = largest["delta_mib"] / max(smallest["delta_mib"], 0.1)
    result.table(
        title,
        ["Rows", "Baseline RSS", "Peak RSS", "Peak − baseline", "File", "Time"],
        [
            [
                m["rows"],
                f"{m['baseline_mib']:.1f} MiB",
                f"{m['peak_mib']:.1f} MiB",
                f"{m['delta_mib']:.1f} MiB",
                f"{m['bytes'] / MIB:.2f} MiB",
                f"{m['seconds']:.2f} s",
            ]
            for m in measured
        ],
    )
    return ratio


def run(ctx: Context) -> dict[str, Any]:
    result = ctx.result()
    runs = 3 if ctx.quick else 9
    bulk = 300 if ctx.quick else 100_000
    extra_calls, per_call = (2, 150) if ctx.quick else (40, 1_800)

    from applications.models import Call
    from grants.models import Grant, Tranche

    if ctx.ensure_bulk(bulk) is None:
        raise RuntimeError("devtools.bulk.seed_bulk is missing")
    measured = [compare_csv(result, f"bulk data ({bulk} dossiers)", runs)]
    seeded = more_calls(ctx, extra_calls, per_call)
    result.figures["seeded_for_exports"] = seeded
    measured.append(compare_csv(result, f"bulk data + {extra_calls} more calls", runs))
    result.figures["csv"] = measured
    csv_table(result, measured)
    for m in measured:
        result.ratio(f"CSV, {m['rows']} tranches: portal / COPY", m["ratio"], CSV_LIMIT)

    tranches = Tranche.objects.count()
    call_id = (
        Grant.objects.values("call").order_by("call").values_list("call", flat=True).last()
        or Call.objects.order_by("pk").values_list("pk", flat=True).first()
    )
    sizes, first = memory_sizes(tranches, ctx.quick)
    from grants.selectors.exports import CHUNK_SIZE as chunk

    for mode, title, name in (
        ("xlsx", "XLSX workbook built by the background job's code, one subprocess per size", "XLSX"),
        ("csv", "Tranches CSV through the view's StreamingHttpResponse, one subprocess per size", "CSV"),
    ):
        memory = measure_memory(ctx, mode, sizes, int(call_id))
        result.figures[f"{mode}_memory"] = memory
        ratio = memory_table(result, title, memory, first)
        growth = memory[-1]["rows"] / memory[first]["rows"]
        result.ratio(
            f"{name} peak memory above baseline, {memory[-1]['rows']} rows / {memory[first]['rows']} rows "
            f"(×{growth:.0f} rows)",
            ratio,
            MEMORY_LIMIT,
        )
    result.note(
        "COPY runs the same SELECT the portal's export amounts to (same joins, the lead structure, "
        "status labels, local dates, neutralised text, same order), one COPY per call as the portal "
        "exports one file per call; the check compares every cell of both outputs parsed as CSV."
    )
    result.note(
        f"The larger volume adds {extra_calls} past calls ({seeded['dossiers']} dossiers, "
        f"{seeded['grants']} grants, {seeded['tranches']} tranches) to the bench database only."
    )
    result.note(
        "Memory: the XLSX sheets (N tranches, N/3 grants) and the CSV hold the first N rows of "
        "every call, through the report's own queries, limited; the figure is the child's peak RSS "
        "during the build (its high-water mark reset just before: django.setup() peaks higher) "
        "minus its RSS at that moment. Rows are read by chunks of "
        f"{chunk} from a server-side cursor, the previous chunk still held while the next one is "
        "fetched: the memory grows until two chunks are held, then stays flat (with chunks of 500 "
        "the plateau is reached at 1 000 rows, about 1 MiB for the CSV). The ratio starts from two "
        "chunks; the smaller sizes show the filling."
    )
    return result.as_dict()


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "child":
    print(json.dumps(child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))), flush=True)
