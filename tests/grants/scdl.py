"""Validation of open-data files against the vendored SCDL « subventions » Table Schema, by
frictionless (a real Table Schema validator): the tests never restate the schema's rules.

The schema's `custom_checks` (SIRET check digits, one of idBeneficiaire/rnaBeneficiaire) belong to
Validata, not to the Table Schema standard: `schema_errors` runs them with python-stdnum and a
plain look at the two columns.
"""

import csv
import io
from pathlib import Path

from frictionless import Resource, Schema, system
from stdnum.fr import siret

from grants.open_data import SCHEMA_PATH


def schema_errors(path: Path) -> list[tuple[int | None, str | None, str, str]]:
    """(row, column, error type, note) for every way the file breaks the schema; [] when valid."""
    schema = Schema.from_descriptor(SCHEMA_PATH.name, basepath=str(SCHEMA_PATH.parent))
    # trusted: the file lies outside frictionless's working directory (pytest's tmp_path).
    with system.use_context(trusted=True):
        report = Resource(path=str(path), schema=schema).validate()
    errors = [tuple(error) for error in report.flatten(["rowNumber", "fieldName", "type", "note"])]
    text = path.read_text(encoding="utf-8-sig")
    for number, record in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
        for column in ("idAttribuant", "idBeneficiaire"):
            if record.get(column) and not siret.is_valid(record[column]):
                errors.append((number, column, "french-siret-value", record[column]))
        if not record.get("idBeneficiaire") and not record.get("rnaBeneficiaire"):
            errors.append((number, "idBeneficiaire", "one-of-required", ""))
    return errors  # type: ignore[return-value]
