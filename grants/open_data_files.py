"""The open-data files of a call, built whole in memory and checked against their schemas.

Five files per call, each with its vendored schema (grants/data/, sources in NOTICE):

- `subventions.csv` and `subventions.json`: the SCDL « subventions » rows of grants.open_data
  (same rows, same cells), whose `dispositifAide` is the call's stable identifier;
- `versements.csv` and `versements.json`: the payments made (one row per tranche paid), in the
  portal's own Table Schema `versements-1.0.0.schema.json`;
- `dispositif-aide.json`: the call as a « dispositif d'aide » (schema-dispositif-aide v0.2.0 of
  etalab), one row.

Only agreements in force or completed (signed, under way, settled) are published: neither an
agreement awaiting signature nor a terminated or cancelled one. Legal persons only: a structure
whose INSEE legal category is a natural person's (entrepreneur individuel) is left out of every
file, as in the SCDL rows; no user field is read, so no person's name or e-mail address.

A JSON file is an object: its metadata (title, producer, licence, schema, date) and its rows in
`data`, objects keyed by the schema's column names, every cell as the text the CSV holds (amounts
as decimal strings with a point, dates ISO 8601), an empty cell as null. The CSV files cannot
carry metadata without breaking their schema: their licence travels in the HTTP `Link` header and
on the public page that lists them.

`open_data_build` returns the bytes and the validator's problems; publishing (or refusing) is
grants.services.open_data's business. The rows of a call fit in memory (a few thousand at most).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.urls import NoReverseMatch
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import Call, Member
from core.formatting import format_date, format_money
from core.links import absolute_url
from core.spreadsheets import csv_chunks
from grants.models import OpenDataFile, Tranche
from grants.open_data import (
    MONEY_PLACES,
    OPEN_DATA_COLUMNS,
    PUBLISHED_AGREEMENTS,
    SCHEMA_PATH,
    OpenDataError,
    open_data_table,
    truncate_on_word,
)
from grants.open_data_validation import Problem, csv_problems, json_problems, load_schema
from grants.selectors.exports import is_natural_person

DATA = Path(__file__).resolve().parent / "data"
PAYMENTS_SCHEMA_PATH = DATA / "versements-1.0.0.schema.json"
SCHEME_SCHEMA_PATH = DATA / "dispositif-aide-0.2.0.schema.json"

LICENCE_NAME = "Licence Ouverte / Open Licence version 2.0"
LICENCE_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
LICENCE_ID = "etalab-2.0"

# The scheme's public schema says where each cell's words come from.
SCHEME_TYPES = "financement"
SCHEME_TARGETS = "associations|professionnels|secteur public"
SCHEME_AREA = "PAYS-99100"  # France, in the COG's notation the schema asks for
DESCRIPTION_MAX_LENGTH = 5000


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Build:
    """A built file: its bytes, its rows, and what its schema finds wrong with it ([] when valid)."""

    kind: str
    content: bytes
    rows: int
    problems: list[Problem]


def schema_path(kind: str) -> Path:
    if kind in (OpenDataFile.Kind.SUBSIDIES_CSV, OpenDataFile.Kind.SUBSIDIES_JSON):
        return SCHEMA_PATH
    if kind in (OpenDataFile.Kind.PAYMENTS_CSV, OpenDataFile.Kind.PAYMENTS_JSON):
        return PAYMENTS_SCHEMA_PATH
    return SCHEME_SCHEMA_PATH


def content_type(kind: str) -> str:
    return "text/csv; charset=utf-8" if kind.endswith(".csv") else "application/json"


# --- the rows -----------------------------------------------------------------------------------


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: Any) -> str | None:
    """A cell as the CSV writes it (grants.open_data's rows hold dates and Decimals), None if empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def subsidies_table(call: Call) -> Table:
    """The SCDL rows (OpenDataError when the grantor or a required cell is missing)."""
    return Table(OPEN_DATA_COLUMNS, open_data_table(call))


def _payments(call: Call) -> QuerySet[Tranche]:
    return (
        Tranche.objects.filter(
            grant__call=call,
            grant__agreement__status__in=PUBLISHED_AGREEMENTS,
            status=Tranche.Status.PAID,
            paid_on__isnull=False,
        )
        .select_related("grant__agreement")
        .order_by("paid_on", "grant__agreement__number", "year_index")
    )


def payments_table(call: Call) -> Table:
    """One row per tranche paid under an agreement in force or completed, to the lead structure."""
    header = tuple(field["name"] for field in load_schema(PAYMENTS_SCHEMA_PATH)["fields"])
    tranches = list(_payments(call))
    leads = {
        member.application_id: member.organisation
        for member in Member.objects.filter(
            application__grants__in={tranche.grant_id for tranche in tranches}, is_lead=True
        ).select_related("organisation")
    }
    applications = {tranche.grant_id: tranche.grant.application_id for tranche in tranches}
    rows = []
    for tranche in tranches:
        lead = leads.get(applications[tranche.grant_id])
        if lead is None or is_natural_person(lead):
            continue
        rows.append(
            [
                str(call.open_data_id),
                tranche.grant.agreement.number,
                call.grantor_siret,
                lead.name,
                lead.siret,
                tranche.year_index,
                tranche.paid_on,
                tranche.amount.quantize(MONEY_PLACES),
            ]
        )
    return Table(header, rows)


def _call_url(call: Call) -> str | None:
    try:
        return absolute_url("grants:public-summary", slug=call.slug)
    except NoReverseMatch:  # the public summary's URL not wired: the cell stays empty
        return None


def scheme_table(call: Call, *, now: datetime) -> Table:
    """The call as a « dispositif d'aide »: one row, from the call's own fields."""
    header = tuple(field["name"] for field in load_schema(SCHEME_SCHEMA_PATH)["fields"])
    figures = {
        "min": format_money(call.min_award),
        "max": format_money(call.max_award),
        "per_year": format_money(call.max_per_year),
        "years": call.duration_years,
        "opens": format_date(call.opens_at),
        "closes": format_date(call.closes_at),
    }
    description = call.description.strip() or _(
        "Appel à manifestation d'intérêt « %(title)s » : une subvention de fonctionnement de "
        "%(min)s à %(max)s sur %(years)s ans (au plus %(per_year)s par an) aux tiers-lieux retenus."
    ) % {"title": call.title, **figures}
    eligibility = "\n".join(
        [
            "• " + _("Porter un tiers-lieu : association, collectivité, entreprise ou structure publique ;"),
            "• " + _("Déposer son dossier sur le portail entre le %(opens)s et le %(closes)s ;") % figures,
            "• " + _("Subvention de %(min)s à %(max)s, au plus %(per_year)s par an.") % figures,
        ]
    )
    porter: dict[str, Any] = {"nom": call.grantor_name, "roles": ["financeur", "instructeur"]}
    if call.grantor_siret:
        porter["siren"] = call.grantor_siret[:9]
    values = {
        "id": str(call.open_data_id),
        "titre": call.title,
        "promesse": None,
        "description": truncate_on_word(description, DESCRIPTION_MAX_LENGTH),
        "eligibilite": eligibility,
        "types_aides": SCHEME_TYPES,
        "porteurs": json.dumps([porter], ensure_ascii=False),
        "programmes_parents": None,
        "url_source": _call_url(call),
        "cibles": SCHEME_TARGETS,
        "eligibilite_geographique": SCHEME_AREA,
        "eligibilite_geographique_exclusions": None,
        "date_ouverture": _utc(call.opens_at),
        "date_cloture": _utc(call.closes_at),
        "date_mise_a_jour": _utc(now),
    }
    return Table(header, [[values[name] for name in header]])


# --- the files ----------------------------------------------------------------------------------


def _csv_bytes(table: Table) -> bytes:
    return "".join(csv_chunks(table.rows, table.header, delimiter=",")).encode("utf-8")


def _title(kind: str, call: Call) -> str:
    return f"{OpenDataFile.Kind(kind).label} — {call.title}"


def _schema_url(schema: dict[str, Any]) -> str:
    """The published schema's address; the portal's own schema is served by the portal."""
    if schema.get("path"):
        return str(schema["path"])
    try:
        return absolute_url("grants:open-data-payments-schema")
    except NoReverseMatch:
        return ""


def _json_bytes(table: Table, *, kind: str, call: Call, now: datetime) -> bytes:
    schema = load_schema(schema_path(kind))
    document = {
        "titre": _title(kind, call),
        "producteur": call.grantor_name,
        "dispositifAide": str(call.open_data_id),
        "licence": {"nom": LICENCE_NAME, "identifiant": LICENCE_ID, "url": LICENCE_URL},
        "schema": {"nom": schema["name"], "version": schema["version"], "url": _schema_url(schema)},
        "date": _utc(now),
        "data": [
            {name: _text(value) for name, value in zip(table.header, row, strict=True)} for row in table.rows
        ],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


TABLES: dict[str, Callable[[Call, datetime], Table]] = {
    OpenDataFile.Kind.SUBSIDIES_CSV: lambda call, now: subsidies_table(call),
    OpenDataFile.Kind.SUBSIDIES_JSON: lambda call, now: subsidies_table(call),
    OpenDataFile.Kind.PAYMENTS_CSV: lambda call, now: payments_table(call),
    OpenDataFile.Kind.PAYMENTS_JSON: lambda call, now: payments_table(call),
    OpenDataFile.Kind.SCHEME_JSON: lambda call, now: scheme_table(call, now=now),
}


def open_data_build(call: Call, kind: str, *, now: datetime | None = None) -> Build:
    """The file `kind` of `call`, and its schema's verdict on it.

    An OpenDataError (the SCDL rows refused before any byte: grantor's SIRET missing, a required
    cell empty) comes back as a build with no content and that refusal as its one problem.
    """
    now = now or timezone.now()
    try:
        table = TABLES[kind](call, now)
    except OpenDataError as error:
        return Build(kind=kind, content=b"", rows=0, problems=[(None, None, "open-data-error", str(error))])
    descriptor = load_schema(schema_path(kind))
    if kind.endswith(".csv"):
        content = _csv_bytes(table)
        problems = csv_problems(content, descriptor)
    else:
        content = _json_bytes(table, kind=kind, call=call, now=now)
        problems = json_problems(content, descriptor)
    return Build(kind=kind, content=content, rows=len(table.rows), problems=problems)
