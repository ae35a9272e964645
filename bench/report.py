"""Write docs/benchmarks.md from the results in bench/results/*.json (see bench/common.py, Result).

    python -m bench.report            # rewrite docs/benchmarks.md from the results present

No Django, no database: it only reads the JSON files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
OUTPUT = BENCH_DIR.parent / "docs" / "benchmarks.md"

MACHINE_ROWS = (
    ("cpu", "CPU"),
    ("cores", "Cores"),
    ("ram", "RAM"),
    ("os", "OS"),
    ("python", "Python"),
    ("postgresql", "PostgreSQL"),
    ("redis", "Redis"),
    ("django", "Django"),
    ("celery", "Celery"),
    ("weasyprint", "WeasyPrint"),
    ("load_generator", "HTTP load generator"),
)


def load_results(results_dir: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    results = []
    for path in sorted(results_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        data.setdefault("name", path.stem)
        results.append(data)
    return sorted(results, key=lambda r: (r.get("number") or 99, r["name"]))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
        return text.replace(",", " ")
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(columns: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def verdict(ratio: dict[str, Any]) -> str:
    """✅ within the limit, ❌ and by how much it is missed, or — when reported without a limit."""
    limit = ratio.get("limit")
    if limit is None:
        return "— (no limit)"
    value = float(ratio["value"])
    if ratio.get("passed"):
        return "✅"
    if ratio.get("op", "<=") == "<=":
        missed = (value / limit - 1) * 100 if limit else math.inf
        return f"❌ missed by {missed:.0f} % ({value:.2f} > {limit:g})"
    missed = (1 - value / limit) * 100 if limit else math.inf
    return f"❌ missed by {missed:.0f} % ({value:.2f} < {limit:g})"


def _limit(ratio: dict[str, Any]) -> str:
    if ratio.get("limit") is None:
        return "—"
    op = "≤" if ratio.get("op", "<=") == "<=" else "≥"
    unit = ratio.get("unit", "×")
    return f"{op} {ratio['limit']:g}×" if unit == "×" else f"{op} {ratio['limit']:g} {unit}"


def _value(ratio: dict[str, Any]) -> str:
    unit = ratio.get("unit", "×")
    value = float(ratio["value"])
    return f"{value:.2f}×" if unit == "×" else f"{value:.2f} {unit}"


def render(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`, then `bench/report.py`) from the results in",
        "`bench/results/`. Each benchmark compares the portal with a limit or a baseline measured in the",
        "same run, on PostgreSQL and Redis, with the production-like settings `config.settings.bench`;",
        "how to run them and how to add one: `bench/README.md`. Profiles, findings and one-off",
        "measurements, written by hand: [performance.md](performance.md).",
        "",
    ]
    if not results:
        return "\n".join([*lines, "No result yet: run `make bench`.", ""])
    latest = max(results, key=lambda r: r.get("date", ""))
    machine = latest.get("machine", {})
    dates = sorted({r.get("date", "")[:10] for r in results if r.get("date")})
    lines += ["## Machine", ""]
    rows = [[label, machine.get(key) or "unknown"] for key, label in MACHINE_ROWS]
    rows.append(["Date", ", ".join(dates) or "unknown"])
    lines += _table(["", ""], rows)
    lines.append("")
    if any(r.get("quick") for r in results):
        lines += ["**Quick mode** (`--quick`): tiny sizes, the figures below mean nothing.", ""]

    lines += ["## Summary", ""]
    summary = []
    for result in results:
        label = f"{result.get('number') or '-'}. {result.get('title', result['name'])}"
        if result.get("error"):
            summary.append([label, "run failed", "—", "—", f"❌ {result['error']}"])
        for ratio in result.get("ratios", []):
            summary.append([label, ratio["name"], _value(ratio), _limit(ratio), verdict(ratio)])
        failed_checks = [c for c in result.get("checks", []) if not c.get("passed")]
        checks = result.get("checks", [])
        if checks:
            summary.append(
                [
                    label,
                    "correctness checks",
                    f"{len(checks) - len(failed_checks)}/{len(checks)}",
                    "all",
                    "✅" if not failed_checks else "❌ " + "; ".join(c["name"] for c in failed_checks),
                ]
            )
    lines += _table(["Benchmark", "Measure", "Value", "Limit", "Result"], summary)
    lines.append("")

    for result in results:
        lines += [
            f"## {result.get('number') or '-'}. {result.get('title', result['name'])} (`{result['name']}`)",
            "",
        ]
        meta = [f"Run on {result.get('date', 'unknown date')}"]
        if result.get("duration_s") is not None:
            meta.append(f"in {result['duration_s']:.0f} s")
        seeding = result.get("seeding_s") or {}
        if seeding:
            meta.append("seeding " + ", ".join(f"{k} {v:.0f} s" for k, v in seeding.items()))
        if result.get("quick"):
            meta.append("**quick mode**")
        lines += [", ".join(meta) + ".", ""]
        if result.get("error"):
            lines += [f"**Failed**: `{result['error']}`", ""]
        for table in result.get("tables", []):
            if table.get("title"):
                lines += [f"**{table['title']}**", ""]
            lines += _table(table["columns"], table["rows"])
            lines.append("")
        if result.get("ratios"):
            lines += _table(
                ["Ratio", "Value", "Limit", "Result"],
                [[r["name"], _value(r), _limit(r), verdict(r)] for r in result["ratios"]],
            )
            lines.append("")
        if result.get("checks"):
            for check in result["checks"]:
                mark = "✅" if check.get("passed") else "❌"
                detail = f": {check['detail']}" if check.get("detail") else ""
                lines.append(f"- {mark} {check['name']}{detail}")
            lines.append("")
        for note in result.get("notes", []):
            lines.append(f"> {note}")
            lines.append(">")
        if result.get("notes"):
            lines.pop()
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# The chaos run's section (bench/chaos.py writes it between these markers): kept as it is.
KEPT_START, KEPT_END = "<!-- chaos:start -->", "<!-- chaos:end -->"


def kept_section(text: str) -> str:
    if KEPT_START not in text or KEPT_END not in text:
        return ""
    return KEPT_START + text.split(KEPT_START, 1)[1].split(KEPT_END, 1)[0] + KEPT_END


def write(results_dir: Path = RESULTS_DIR, output: Path = OUTPUT) -> Path:
    text = render(load_results(results_dir))
    kept = kept_section(output.read_text(encoding="utf-8")) if output.exists() else ""
    if kept:
        text = text.rstrip("\n") + "\n\n" + kept + "\n"
    output.write_text(text, encoding="utf-8")
    return output


if __name__ == "__main__":
    print(write())
