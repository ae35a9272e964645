"""The cells of the portal's CSV and XLSX files, shared by every export (budget reports in
grants.writers, the instructors' dossier lists in applications.exports).

CSV: a cell is a plain value (amounts 150000.00 with a point, ISO dates), and a text a spreadsheet
would take for a formula is prefixed with a quote (OWASP « CSV injection »). XLSX: text cells are
typed as strings (never a formula), amounts carry a euro format and dates a French date format.
The rationale is in grants.writers' docstring.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# The kind of a column's cells, which the writers format (euros, dates) and the CSV leaves plain.
TEXT, MONEY, DATE, NUMBER = "text", "money", "date", "number"

CSV_FLUSH_BYTES = 64 * 1024
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EURO_FORMAT = '#,##0.00 "€"'
DATE_FORMAT = "DD/MM/YYYY"

# What a spreadsheet may take for the start of a formula (OWASP, « CSV injection »).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix a quote to a text a spreadsheet would take for a formula."""
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


def csv_text(value: Any) -> str:
    """One CSV cell: text neutralised, amounts plain (150000.00), dates ISO 8601, booleans oui/non."""
    if type(value) is str:  # most cells: the common case first
        return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return neutralise(str(value))


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate(0)
    return text


def csv_chunks(
    rows: Iterable[Sequence[Any]],
    header: Sequence[str],
    *,
    delimiter: str = ";",
    reading: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> Iterator[str]:
    """The CSV text of `rows`, in chunks of about 64 KiB; the first chunk is the BOM and the header.

    `reading` is entered around the walk of the rows, in the generator's body: a streamed response
    runs it after the view has returned (the callers pass `config.db_routers.reading_from_replica`).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise(str(label)) for label in header])
    yield "\ufeff" + _drain(buffer)
    with reading():
        for row in rows:
            writer.writerow([csv_text(value) for value in row])
            if buffer.tell() >= CSV_FLUSH_BYTES:
                yield _drain(buffer)
    rest = _drain(buffer)
    if rest:
        yield rest


def xlsx_cell(sheet: WriteOnlyWorksheet, value: Any, kind: str, *, bold: bool = False) -> WriteOnlyCell:
    """One cell of a write-only sheet: text typed as text, euros and dates formatted."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        # Text is text: without this, openpyxl stores "=HYPERLINK(...)" as a formula.
        cell.data_type = "s"
    elif kind == MONEY:
        cell.number_format = EURO_FORMAT
    elif kind == DATE and value is not None:
        cell.number_format = DATE_FORMAT
    if bold:
        cell.font = Font(bold=True)
    return cell
