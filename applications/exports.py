"""The instructors' exports of their dossier list (CSV, XLSX): its columns, its rows, its files.

What is exported
    The dossiers the instructor's list shows: the same filters (the list's form, read again from
    its query string), the same tab, and the same scope (`workspace_filtered`, the user's territory,
    or every dossier for a programme admin), read at the time of the export. One row per dossier.

A fixed number of queries, memory flat
    A dossier's row gathers its lead and partners, three years of budget, its places' zones, the
    mean of each criterion, its instructors and its labels: the call's criteria are read first
    (they are columns), then one query per kind of data (seven, whatever the number of rows), each
    walked with `iterator()` (a server-side cursor on
    PostgreSQL) in the order of the dossiers' ids and merged with the dossiers' walk, as a merge
    join would: no dossier list, no prefetch cache, is ever held whole. The rows come in the order
    of the dossiers' ids (their creation); the spreadsheet sorts them as the reader likes.

Cells
    Those of every export of the portal (core.spreadsheets): plain amounts (150000.00) and ISO
    dates in the CSV, « ; » separated, with a BOM; euros and French dates in the XLSX. The CSV is
    streamed; the XLSX is written by openpyxl's write-only mode to a temporary file.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.db.models import Avg, Exists, OuterRef, QuerySet, Subquery, Value
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from accounts.models import Role, User
from accounts.roles import has_role
from applications.forms_workspace import workspace_filter_choices
from applications.models import (
    Application,
    ApplicationLabel,
    Assignment,
    BudgetYear,
    Criterion,
    Member,
    Score,
    StatusChange,
)
from applications.selectors import workspace_filtered
from config.db_routers import reading_from_replica
from core.spreadsheets import DATE, MONEY, NUMBER, TEXT, csv_chunks, xlsx_cell
from fabriques.models import Zone

CHUNK_SIZE = 2000
BUDGET_YEARS = 3
# The last decision of a dossier: its award, refusal or closing.
DECIDED = (Application.Status.AWARDED, Application.Status.REFUSED, Application.Status.CLOSED)
TENTH = Decimal("0.1")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = TEXT
    width: int = 16


def list_filters(user: User, query: str) -> dict[str, Any]:
    """The list's filters read from its query string by the list's own form, with the choices the
    list offers this user (départements, labels, instructors): invalid ones left out, as the list
    leaves them out, so the export holds exactly the list's dossiers."""
    return workspace_filter_choices(user).bind(QueryDict(query)).filters()


def exported_dossiers(user: User, filters: dict[str, Any], statuses: Sequence[str]) -> QuerySet[Application]:
    """The dossiers the list shows to `user` with these filters (`list_filters`) in this tab: never
    one outside it."""
    return workspace_filtered(user, filters).filter(status__in=list(statuses))


class _Related:
    """The rows of one related table, in the order of the dossiers' ids, handed out per dossier.

    Each tuple starts with its dossier's id. Rows of a dossier the main walk does not meet (one
    that left the list between the two queries) are skipped, never mistaken for the next's.
    """

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._next: tuple[Any, ...] | None = next(self._rows, None)

    def take(self, application_id: int) -> list[tuple[Any, ...]]:
        while self._next is not None and self._next[0] < application_id:
            self._next = next(self._rows, None)
        taken = []
        while self._next is not None and self._next[0] == application_id:
            taken.append(self._next)
            self._next = next(self._rows, None)
        return taken


def _walk(queryset: QuerySet[Any]) -> Iterator[tuple[Any, ...]]:
    return iter(queryset.iterator(chunk_size=CHUNK_SIZE))


def _local_date(moment: datetime | None) -> Any:
    return timezone.localtime(moment).date() if moment else None


def _person(first_name: str, last_name: str, email: str) -> str:
    return f"{first_name} {last_name}".strip() or email


class DossierTable:
    """The columns and rows of an export of `dossiers` (a queryset of the list)."""

    def __init__(self, dossiers: QuerySet[Application], *, viewer: User | None = None) -> None:
        """`viewer`: the instructor who exports, who sees each criterion's mean only on the dossiers
        where they handed in their own scoring without a conflict, as the instruction page shows the
        others' scores (None, or an admin: on every dossier)."""
        self.dossiers = dossiers.order_by()
        self.viewer = None if viewer is None or has_role(viewer, Role.ADMIN) else viewer
        # The criteria of the calls exported, read now: they are columns (one query).
        self.criteria = list(
            Criterion.objects.filter(call__in=self.dossiers.values("call_id"))
            .select_related("call")
            .order_by("call__opens_at", "call_id", "position", "pk")
        )
        several_calls = len({criterion.call_id for criterion in self.criteria}) > 1
        self.columns = [
            Column(_("Référence"), width=18),
            Column(_("Intitulé du projet"), width=40),
            Column(_("Type de fabrique"), width=10),
            Column(_("Appel"), width=30),
            Column(_("Vague"), width=16),
            Column(_("Structure chef de file"), width=36),
            Column(_("SIRET du chef de file"), width=16),
            Column(_("Partenaires (SIRET)"), width=48),
            Column(_("Région"), width=24),
            Column(_("Code département"), width=10),
            Column(_("Département"), width=20),
            Column(_("Zones"), width=24),
            *(
                Column(_("Montant demandé année %(year)s") % {"year": year}, MONEY, width=16)
                for year in range(1, BUDGET_YEARS + 1)
            ),
            *(
                Column(
                    (
                        _("%(criterion)s — %(call)s (sur %(max)s)")
                        if several_calls
                        else _("%(criterion)s (sur %(max)s)")
                    )
                    % {
                        "criterion": criterion.label,
                        "call": criterion.call.title,
                        "max": criterion.scale_max,
                    },
                    NUMBER,
                    width=14,
                )
                for criterion in self.criteria
            ),
            Column(_("Note sur 100"), NUMBER, width=10),
            Column(_("Instructeurs"), width=36),
            Column(_("Étiquettes"), width=24),
            Column(_("État"), width=16),
            Column(_("Déposé le"), DATE, width=12),
            Column(_("Décidé le"), DATE, width=12),
        ]

    @property
    def header(self) -> list[str]:
        return [column.label for column in self.columns]

    def count(self) -> int:
        return self.dossiers.count()

    def rows(self) -> Iterator[list[Any]]:
        """One row per dossier, in seven queries walked side by side (see the module)."""
        ids = self.dossiers.values("pk")
        decided_at = (
            StatusChange.objects.filter(application=OuterRef("pk"), to_status__in=DECIDED)
            .order_by("-at", "-pk")
            .values("at")[:1]
        )
        scored_by_viewer: Any = Value(True)
        if self.viewer is not None:
            scored_by_viewer = Exists(
                Assignment.objects.filter(
                    application=OuterRef("pk"),
                    instructor=self.viewer,
                    scores_submitted_at__isnull=False,
                    conflict_of_interest=False,
                )
            )
        main = _walk(
            self.dossiers.annotate(decided_at=Subquery(decided_at), scores_shown=scored_by_viewer)
            .order_by("pk")
            .values_list(
                "pk",
                "reference",
                "title",
                "kind",
                "call__title",
                "wave__name",
                "departement__region__name",
                "departement_id",
                "departement__name",
                "score",
                "status",
                "submitted_at",
                "decided_at",
                "scores_shown",
            )
        )
        members = _Related(
            _walk(
                Member.objects.filter(application__in=ids)
                .order_by("application_id", "-is_lead", "organisation__name", "pk")
                .values_list("application_id", "is_lead", "organisation__name", "organisation__siret")
            )
        )
        budget = _Related(
            _walk(
                BudgetYear.objects.filter(application__in=ids, year_index__lte=BUDGET_YEARS)
                .order_by("application_id", "year_index")
                .values_list("application_id", "year_index", "requested")
            )
        )
        zones = _Related(
            _walk(
                Application.places.through.objects.filter(application__in=ids)
                .exclude(tierslieu__zone="")
                .order_by("application_id", "tierslieu__zone")
                .values_list("application_id", "tierslieu__zone")
                .distinct()
            )
        )
        scores = _Related(
            _walk(
                Score.objects.filter(
                    assignment__application__in=ids, assignment__scores_submitted_at__isnull=False
                )
                .values("assignment__application_id", "criterion_id")
                .annotate(mean=Avg("value"))
                .order_by("assignment__application_id", "criterion_id")
                .values_list("assignment__application_id", "criterion_id", "mean")
            )
        )
        instructors = _Related(
            _walk(
                Assignment.objects.filter(application__in=ids)
                .order_by("application_id", "instructor__last_name", "instructor__first_name", "pk")
                .values_list(
                    "application_id",
                    "instructor__first_name",
                    "instructor__last_name",
                    "instructor__email",
                    "conflict_of_interest",
                )
            )
        )
        labels = _Related(
            _walk(
                ApplicationLabel.objects.filter(application__in=ids)
                .order_by("application_id", "label__name", "pk")
                .values_list("application_id", "label__name")
            )
        )
        kinds = dict(Application.Kind.choices)
        states = {value: str(label) for value, label in Application.Status.choices}
        zone_labels = {value: str(label) for value, label in Zone.choices}
        conflict = _("conflit d'intérêts déclaré")
        criterion_ids = [criterion.pk for criterion in self.criteria]
        for (
            pk,
            reference,
            title,
            kind,
            call_title,
            wave_name,
            region_name,
            departement_code,
            departement_name,
            score,
            status,
            submitted_at,
            decided,
            scores_shown,
        ) in main:
            lead_name, lead_siret, partners = "", "", []
            for _id, is_lead, name, siret in members.take(pk):
                if is_lead:
                    lead_name, lead_siret = name, siret
                else:
                    partners.append(f"{name} ({siret})")
            requested: dict[int, Decimal] = {year: amount for _id, year, amount in budget.take(pk)}
            means: dict[int, Any] = {
                criterion: Decimal(str(mean)).quantize(TENTH) for _id, criterion, mean in scores.take(pk)
            }
            if not scores_shown:
                means = {}
            people = [
                _person(first, last, email) + (f" ({conflict})" if conflicted else "")
                for _id, first, last, email, conflicted in instructors.take(pk)
            ]
            yield [
                reference,
                title,
                str(kinds.get(kind, kind)),
                call_title,
                wave_name or "",
                lead_name,
                lead_siret,
                " ; ".join(partners),
                region_name or "",
                departement_code or "",
                departement_name or "",
                " ; ".join(zone_labels.get(zone, zone) for _id, zone in zones.take(pk)),
                *(requested.get(year) for year in range(1, BUDGET_YEARS + 1)),
                *(means.get(criterion) for criterion in criterion_ids),
                score,
                " ; ".join(people),
                " ; ".join(name for _id, name in labels.take(pk)),
                states.get(status, status),
                _local_date(submitted_at),
                _local_date(decided),
            ]


def csv_stream(table: DossierTable) -> Iterator[str]:
    """The CSV text of the table, in chunks, its rows read on the replica when there is one."""
    return csv_chunks(table.rows(), table.header, reading=reading_from_replica)


def xlsx_write(
    table: DossierTable,
    path_or_file: str | Path | IO[bytes],
    *,
    total: int | None = None,
    progress: Progress | None = None,
) -> int:
    """The workbook of the table (one sheet « Dossiers »); `progress(done, total)` every few hundred
    rows. Returns the number of rows written."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Dossiers"))
    for index, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.append([xlsx_cell(sheet, column.label, TEXT, bold=True) for column in table.columns])
    expected = total or 0
    done = 0
    for row in table.rows():
        sheet.append(
            [xlsx_cell(sheet, value, column.kind) for column, value in zip(table.columns, row, strict=True)]
        )
        done += 1
        if progress and done % 200 == 0:
            progress(done, max(expected, done))
    if progress:
        progress(done, done)
    workbook.save(path_or_file)
    return done


def export_file_name(file_format: str, *, now: datetime | None = None) -> str:
    """The name a downloaded export is given: dossiers-2026-03-14.csv."""
    return f"dossiers-{timezone.localdate(now).isoformat()}.{file_format}"
