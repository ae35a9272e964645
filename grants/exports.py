"""Budget reports of a call: CSV, XLSX and PDF (the open data is in grants.open_data).

Reading
    Every row generator runs one query (joins, plus correlated subqueries for the lead structure
    and the amounts paid) and walks it with `iterator(chunk_size=2000)`: a call of any size is
    never loaded whole, and the number of queries does not grow with the number of grants. The
    long reports (grants, tranches) read tuples (`values_list`), not model instances, with the
    local dates computed by the database and the labels translated once per export: building
    five model instances and translating two labels per row cost ten times the database's work.

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
    string, so that a name beginning with "=" is never stored as a formula.

Jobs
    A workbook is built in the background by `grants.tasks_exports.budget_report_build_task`; the
    job is an `ExportJob` row with its progress (grants.export_jobs). The PDF summary is a
    `notifications.Document` row, rendered by the existing document task.
"""

import csv
import io
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.db.models import (
    CharField,
    Count,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from accounts.models import User
from accounts.services import audit_record
from applications.models import Application, Call, Member
from config.db_routers import reading_from_replica
from core.formatting import format_date, format_money, french_sorted
from grants.models import Agreement, Grant, Tranche
from notifications.models import Document
from notifications.pdf import render_pdf
from notifications.services import document_request

CHUNK_SIZE = 2000
CSV_FLUSH_BYTES = 64 * 1024
BUDGET_REPORT_ACTION = "export.budget_report"
OPEN_DATA_ACTION = "export.open_data"  # the rows: grants.open_data
PDF_TEMPLATE = "pdf/budget_summary.html"
PDF_KIND = "budget-summary"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EURO_FORMAT = '#,##0.00 "€"'
DATE_FORMAT = "DD/MM/YYYY"
ZERO = Decimal("0")
CENT = Decimal("0.01")
MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)

# What a spreadsheet may take for the start of a formula (OWASP, « CSV injection »).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# INSEE legal categories of level I "1" are natural persons (entrepreneurs individuels): their
# name is a person's name and never goes into a public output.
NATURAL_PERSON_CATEGORY_PREFIX = "1"

TEXT, MONEY, DATE, NUMBER = "text", "money", "date", "number"
KIND_SHORT = {Application.Kind.FT.value: "FT", Application.Kind.FNT.value: "FNT"}


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = TEXT
    width: int = 16


def labels(columns: Sequence[Column]) -> list[str]:
    return [column.label for column in columns]


def _local_date(moment: datetime | None) -> date | None:
    return timezone.localdate(moment) if moment is not None else None


def _lead(field: str, application: str) -> Subquery:
    """A text field of the lead structure of the dossier at `application` (an OuterRef path)."""
    return Subquery(
        Member.objects.filter(application=OuterRef(application), is_lead=True)
        .order_by()
        .values(f"organisation__{field}")[:1],
        output_field=CharField(),
    )


def is_natural_person(organisation: Any) -> bool:
    return str(organisation.legal_category_id).startswith(NATURAL_PERSON_CATEGORY_PREFIX)


# --- the rows -----------------------------------------------------------------------------------


def grant_columns() -> list[Column]:
    return [
        Column(_("Référence du dossier"), width=18),
        Column(_("Projet"), width=36),
        Column(_("Type"), width=8),
        Column(_("Structure chef de file"), width=36),
        Column(_("SIRET"), width=16),
        Column(_("Code département"), width=10),
        Column(_("Département"), width=20),
        Column(_("Région"), width=24),
        Column(_("Subvention de fonctionnement"), MONEY),
        Column(_("Bonus fabrique numérique"), MONEY),
        Column(_("Montant engagé"), MONEY),
        Column(_("Versé"), MONEY),
        Column(_("Reste à verser sur les tranches"), MONEY),
        Column(_("Attribuée le"), DATE, width=12),
        Column(_("État de la subvention"), width=14),
        Column(_("Convention"), width=18),
        Column(_("État de la convention"), width=18),
        Column(_("Convention signée le"), DATE, width=12),
    ]


def _grants(call: Call) -> QuerySet[Grant, tuple[Any, ...]]:
    return grant_report_queryset(Grant.objects.filter(call=call))


def _choices(choices: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Stored value -> label, translated once for a whole export (get_FOO_display on every row
    costs more than the rest of the row)."""
    return {value: str(label) for value, label in choices}


def _tuples(queryset: QuerySet[Any, tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """The rows of a values_list() query, read by chunks from a server-side cursor."""
    return queryset.iterator(chunk_size=CHUNK_SIZE)


def grant_report_queryset(grants: QuerySet[Grant]) -> QuerySet[Grant, tuple[Any, ...]]:
    """The grants report's query over `grants`, as tuples (see report_rows_grants): dossier,
    territory, lead structure, amounts paid and due, agreement, local dates; one query."""

    def tranche_sum(condition: Q) -> Coalesce:
        total = Subquery(
            Tranche.objects.filter(condition, grant=OuterRef("pk"))
            .order_by()
            .values("grant")
            .annotate(total=Sum("amount"))
            .values("total")
        )
        return Coalesce(total, Value(ZERO), output_field=MONEY_FIELD)

    return (
        grants.annotate(
            lead_name=_lead("name", "application"),
            lead_siret=_lead("siret", "application"),
            paid_total=tranche_sum(Q(status=Tranche.Status.PAID)),
            unpaid_total=tranche_sum(~Q(status__in=[Tranche.Status.PAID, Tranche.Status.CANCELLED])),
            awarded_on=TruncDate("awarded_at"),
            agreement_signed_on=TruncDate("agreement__signed_at"),
        )
        .order_by("application__reference", "pk")
        .values_list(
            "application__reference",
            "application__title",
            "application__kind",
            "lead_name",
            "lead_siret",
            "application__departement__code",
            "application__departement__name",
            "application__departement__region__name",
            "amount",
            "bonus",
            "paid_total",
            "unpaid_total",
            "awarded_on",
            "status",
            "agreement__number",
            "agreement__status",
            "agreement_signed_on",
        )
    )


def report_rows_grants(call: Call) -> Iterator[list[Any]]:
    """One row per grant of the call (cancelled ones included, with their state)."""
    grant_status = _choices(Grant.Status.choices)
    agreement_status = _choices(Agreement.Status.choices)
    return (
        [
            reference,
            title,
            KIND_SHORT.get(kind, kind),
            lead_name or "",
            lead_siret or "",
            departement_code or "",
            departement_name or "",
            region_name or "",
            amount,
            bonus,
            amount + bonus,
            paid,
            unpaid if status == Grant.Status.ACTIVE else ZERO,
            awarded_on,
            grant_status.get(status, status),
            agreement_number or "",
            agreement_status.get(agreement, agreement) if agreement else "",
            signed_on,
        ]
        for (
            reference,
            title,
            kind,
            lead_name,
            lead_siret,
            departement_code,
            departement_name,
            region_name,
            amount,
            bonus,
            paid,
            unpaid,
            awarded_on,
            status,
            agreement_number,
            agreement,
            signed_on,
        ) in _tuples(_grants(call))
    )


def tranche_columns() -> list[Column]:
    return [
        Column(_("Référence du dossier"), width=18),
        Column(_("Structure chef de file"), width=36),
        Column(_("SIRET"), width=16),
        Column(_("Code département"), width=10),
        Column(_("Région"), width=24),
        Column(_("Type"), width=8),
        Column(_("Année"), NUMBER, width=8),
        Column(_("Montant"), MONEY),
        Column(_("Échéance prévue"), DATE, width=12),
        Column(_("État de la tranche"), width=12),
        Column(_("Demandée le"), DATE, width=12),
        Column(_("À payer avant le"), DATE, width=12),
        Column(_("Versée le"), DATE, width=12),
        Column(_("Référence du paiement"), width=20),
        Column(_("État de la subvention"), width=14),
    ]


def _tranches(call: Call) -> QuerySet[Tranche, tuple[Any, ...]]:
    return tranche_report_queryset(Tranche.objects.filter(grant__call=call))


def tranche_report_queryset(tranches: QuerySet[Tranche]) -> QuerySet[Tranche, tuple[Any, ...]]:
    """The tranches report's query over `tranches`, as tuples (see report_rows_tranches): dossier,
    territory, lead structure, the request's local date; one query."""
    return (
        tranches.annotate(
            lead_name=_lead("name", "grant__application"),
            lead_siret=_lead("siret", "grant__application"),
            requested_on=TruncDate("requested_at"),
        )
        .order_by("grant__application__reference", "grant_id", "year_index")
        .values_list(
            "grant__application__reference",
            "lead_name",
            "lead_siret",
            "grant__application__departement__code",
            "grant__application__departement__region__name",
            "grant__application__kind",
            "year_index",
            "amount",
            "due_date",
            "status",
            "requested_on",
            "paid_on",
            "payment_reference",
            "grant__status",
        )
    )


def report_rows_tranches(call: Call) -> Iterator[list[Any]]:
    """One row per tranche of every grant of the call: what is due, requested and paid.

    Tuples straight from the query, no model instance: the labels are translated once, and the
    request's local date (hence `Tranche.pay_by`) comes from the database.
    """
    tranche_status = _choices(Tranche.Status.choices)
    grant_status = _choices(Grant.Status.choices)
    delay = timedelta(days=Tranche.PAYMENT_DELAY_DAYS)
    return (
        [
            reference,
            lead_name or "",
            lead_siret or "",
            departement_code or "",
            region_name or "",
            KIND_SHORT.get(kind, kind),
            year_index,
            amount,
            due_date,
            tranche_status.get(status, status),
            requested_on,
            requested_on + delay if requested_on is not None else None,
            paid_on,
            payment_reference,
            grant_status.get(grant, grant),
        ]
        for (
            reference,
            lead_name,
            lead_siret,
            departement_code,
            region_name,
            kind,
            year_index,
            amount,
            due_date,
            status,
            requested_on,
            paid_on,
            payment_reference,
            grant,
        ) in _tuples(_tranches(call))
    )


# --- the aggregates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    envelope: Decimal
    committed: Decimal
    paid: Decimal
    remaining: Decimal
    laureates: int
    target: int


def budget_summary(call: Call) -> Summary:
    """The envelope's counters (kept under the awards' lock) and what the tranches paid."""
    call = Call.objects.get(pk=call.pk)  # fresh counters
    paid = Tranche.objects.filter(grant__call=call, status=Tranche.Status.PAID).aggregate(
        total=Sum("amount")
    )["total"]
    return Summary(
        envelope=call.envelope,
        committed=call.committed_amount,
        paid=paid or ZERO,
        remaining=call.remaining_amount,
        laureates=call.laureate_count,
        target=call.target_count,
    )


def summary_columns() -> list[Column]:
    return [Column(_("Indicateur"), width=36), Column(_("Valeur"), width=20)]


def summary_rows(summary: Summary) -> list[tuple[str, Decimal | int, str]]:
    return [
        (_("Enveloppe"), summary.envelope, MONEY),
        (_("Engagé"), summary.committed, MONEY),
        (_("Versé"), summary.paid, MONEY),
        (_("Restant sur l'enveloppe"), summary.remaining, MONEY),
        (_("Lauréats"), summary.laureates, NUMBER),
        (_("Objectif de lauréats"), summary.target, NUMBER),
    ]


def region_columns() -> list[Column]:
    return [
        Column(_("Code région"), width=8),
        Column(_("Région"), width=30),
        Column(_("Lauréats"), NUMBER, width=10),
        Column(_("Engagé"), MONEY),
        Column(_("Versé"), MONEY),
    ]


def region_rows(call: Call) -> list[list[Any]]:
    """Active grants per région of their dossier; « Non renseignée » when it has no territory."""
    region = "application__departement__region"
    grants = (
        Grant.objects.filter(call=call, status=Grant.Status.ACTIVE)
        .values(code=F(f"{region}__code"), name=F(f"{region}__name"))
        .annotate(laureates=Count("pk"), amount=Sum("amount"), bonus=Sum("bonus"))
        .order_by()
    )
    # French order (« Île-de-France » among the I, not after « Provence »), whatever the
    # database's collation; dossiers without a territory last.
    rows = list(grants)
    ordered = french_sorted([row for row in rows if row["name"]], key=lambda row: row["name"])
    ordered += [row for row in rows if not row["name"]]
    paid = {
        row["code"]: row["total"]
        for row in Tranche.objects.filter(grant__call=call, status=Tranche.Status.PAID)
        .values(code=F(f"grant__{region}__code"))
        .annotate(total=Sum("amount"))
        .order_by()
    }
    return [
        [
            row["code"] or "",
            row["name"] or _("Non renseignée"),
            row["laureates"],
            (row["amount"] or ZERO) + (row["bonus"] or ZERO),
            paid.get(row["code"]) or ZERO,
        ]
        for row in ordered
    ]


def year_columns() -> list[Column]:
    return [
        Column(_("Année"), NUMBER, width=8),
        Column(_("Tranches"), NUMBER, width=10),
        Column(_("Montant prévu"), MONEY),
        Column(_("Tranches versées"), NUMBER, width=10),
        Column(_("Versé"), MONEY),
        Column(_("Reste à verser"), MONEY),
    ]


def year_rows(call: Call) -> list[list[Any]]:
    """The tranches of the active grants, year by year of the programme."""
    paid = Q(status=Tranche.Status.PAID)
    rows = (
        Tranche.objects.filter(grant__call=call, grant__status=Grant.Status.ACTIVE)
        .exclude(status=Tranche.Status.CANCELLED)
        .values("year_index")
        .annotate(
            count=Count("pk"),
            planned=Sum("amount"),
            paid_count=Count("pk", filter=paid),
            paid=Sum("amount", filter=paid),
        )
        .order_by("year_index")
    )
    return [
        [
            row["year_index"],
            row["count"],
            row["planned"] or ZERO,
            row["paid_count"],
            row["paid"] or ZERO,
            (row["planned"] or ZERO) - (row["paid"] or ZERO),
        ]
        for row in rows
    ]


# --- CSV ----------------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """Prefix a quote to a text a spreadsheet would take for a formula."""
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


def _csv_text(value: Any) -> str:
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


def csv_stream(
    rows: Iterable[Sequence[Any]], header: Sequence[str], *, delimiter: str = ";"
) -> Iterator[str]:
    """The CSV text of `rows`, in chunks of about 64 KiB; the first chunk is the BOM and the header.

    The rows are read on the read replica when one is configured (config.db_routers): the
    generator runs after the view has returned, so the context is entered here, in its body.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise(str(label)) for label in header])
    yield "\ufeff" + _drain(buffer)
    with reading_from_replica():
        for row in rows:
            writer.writerow([_csv_text(value) for value in row])
            if buffer.tell() >= CSV_FLUSH_BYTES:
                yield _drain(buffer)
    rest = _drain(buffer)
    if rest:
        yield rest


# --- XLSX ---------------------------------------------------------------------------------------

Progress = Callable[[int, int], None]


def _cell(sheet: WriteOnlyWorksheet, value: Any, kind: str, *, bold: bool = False) -> WriteOnlyCell:
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


# --- the public list of laureates ---------------------------------------------------------------


@dataclass(frozen=True)
class LaureateRow:
    name: str
    departement: str
    amount: Decimal
    kind: str
    kind_label: str


def laureate_rows(call: Call) -> Iterator[LaureateRow]:
    """The active grants of a call by their lead structure, legal persons only."""
    grants = (
        Grant.objects.filter(call=call, status=Grant.Status.ACTIVE)
        .select_related("application__departement")
        .annotate(
            lead_name=_lead("name", "application"),
            lead_category=_lead("legal_category_id", "application"),
        )
        .exclude(lead_category__startswith=NATURAL_PERSON_CATEGORY_PREFIX)
        .exclude(lead_name__isnull=True)
        .order_by("application__departement__code", "lead_name", "pk")
    )
    for grant in grants.iterator(chunk_size=CHUNK_SIZE):
        application = grant.application
        departement = application.departement
        yield LaureateRow(
            name=getattr(grant, "lead_name", ""),
            departement=str(departement) if departement else "",
            amount=grant.amount + grant.bonus,
            kind=KIND_SHORT.get(application.kind, application.kind),
            kind_label=str(Application.Kind(application.kind).label),
        )


# --- audit and background jobs ------------------------------------------------------------------


@transaction.atomic
def export_record(*, actor: User | None, call: Call, action: str, data: dict[str, Any]) -> None:
    """Every export leaves an audit row: who took which data of which call, in which format."""
    audit_record(actor=actor, action=action, target=call, data=data)


def pdf_summary_request(*, call: Call, actor: User) -> Document:
    """Ask for the PDF summary: a document row rendered by the document task after commit."""
    with transaction.atomic():
        document = document_request(
            key=f"{PDF_KIND}:{call.pk}:{uuid.uuid4()}",
            kind=PDF_KIND,
            template_name=PDF_TEMPLATE,
            context=summary_context(call),
            filename=f"synthese-budgetaire-{call.slug}-{timezone.localdate().isoformat()}.pdf",
        )
        export_record(
            actor=actor,
            call=call,
            action=BUDGET_REPORT_ACTION,
            data={"format": "pdf", "document": document.pk},
        )
    return document
