"""The reads of the budget reports of a call: their columns, rows and aggregates (the writers of
CSV, XLSX and PDF files are in grants.writers; the open data's rows in grants.open_data).

Every row generator runs one query (joins, plus correlated subqueries for the lead structure
and the amounts paid) and walks it with `iterator(chunk_size=2000)`: a call of any size is
never loaded whole, and the number of queries does not grow with the number of grants. The
long reports (grants, tranches) read tuples (`values_list`), not model instances, with the
local dates computed by the database and the labels translated once per export: building
five model instances and translating two labels per row cost ten times the database's work.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

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
from django.utils.translation import gettext as _

from applications.models import Application, Call, Member
from core.formatting import french_sorted
from core.spreadsheets import DATE, MONEY, NUMBER, TEXT
from grants.models import Agreement, Grant, Tranche

CHUNK_SIZE = 2000
ZERO = Decimal("0")
MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)

# INSEE legal categories of level I "1" are natural persons (entrepreneurs individuels): their
# name is a person's name and never goes into a public output.
NATURAL_PERSON_CATEGORY_PREFIX = "1"

KIND_SHORT = {Application.Kind.FT.value: "FT", Application.Kind.FNT.value: "FNT"}


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = TEXT
    width: int = 16


def labels(columns: Sequence[Column]) -> list[str]:
    return [column.label for column in columns]


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


# --- the public list of laureates ---------------------------------------------------------------


@dataclass(frozen=True)
class LaureateRow:
    name: str
    departement: str
    amount: Decimal
    kind: str
    kind_label: str


def laureate_rows(call: Call) -> list[LaureateRow]:
    """The active grants of a call by their lead structure, legal persons only.

    One plain query of the columns shown (no model instances, no server-side cursor: the rows are
    bounded by the call's laureates), the public page's whole work (issue 13).
    """
    grants = (
        Grant.objects.filter(call=call, status=Grant.Status.ACTIVE)
        .annotate(
            lead_name=_lead("name", "application"),
            lead_category=_lead("legal_category_id", "application"),
        )
        .exclude(lead_category__startswith=NATURAL_PERSON_CATEGORY_PREFIX)
        .exclude(lead_name__isnull=True)
        .order_by("application__departement__code", "lead_name", "pk")
        .values_list(
            "lead_name",
            "application__departement__code",
            "application__departement__name",
            "amount",
            "bonus",
            "application__kind",
        )
    )
    kind_labels = {value: str(label) for value, label in Application.Kind.choices}
    return [
        LaureateRow(
            name=name,
            # str(Departement), as the page always wrote it.
            departement=f"{code} – {departement_name}" if code is not None else "",
            amount=amount + bonus,
            kind=KIND_SHORT.get(kind, kind),
            kind_label=kind_labels[kind],
        )
        for name, code, departement_name, amount, bonus, kind in grants
    ]
