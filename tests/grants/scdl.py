"""Validation of open-data files against the vendored SCDL « subventions » Table Schema, by
frictionless (a real Table Schema validator): the tests never restate the schema's rules.

The schema's `custom_checks` (SIRET check digits, one of idBeneficiaire/rnaBeneficiaire) belong to
Validata, not to the Table Schema standard: `schema_errors` runs those the schema lists with
python-stdnum and a plain look at the columns.
"""

import csv
import io
import json
from pathlib import Path

from frictionless import Resource, Schema, system
from stdnum.fr import siret

from grants.open_data import SCHEMA_PATH


def schema_errors(
    path: Path, schema_path: Path = SCHEMA_PATH
) -> list[tuple[int | None, str | None, str, str]]:
    """(row, column, error type, note) for every way the file breaks the schema; [] when valid."""
    schema = Schema.from_descriptor(schema_path.name, basepath=str(schema_path.parent))
    # trusted: the file lies outside frictionless's working directory (pytest's tmp_path).
    with system.use_context(trusted=True):
        report = Resource(path=str(path), schema=schema).validate()
    errors = [tuple(error) for error in report.flatten(["rowNumber", "fieldName", "type", "note"])]
    checks = json.loads(schema_path.read_text(encoding="utf-8")).get("custom_checks", [])
    sirets = [check["params"]["column"] for check in checks if check["name"] == "french-siret-value"]
    one_of = [check["params"] for check in checks if check["name"] == "one-of-required"]
    text = path.read_text(encoding="utf-8-sig")
    for number, record in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
        for column in sirets:
            if record.get(column) and not siret.is_valid(record[column]):
                errors.append((number, column, "french-siret-value", record[column]))
        for pair in one_of:
            if not record.get(pair["column1"]) and not record.get(pair["column2"]):
                errors.append((number, pair["column1"], "one-of-required", ""))
    return errors  # type: ignore[return-value]
