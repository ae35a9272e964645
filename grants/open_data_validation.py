"""Validation of an open-data file against its vendored Table Schema, by frictionless (a real Table
Schema validator), before the file is published: a file it refuses is never served.

The SCDL schemas also name `custom_checks` (a SIRET's check digits, one of two columns filled)
that belong to Validata, not to the Table Schema standard: they are run here with python-stdnum
and a plain look at the columns, from the list the schema itself gives.

JSON files carry their rows in a `data` list of objects keyed by the schema's column names (the
rest of the object is the file's metadata: licence, date, schema): each object must have exactly
those keys, then the rows go to frictionless as a table, header first.

frictionless is imported when a file is checked, not when the portal starts: only the workers
building the files need it.
"""

import csv
import io
import json
from pathlib import Path
from typing import Any

from stdnum.fr import siret as stdnum_siret

# (row number as the validator counts it, the header being row 1; column; error type; note)
Problem = tuple[int | None, str | None, str, str]


def load_schema(path: Path) -> dict[str, Any]:
    descriptor: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return descriptor


def _frictionless_problems(descriptor: dict[str, Any], **resource: Any) -> list[Problem]:
    from frictionless import Resource, Schema, system

    schema = Schema.from_descriptor(descriptor)
    # trusted: the file is a temporary file outside frictionless's working directory.
    with system.use_context(trusted=True):
        report = Resource(schema=schema, **resource).validate()
    return [
        (row, column, str(kind), str(note))
        for row, column, kind, note in report.flatten(["rowNumber", "fieldName", "type", "note"])
    ]


def _custom_problems(descriptor: dict[str, Any], records: list[dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    for number, record in enumerate(records, start=2):
        for check in descriptor.get("custom_checks", []):
            params = check.get("params", {})
            if check["name"] == "french-siret-value":
                value = record.get(params["column"]) or ""
                if value and not stdnum_siret.is_valid(str(value)):
                    problems.append((number, params["column"], "french-siret-value", str(value)))
            elif check["name"] == "one-of-required":
                if not record.get(params["column1"]) and not record.get(params["column2"]):
                    problems.append((number, params["column1"], "one-of-required", ""))
    return problems


def csv_problems(content: bytes, descriptor: dict[str, Any]) -> list[Problem]:
    """Every way the CSV `content` (UTF-8, a BOM allowed) breaks the schema; [] when it is valid."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
        handle.write(content)
        handle.flush()
        problems = _frictionless_problems(descriptor, path=handle.name, format="csv", encoding="utf-8-sig")
    text = content.decode("utf-8-sig")
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    return problems + _custom_problems(descriptor, records)


def json_problems(content: bytes, descriptor: dict[str, Any]) -> list[Problem]:
    """Every way the JSON `content` breaks the schema; [] when it is valid."""
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return [(None, None, "json-error", str(error))]
    records = document.get("data") if isinstance(document, dict) else None
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        return [(None, None, "json-error", "no « data » list of objects")]
    names = [field["name"] for field in descriptor["fields"]]
    problems: list[Problem] = []
    for number, record in enumerate(records, start=2):
        if set(record) != set(names):
            extra = sorted(set(record) - set(names))
            missing = sorted(set(names) - set(record))
            problems.append((number, None, "keys-error", f"extra {extra}, missing {missing}"))
    if problems:
        return problems
    table = [names, *([record[name] for name in names] for record in records)]
    return _frictionless_problems(descriptor, data=table) + _custom_problems(descriptor, records)
