"""The files of the budget reports: CSV, XLSX and PDF (their rows come from grants.selectors.exports).

CSV, the choices made
    - UTF-8 with a byte order mark: Excel recognises the encoding when the file is double-clicked.
    - Budget reports use ";" as separator, the list separator of French Excel, so that the file
      opens in columns. The open-data file uses ",", as the SCDL schema requires.
    - Amounts are plain decimal numbers with a point (150000.00), never « 150 000 € »: they are
      data. People who want formatted figures use the XLSX, which carries real numbers with a
      euro format. Dates are ISO 8601 (2026-03-14).
    - CSV injection: a text cell beginning with = + - @, a tab or a carriage return is prefixed
      with a single quote, so that no spreadsheet runs it as a formula. Only text cells are
      touched: numbers and dates are written by this module and cannot carry a formula.

XLSX
    openpyxl in write-only mode (rows are streamed to the file); every text cell is typed as a
    string, so that a name beginning with "=" is never stored as a formula. A workbook is built
    in the background by `grants.tasks.exports.budget_report_build_task`; the job is an
    `ExportJob` row with its progress (grants.export_jobs).

PDF
    The summary's context holds strings only, so that it can be stored on a
    `notifications.Document` row (grants.services.exports.pdf_summary_request), rendered by the
    document task.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from applications.models import Call
from config.db_routers import reading_from_replica
from core.formatting import format_date, format_money
from core.spreadsheets import (
    CSV_FLUSH_BYTES as CSV_FLUSH_BYTES,  # re-exported: the names the budget exports always had
)
from core.spreadsheets import (
    DATE,
    MONEY,
    TEXT,
    csv_chunks,
    xlsx_cell,
)
from core.spreadsheets import DATE_FORMAT as DATE_FORMAT
from core.spreadsheets import EURO_FORMAT as EURO_FORMAT
from core.spreadsheets import FORMULA_TRIGGERS as FORMULA_TRIGGERS
from core.spreadsheets import XLSX_CONTENT_TYPE as XLSX_CONTENT_TYPE
from core.spreadsheets import neutralise as neutralise
from grants.models import Grant, Tranche
from grants.selectors.exports import (
    Column,
    budget_summary,
    grant_columns,
    region_columns,
    region_rows,
    report_rows_grants,
    report_rows_tranches,
    summary_columns,
    summary_rows,
    tranche_columns,
    year_columns,
    year_rows,
)
from notifications.pdf import render_pdf

PDF_TEMPLATE = "pdf/budget_summary.html"
PDF_KIND = "budget-summary"


# --- CSV ----------------------------------------------------------------------------------------


def csv_stream(
    rows: Iterable[Sequence[Any]], header: Sequence[str], *, delimiter: str = ";"
) -> Iterator[str]:
    """The CSV text of `rows`, in chunks of about 64 KiB; the first chunk is the BOM and the header.

    The rows are read on the read replica when one is configured (config.db_routers): the
    generator runs after the view has returned, so the context is entered in its body.
    """
    return csv_chunks(rows, header, delimiter=delimiter, reading=reading_from_replica)


# --- XLSX ---------------------------------------------------------------------------------------

Progress = Callable[[int, int], None]


_cell = xlsx_cell


def _sheet(workbook: Workbook, title: str, columns: Sequence[Column]) -> WriteOnlyWorksheet:
    sheet = workbook.create_sheet(title)
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.append([_cell(sheet, column.label, TEXT, bold=True) for column in columns])
    return sheet


def _append(sheet: WriteOnlyWorksheet, columns: Sequence[Column], row: Sequence[Any]) -> None:
    sheet.append([_cell(sheet, value, column.kind) for column, value in zip(columns, row, strict=True)])


def xlsx_write(call: Call, path_or_file: str | Path | IO[bytes], *, progress: Progress | None = None) -> None:
    """The budget workbook of a call: Synthèse, Régions, Années, Subventions, Tranches.

    `progress(done, total)` is called every few hundred rows of the two long sheets.
    """
    workbook = Workbook(write_only=True)
    summary = budget_summary(call)

    columns = summary_columns()
    sheet = _sheet(workbook, _("Synthèse"), columns)
    sheet.append([_cell(sheet, _("Appel"), TEXT), _cell(sheet, call.title, TEXT)])
    sheet.append([_cell(sheet, _("Produit le"), TEXT), _cell(sheet, timezone.localdate(), DATE)])
    for label, value, kind in summary_rows(summary):
        sheet.append([_cell(sheet, label, TEXT), _cell(sheet, value, kind)])

    for title, columns, rows in (
        (_("Régions"), region_columns(), region_rows(call)),
        (_("Années"), year_columns(), year_rows(call)),
    ):
        sheet = _sheet(workbook, title, columns)
        for row in rows:
            _append(sheet, columns, row)

    total = Grant.objects.filter(call=call).count() + Tranche.objects.filter(grant__call=call).count()
    done = 0
    if progress:
        progress(done, total)
    for title, columns, stream in (
        (_("Subventions"), grant_columns(), report_rows_grants(call)),
        (_("Tranches"), tranche_columns(), report_rows_tranches(call)),
    ):
        sheet = _sheet(workbook, title, columns)
        for row in stream:
            _append(sheet, columns, row)
            done += 1
            if progress and done % 200 == 0:
                progress(done, total)
    if progress:
        progress(done, max(total, done))
    workbook.save(path_or_file)


# --- PDF ----------------------------------------------------------------------------------------


def summary_context(call: Call) -> dict[str, Any]:
    """The PDF's context: strings only, so that it can be stored on a document row."""
    summary = budget_summary(call)
    return {
        "title": _("Synthèse budgétaire"),
        "call_title": call.title,
        "grantor_name": call.grantor_name,
        "generated_on": format_date(timezone.localdate()),
        "figures": [
            {"label": label, "value": format_money(value) if kind == MONEY else str(value)}
            for label, value, kind in summary_rows(summary)
        ],
        "regions": [
            {
                "name": name,
                "laureates": str(laureates),
                "committed": format_money(committed),
                "paid": format_money(paid),
            }
            for _code, name, laureates, committed, paid in region_rows(call)
        ],
        "years": [
            {
                "year": str(year),
                "tranches": str(count),
                "planned": format_money(planned),
                "paid": format_money(paid),
                "to_pay": format_money(to_pay),
            }
            for year, count, planned, _paid_count, paid, to_pay in year_rows(call)
        ],
    }


def pdf_summary(call: Call) -> bytes:
    return render_pdf(PDF_TEMPLATE, summary_context(call))
