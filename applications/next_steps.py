"""What is expected next, for the homes of each side: « Mon espace », the workspace, the steering page.

Reads only (selectors), each in a fixed number of queries whatever the number of dossiers.

The applicant's steps are listed per dossier; the staff's to-do is a list of groups (dossiers
submitted and not assigned, assigned and not scored, scored and not decided, corrections answered,
opinions received, ...), each scoped to what the
user may see and cut to its first rows, with the total.

Imports flow accounts ← fabriques ← applications ← grants: this module cannot see grants, agreements
and tranches. The grants app adds its own steps (agreement to accept, tranche to request, reports
due, payments) by registering providers here from its AppConfig.ready(); the homes call one
function and get every side's steps, and applications still imports nothing of grants.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, Value
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from accounts.roles import has_role
from applications.models import Application, Assignment, Opinion, StatusChange
from applications.selectors import (
    applications_editable_by,
    applications_visible_to,
    reviewable_condition,
)
from core.formatting import format_date

S = Application.Status

# How many rows a staff group shows; the total is given beside it.
GROUP_LIMIT = 10
UNDECIDED = (S.SUBMITTED, S.IN_REVIEW, S.CORRECTIONS)


@dataclass(frozen=True)
class NextStep:
    """One thing due on a dossier. `waiting` steps need nothing from the user yet: `detail` says
    what they wait for."""

    label: str
    detail: str
    url: str
    action: str
    due: date | None = None
    overdue: bool = False
    waiting: bool = False


@dataclass
class DossierSteps:
    application: Application
    steps: list[NextStep] = field(default_factory=list)


@dataclass(frozen=True)
class TodoItem:
    reference: str
    title: str
    detail: str
    url: str
    action: str
    overdue: bool = False


@dataclass(frozen=True)
class TodoGroup:
    key: str
    label: str | Promise
    items: list[TodoItem]
    total: int


ApplicantProvider = Callable[[User, Sequence[Application]], dict[int, list[NextStep]]]
StaffProvider = Callable[[User], list[TodoGroup]]

_applicant_providers: dict[str, ApplicantProvider] = {}
_staff_providers: dict[str, StaffProvider] = {}


def register_applicant_steps(name: str, provider: ApplicantProvider) -> None:
    """Add the steps of a higher layer (grants) to the applicant's home; keyed, so idempotent."""
    _applicant_providers[name] = provider


def register_staff_todo(name: str, provider: StaffProvider) -> None:
    _staff_providers[name] = provider


# --- the applicant -------------------------------------------------------------------------------


def _dossier_steps(user: User, applications: Sequence[Application]) -> dict[int, list[NextStep]]:
    """Drafts to submit and corrections asked, on the dossiers the user may change (a partner
    structure's member sees them in « Mes dossiers », the lead acts): two queries at most."""
    steps: dict[int, list[NextStep]] = {}
    open_ids = [
        application.pk for application in applications if application.status in (S.DRAFT, S.CORRECTIONS)
    ]
    if not open_ids:
        return steps
    editable = set(applications_editable_by(user).filter(pk__in=open_ids).values_list("pk", flat=True))
    applications = [application for application in applications if application.pk in editable]
    asked = [application.pk for application in applications if application.status == S.CORRECTIONS]
    today = timezone.localdate()
    notes: dict[int, str] = {}
    if asked:
        for application_id, note in (
            StatusChange.objects.filter(application_id__in=asked, to_status=S.CORRECTIONS)
            .order_by("application_id", "-at", "-pk")
            .values_list("application_id", "note")
        ):
            notes.setdefault(application_id, note)
    for application in applications:
        url = reverse("applications:dossier-detail", args=[application.reference])
        if application.status == S.DRAFT:
            closes = timezone.localtime(application.call.closes_at)
            steps.setdefault(application.pk, []).append(
                NextStep(
                    label=_("Dossier à compléter et à déposer"),
                    detail=_("Dépôt possible jusqu'au %(date)s.") % {"date": format_date(closes.date())},
                    url=url,
                    action=_("Compléter le dossier"),
                    due=closes.date(),
                )
            )
        elif application.status == S.CORRECTIONS:
            note = notes.get(application.pk, "")
            due = application.corrections_due_on
            detail = _(
                "L'instruction vous demande des compléments : modifiez le dossier puis déposez-le à nouveau."
            )
            if due is not None:
                detail += " " + _("À compléter avant le %(date)s.") % {"date": format_date(due)}
            if note:
                detail += " " + _("Points à reprendre : %(points)s") % {
                    "points": Truncator(" ".join(note.split())).chars(300)
                }
            steps.setdefault(application.pk, []).append(
                NextStep(
                    label=_("Compléments demandés"),
                    detail=detail,
                    url=url,
                    action=_("Répondre aux compléments"),
                    due=due,
                    overdue=due is not None and today >= due,
                )
            )
    return steps


def applicant_next_steps(user: User) -> list[DossierSteps]:
    """Per dossier of the user (those they may see), what is expected next, most urgent first.

    Queries: the dossiers (one, with their call), the corrections' notes (one), then each
    registered provider's own fixed number (grants: three). Never one per dossier.
    """
    applications = list(
        applications_visible_to(user)
        .exclude(status__in=(S.WITHDRAWN, S.REFUSED, S.CLOSED))
        .select_related("call")
        .order_by("-updated_at")
    )
    if not applications:
        return []
    found: dict[int, list[NextStep]] = _dossier_steps(user, applications)
    for provider in _applicant_providers.values():
        for application_id, steps in provider(user, applications).items():
            found.setdefault(application_id, []).extend(steps)
    result = [
        DossierSteps(application=application, steps=found[application.pk])
        for application in applications
        if found.get(application.pk)
    ]
    # Overdue first, then what the user can do now, then what waits; by date within each.
    for dossier in result:
        dossier.steps.sort(key=lambda step: (not step.overdue, step.waiting, step.due or date.max))
    result.sort(
        key=lambda dossier: (not any(step.overdue for step in dossier.steps), dossier.steps[0].waiting)
    )
    return result


# --- the staff -------------------------------------------------------------------------------------


def todo_groups(
    selects: Sequence[tuple[str, Sequence[Any]]], columns: str, *, count_apart: bool = False
) -> dict[int, tuple[int, list[Any]]]:
    """Several groups' first GROUP_LIMIT rows and totals in one query, by group index.

    Each select yields the same columns: `row_id` and `row_at` (the group's order: oldest first,
    then by id), then `columns`. Hand-written SQL (a UNION ALL of small ordered and limited
    selects, each with its count) because the same queries through the ORM cost about 1.5 ms
    each of building and compiling for well under a millisecond of SQL; it runs as is on SQLite
    and PostgreSQL. A group without rows is absent from the answer. Each row is `columns` with
    `row_at` made a datetime as Django would (aware, from SQLite's text too).

    The total is a window count over the group's rows, taken before the LIMIT: one scan gives
    the rows and the total. With `count_apart`, it is a count of its own (an uncorrelated
    subquery, run once) instead: the rows then stop at the LIMIT along the group's ordered
    partial index, and the count reads that index alone. That is for selects the index answers
    whole (the programme admin's, which no territory narrows: 2 565 dossiers read to show 10 at
    100 000 dossiers, 5.2 ms against 1.9); a territory's select is driven by its départements,
    and would then be scanned twice (docs/performance.md « The staff to-do »).
    """
    if not selects:
        return {}
    limit = int(GROUP_LIMIT)
    parts: list[str] = []
    params: list[Any] = []
    for index, (sql, group_params) in enumerate(selects):
        if count_apart:
            total = f"(SELECT COUNT(*) FROM ({sql}) AS todo_count_{index})"  # noqa: S608
            params.extend(group_params)  # the count's, before the rows' in the text
        else:
            total = "COUNT(*) OVER ()"
        parts.append(
            f"SELECT * FROM (SELECT {index} AS todo_group, "  # noqa: S608 (no value in the text)
            "ROW_NUMBER() OVER (ORDER BY row_at, row_id) AS todo_position, "
            f"{total} AS todo_total, {columns} FROM ({sql}) AS todo_rows_{index} "
            f"ORDER BY row_at, row_id LIMIT {limit}) AS todo_group_{index}"
        )
        params.extend(group_params)
    query = " UNION ALL ".join(parts) + " ORDER BY todo_group, todo_position"
    field = DateTimeField()
    converters = connection.ops.get_db_converters(Value(None, output_field=field))
    position = [name.strip() for name in columns.split(",")].index("row_at")
    found: dict[int, tuple[int, list[Any]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        for group_index, _position, total, *row in cursor.fetchall():
            for converter in converters:
                row[position] = converter(row[position], field, connection)
            found.setdefault(group_index, (int(total), []))[1].append(row)
    return found


# A reference or number that reverse() writes as is (no percent-encoding, not a dot segment).
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.~-]*")


def url_maker(name: str) -> Callable[[str], str]:
    """reverse(name, args=[value]) for the many rows of a group, reversed once: the URL around the
    value is the same for every row (one `<str:...>` argument), and a plain value is written as
    is; any other value goes through reverse() itself."""
    marker = "todo-value"
    head, tail = reverse(name, args=[marker]).split(marker)

    def make(value: str) -> str:
        if _PLAIN.fullmatch(value):
            return f"{head}{value}{tail}"
        return reverse(name, args=[value])

    return make


def local_day_maker() -> Callable[[datetime], date]:
    """timezone.localdate(value) for many rows: the current time zone read once."""
    zone = timezone.get_current_timezone()
    return lambda value: value.astimezone(zone).date()


def _dossier_selects(user: User) -> list[tuple[str, str, list[Any]]]:
    """The dossier groups as SQL, in the to-do's order: (key, select, parameters).

    Each is the ORM rule it replaced, word for word: the dossiers of `applications_reviewable_by`
    (through `reviewable_condition`), the conflicts of interest left aside, an instructor's share
    (their assignments, or the dossiers no one took) where the admin sees all.
    """
    quote = connection.ops.quote_name
    dossiers = quote(Application._meta.db_table)
    assignments = quote(Assignment._meta.db_table)
    opinions = quote(Opinion._meta.db_table)
    is_admin = has_role(user, Role.ADMIN)
    scope, scope_params = reviewable_condition(user, alias="a")
    undecided = ", ".join(["%s"] * len(UNDECIDED))
    dossier_columns = "a.id AS row_id, a.reference AS reference, a.title AS title"
    blank = "'' AS verdict, '' AS organisation_name"
    reviewer = "x.application_id = a.id AND x.conflict_of_interest = %s"

    # Where each dossier's review stands is kept on the dossier by the database (the assignment
    # and submission columns, migration 0015), read through the partial index of each group.
    to_assign = (
        f"SELECT {dossier_columns}, a.submitted_at AS row_at, {blank} FROM {dossiers} a "  # noqa: S608
        f"WHERE {scope} AND a.status = %s AND a.assignment_count = 0"
    )
    to_assign_params = [*scope_params, S.SUBMITTED.value]

    assigned = (
        "SELECT x.id AS row_id, a.reference AS reference, a.title AS title, x.assigned_at AS row_at, "  # noqa: S608
        f"{blank} FROM {assignments} x INNER JOIN {dossiers} a ON a.id = x.application_id "
        "WHERE x.instructor_id = %s AND x.conflict_of_interest = %s AND x.scores_submitted_at IS NULL "
        f"AND {scope} AND a.status IN ({undecided})"
    )
    assigned_params = [user.pk, False, *scope_params, *[status.value for status in UNDECIDED]]

    # Every instructor (conflicts aside) handed in their scores; an instructor sees those they scored.
    to_decide = (
        f"SELECT {dossier_columns}, a.last_scored_at AS row_at, {blank} FROM {dossiers} a "  # noqa: S608
        f"WHERE {scope} AND a.status = %s AND a.scorer_count > 0 AND a.unscored_count = 0"
    )
    to_decide_params = [*scope_params, S.IN_REVIEW.value]
    if not is_admin:
        to_decide += f" AND EXISTS (SELECT 1 FROM {assignments} x WHERE {reviewer} AND x.instructor_id = %s)"  # noqa: S608
        to_decide_params += [False, user.pk]

    # In review again after corrections: the dossier's last submission followed a request.
    corrections = (
        f"SELECT {dossier_columns}, a.last_submitted_at AS row_at, {blank} FROM {dossiers} a "  # noqa: S608
        f"WHERE {scope} AND a.status = %s AND a.last_submitted_from = %s"
    )
    corrections_params = [*scope_params, S.IN_REVIEW.value, S.CORRECTIONS.value]
    if not is_admin:
        corrections += (
            f" AND (EXISTS (SELECT 1 FROM {assignments} x WHERE {reviewer} AND x.instructor_id = %s) "  # noqa: S608
            "OR a.assignment_count = 0)"
        )
        corrections_params += [False, user.pk]

    # Opinions given on dossiers still undecided; an instructor sees those they asked for.
    opinions_given = (
        "SELECT o.id AS row_id, a.reference AS reference, a.title AS title, o.given_at AS row_at, "  # noqa: S608
        f"o.verdict AS verdict, o.organisation_name AS organisation_name FROM {opinions} o "
        f"INNER JOIN {dossiers} a ON a.id = o.application_id "
        f"WHERE o.given_at IS NOT NULL AND {scope} AND a.status IN ({undecided})"
    )
    opinions_params = [*scope_params, *[status.value for status in UNDECIDED]]
    if not is_admin:
        opinions_given += " AND o.requested_by_id = %s"
        opinions_params.append(user.pk)

    return [
        ("to_assign", to_assign, to_assign_params),
        ("assigned", assigned, assigned_params),
        ("to_decide", to_decide, to_decide_params),
        ("corrections", corrections, corrections_params),
        ("opinions", opinions_given, opinions_params),
    ]


DOSSIER_GROUP_LABELS = {
    "to_assign": gettext_lazy("Dossiers déposés à affecter"),
    "assigned": gettext_lazy("Dossiers qui vous sont affectés, à noter"),
    "to_decide": gettext_lazy("Notations remises, décision à prendre"),
    "corrections": gettext_lazy("Compléments reçus"),
    "opinions": gettext_lazy("Avis reçus"),
}


def _dossier_items(key: str, rows: list[Any]) -> list[TodoItem]:
    """A group's items from its rows (reference, title, row_at, verdict, service). The sentences
    are translated once per group rather than once per row: the same text, in a tenth of the time."""
    url = url_maker("applications:review-detail")
    day = local_day_maker()
    items = []
    if key == "to_assign":
        detail, undated, action = _("Déposé le %(date)s."), _("Déposé."), _("Affecter « %(title)s »")
        for reference, title, at, _verdict, _service in rows:
            items.append(
                TodoItem(
                    reference=reference,
                    title=title,
                    detail=detail % {"date": format_date(day(at))} if at else undated,
                    url=url(reference),
                    action=action % {"title": title},
                )
            )
        return items
    if key == "opinions":
        detail, action = (
            _("Avis « %(verdict)s » de %(service)s, rendu le %(date)s."),
            _("Lire l'avis sur « %(title)s »"),
        )
        # What get_verdict_display() shows, without building an opinion per row.
        verdicts = {value: str(label) for value, label in Opinion.Verdict.choices}
        for reference, title, at, verdict, service in rows:
            items.append(
                TodoItem(
                    reference=reference,
                    title=title,
                    detail=detail
                    % {
                        "verdict": verdicts.get(verdict, verdict),
                        "service": service,
                        "date": format_date(day(at)),
                    },
                    url=url(reference),
                    action=action % {"title": title},
                )
            )
        return items
    detail, action = {
        "assigned": (_("Affecté le %(date)s."), _("Noter « %(title)s »")),
        "to_decide": (_("Dernière notation remise le %(date)s."), _("Décider de « %(title)s »")),
        "corrections": (
            _("Compléments déposés le %(date)s."),
            _("Examiner les compléments de « %(title)s »"),
        ),
    }[key]
    for reference, title, at, _verdict, _service in rows:
        items.append(
            TodoItem(
                reference=reference,
                title=title,
                detail=detail % {"date": format_date(day(at))},
                url=url(reference),
                action=action % {"title": title},
            )
        )
    return items


def _dossier_groups(user: User) -> list[TodoGroup]:
    """Dossiers submitted and not assigned, assigned and not scored, scored and not decided,
    corrections answered, opinions received: one query for the five."""
    selects = _dossier_selects(user)
    found = todo_groups(
        [(sql, params) for _key, sql, params in selects],
        "reference, title, row_at, verdict, organisation_name",
        # The admin's groups are each answered by an ordered partial index; a territory's are not.
        count_apart=has_role(user, Role.ADMIN),
    )
    groups = []
    for index, (key, _sql, _params) in enumerate(selects):
        total, rows = found.get(index, (0, []))
        groups.append(
            TodoGroup(key, DOSSIER_GROUP_LABELS[key], _dossier_items(key, rows) if rows else [], total)
        )
    return groups


def staff_todo(user: User) -> list[TodoGroup]:
    """What waits for an instructor or a programme admin, every group scoped to what they may see.

    One query for the dossiers' groups and one per provider (grants: one), rows and totals
    together, whatever the number of dossiers; empty groups are left out.
    """
    if not (has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)):
        return []
    groups = _dossier_groups(user)
    for provider in _staff_providers.values():
        groups.extend(provider(user))
    return [group for group in groups if group.total]
