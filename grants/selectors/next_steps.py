"""The grants' share of « what is expected next » (applications.next_steps), registered at start-up.

The applicant's side: the agreement to accept, the next tranche to request (its amount, and what
it still waits for, worded by the rule the request itself applies), the yearly reports due, the
payments on their way with their 60-day deadline. The staff's side: agreements to activate,
payment requests to validate, payments to record, overdue payments, reports to examine.

Fixed number of queries: three for the applicant whatever the number of dossiers (grants with
their agreement, tranches, reports), one for all the staff's groups (hand-written SQL, see
applications.next_steps.todo_groups for why).
"""

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from accounts.roles import has_role
from applications.models import Application, Member
from applications.next_steps import (
    NextStep,
    TodoGroup,
    TodoItem,
    local_day_maker,
    todo_groups,
    url_maker,
)
from applications.selectors import reviewable_condition
from core.formatting import format_date, format_money
from grants.models import Agreement, Grant, Report, ReportKind, Tranche
from grants.services.payments import OPEN_AGREEMENT, REQUESTED_OR_LATER, tranche_request_refusals
from grants.services.reminders import year_end

T = Tranche.Status
IN_PAYMENT = (T.REQUESTED, T.VALIDATED)


def _kinds(kinds: Sequence[str]) -> str:
    labels = [str(ReportKind(kind).label).lower() for kind in ReportKind.values if kind in kinds]
    return _(" et ").join(labels)


# --- the applicant -------------------------------------------------------------------------------


def _agreement_step(agreement: Agreement) -> NextStep | None:
    url = reverse("grants:agreement-detail", args=[agreement.number])
    if agreement.status == Agreement.Status.AWAITING_SIGNATURE:
        return NextStep(
            label=_("Convention à accepter"),
            detail=_(
                "La convention n° %(number)s attend la signature de la structure cheffe de file : son "
                "représentant légal l'accepte sur le portail, ou dépose un exemplaire signé."
            )
            % {"number": agreement.number},
            url=url,
            action=_("Lire et accepter la convention"),
        )
    return None


def _tranche_step(
    grant: Grant, agreement: Agreement, tranches: list[Tranche], accepted: set[tuple[int, str]]
) -> NextStep | None:
    """The next tranche to request: the first one scheduled, with what it still waits for."""
    if agreement.status not in (Agreement.Status.AWAITING_SIGNATURE, *OPEN_AGREEMENT):
        return None
    scheduled = [tranche for tranche in tranches if tranche.status == T.SCHEDULED]
    if not scheduled:
        return None
    tranche = scheduled[0]
    if any(
        other.year_index < tranche.year_index and other.status not in REQUESTED_OR_LATER for other in tranches
    ):
        return None
    refusals = tranche_request_refusals(tranche, agreement, tranches=tranches, accepted_reports=accepted)
    label = _("Tranche de l'année %(year)d à demander : %(amount)s") % {
        "year": tranche.year_index,
        "amount": format_money(tranche.amount),
    }
    url = reverse("grants:tranche-grant", args=[grant.application.reference])
    if refusals:
        return NextStep(
            label=label,
            # The « En attente » badge heads the reasons, worded by the request's own rule.
            detail=" ".join(refusals),
            url=url,
            action=_("Voir la subvention"),
            due=tranche.due_date,
            waiting=True,
        )
    return NextStep(
        label=label,
        detail=_("Vous pouvez la demander dès maintenant, avec l'IBAN du compte à créditer."),
        url=url,
        action=_("Demander le versement"),
        due=tranche.due_date,
    )


def _report_steps(
    grant: Grant, agreement: Agreement, tranches: list[Tranche], live: set[tuple[int, str]], today: date
) -> list[NextStep]:
    """For each paid year, its reports not filed yet (or sent back), due from the year's end:
    the rule of the reminders (grants.services.reminders.missing_reports)."""
    steps = []
    url = reverse("grants:tranche-grant", args=[grant.application.reference])
    for tranche in tranches:
        if tranche.status != T.PAID:
            continue
        missing = [kind for kind in ReportKind.values if (tranche.year_index, kind) not in live]
        end = year_end(tranche, agreement)
        if not missing or end is None:
            continue
        overdue = today >= end
        steps.append(
            NextStep(
                label=_("Rapports de l'année %(year)d à déposer") % {"year": tranche.year_index},
                detail=(
                    _("%(kinds)s attendus depuis le %(date)s.")
                    if overdue
                    else _("%(kinds)s attendus le %(date)s.")
                )
                % {"kinds": _kinds(missing).capitalize(), "date": format_date(end)},
                url=url,
                action=_("Déposer les rapports"),
                due=end,
                overdue=overdue,
            )
        )
    return steps


def _payment_steps(grant: Grant, tranches: list[Tranche], today: date) -> list[NextStep]:
    steps = []
    url = reverse("grants:tranche-grant", args=[grant.application.reference])
    for tranche in tranches:
        if tranche.status not in IN_PAYMENT or tranche.pay_by is None:
            continue
        steps.append(
            NextStep(
                label=_("Versement en cours : tranche de l'année %(year)d, %(amount)s")
                % {"year": tranche.year_index, "amount": format_money(tranche.amount)},
                detail=_(
                    "Demandé le %(requested)s ; l'administration le verse au plus tard le %(date)s "
                    "(60 jours après la demande)."
                )
                % {
                    "requested": format_date(timezone.localdate(tranche.requested_at)),
                    "date": format_date(tranche.pay_by),
                },
                url=url,
                action=_("Suivre le versement"),
                due=tranche.pay_by,
                overdue=tranche.pay_by < today,
                waiting=True,
            )
        )
    return steps


def applicant_grant_steps(user: User, applications: Sequence[Application]) -> dict[int, list[NextStep]]:
    """The grant steps of the awarded dossiers among `applications` whose lead structure the user
    acts for (the beneficiary: grants.services.payments.is_beneficiary): four queries at most."""
    awarded = {application.pk: application for application in applications if application.status == "awarded"}
    if not awarded:
        return {}
    lead_of = set(
        Member.objects.filter(
            application_id__in=awarded, is_lead=True, organisation__memberships__user=user
        ).values_list("application_id", flat=True)
    )
    awarded = {pk: application for pk, application in awarded.items() if pk in lead_of}
    if not awarded:
        return {}
    grants = list(
        Grant.objects.filter(application_id__in=awarded, status=Grant.Status.ACTIVE)
        .select_related("agreement", "call")
        .prefetch_related(Prefetch("tranches", queryset=Tranche.objects.order_by("year_index")))
    )
    reports = Report.objects.filter(grant__in=grants).exclude(status=Report.Status.REJECTED)
    live: dict[int, set[tuple[int, str]]] = {}
    accepted: dict[int, set[tuple[int, str]]] = {}
    for grant_id, year, kind, status in reports.values_list("grant_id", "year_index", "kind", "status"):
        live.setdefault(grant_id, set()).add((year, kind))
        if status == Report.Status.ACCEPTED:
            accepted.setdefault(grant_id, set()).add((year, kind))
    today = timezone.localdate()
    steps: dict[int, list[NextStep]] = {}
    for grant in grants:
        grant.application = awarded[grant.application_id]
        agreement: Agreement | None = getattr(grant, "agreement", None)
        if agreement is None:
            continue
        tranches = list(grant.tranches.all())
        found = [
            step
            for step in (
                _agreement_step(agreement),
                _tranche_step(grant, agreement, tranches, accepted.get(grant.pk, set())),
            )
            if step is not None
        ]
        found += _report_steps(grant, agreement, tranches, live.get(grant.pk, set()), today)
        found += _payment_steps(grant, tranches, today)
        if found:
            steps[grant.application_id] = found
    return steps


# --- the staff -------------------------------------------------------------------------------------


def _late_since(today: date) -> datetime:
    """Requested before this instant, a tranche is past its 60-day deadline today (Tranche.pay_by)."""
    first_day_on_time = today - timedelta(days=Tranche.PAYMENT_DELAY_DAYS)
    return timezone.make_aware(datetime.combine(first_day_on_time, time.min))


def _grant_selects(user: User, is_admin: bool) -> list[tuple[str, str, list[Any]]]:
    """The grants' groups as SQL, in the to-do's order: (key, select, parameters); hand-written
    for the reason `todo_groups` gives (the ORM's building and compiling cost more than the SQL).

    Each is the ORM rule it replaced: the active grants of the dossiers of
    `applications_reviewable_by` (through `reviewable_condition`); agreements to activate and
    payments to record for the admins only. Columns: row_id, row_at (the group's order), then
    the dossier's reference and title, a label (agreement number, tranche state, report kind),
    a year and an amount.
    """
    quote = connection.ops.quote_name
    dossiers = quote(Application._meta.db_table)
    grants = quote(Grant._meta.db_table)
    agreements = quote(Agreement._meta.db_table)
    tranches = quote(Tranche._meta.db_table)
    reports = quote(Report._meta.db_table)
    scope, scope_params = reviewable_condition(user, alias="a")
    active = Grant.Status.ACTIVE.value
    selects = []
    if is_admin:
        # No territory: an admin's scope is every dossier but drafts, and an agreement has one.
        selects.append(
            (
                "agreements",
                "SELECT ag.id AS row_id, ag.signed_at AS row_at, a.reference AS reference, "  # noqa: S608
                "a.title AS title, ag.number AS label, 0 AS year, 0 AS amount "
                f"FROM {agreements} ag INNER JOIN {grants} g ON g.id = ag.grant_id "
                f"INNER JOIN {dossiers} a ON a.id = g.application_id "
                "WHERE ag.status = %s AND g.status = %s",
                [Agreement.Status.SIGNED.value, active],
            )
        )

    def tranches_in(statuses: Sequence[str], late: bool = False) -> tuple[str, list[Any]]:
        placeholders = ", ".join(["%s"] * len(statuses))
        sql = (
            "SELECT t.id AS row_id, t.requested_at AS row_at, a.reference AS reference, "  # noqa: S608
            "a.title AS title, t.status AS label, t.year_index AS year, t.amount AS amount "
            f"FROM {tranches} t INNER JOIN {grants} g ON g.id = t.grant_id "
            f"INNER JOIN {dossiers} a ON a.id = g.application_id "
            f"WHERE t.status IN ({placeholders}) AND g.status = %s AND {scope}"
        )
        params: list[Any] = [*statuses, active, *scope_params]
        if late:
            since = Tranche._meta.get_field("requested_at").get_db_prep_value(
                _late_since(timezone.localdate()), connection
            )
            sql += " AND t.requested_at < %s"
            params.append(since)
        return sql, params

    selects.append(("requested", *tranches_in([T.REQUESTED.value])))
    if is_admin:
        selects.append(("validated", *tranches_in([T.VALIDATED.value])))
    selects.append(("late", *tranches_in([status.value for status in IN_PAYMENT], late=True)))
    selects.append(
        (
            "reports",
            "SELECT r.id AS row_id, r.uploaded_at AS row_at, a.reference AS reference, "  # noqa: S608
            "a.title AS title, r.kind AS label, r.year_index AS year, 0 AS amount "
            f"FROM {reports} r INNER JOIN {grants} g ON g.id = r.grant_id "
            f"INNER JOIN {dossiers} a ON a.id = g.application_id "
            f"WHERE r.status = %s AND g.status = %s AND {scope}",
            [Report.Status.SUBMITTED.value, active, *scope_params],
        )
    )
    return selects


GRANT_GROUP_LABELS = {
    "agreements": gettext_lazy("Conventions signées à activer"),
    "requested": gettext_lazy("Demandes de versement à valider"),
    "validated": gettext_lazy("Versements validés à enregistrer"),
    "late": gettext_lazy("Versements en retard (délai de 60 jours dépassé)"),
    "reports": gettext_lazy("Rapports annuels à examiner"),
}

TRANCHE_ACTIONS = {
    "requested": gettext_lazy("Valider la demande de « %(title)s »"),
    "validated": gettext_lazy("Enregistrer le versement de « %(title)s »"),
    "late": gettext_lazy("Voir les versements de « %(title)s »"),
}


def _grant_items(key: str, rows: list[Any]) -> list[TodoItem]:
    """A group's items from its rows (row_at, reference, title, label, year, amount); the sentences
    translated and the URLs reversed once per group."""
    day = local_day_maker()
    items = []
    if key == "agreements":
        agreement_url = url_maker("grants:agreement-detail")
        detail = _("Convention n° %(number)s signée le %(date)s : saisissez son numéro d'engagement.")
        action = _("Activer la convention n° %(number)s")
        for at, reference, title, number, _year, _amount in rows:
            items.append(
                TodoItem(
                    reference=reference,
                    title=title,
                    detail=detail % {"number": number, "date": format_date(day(at)) if at else "—"},
                    url=agreement_url(number),
                    action=action % {"number": number},
                )
            )
        return items
    manage_url = url_maker("grants:tranche-manage")
    if key == "reports":
        detail, action = (
            _("%(kind)s de l'année %(year)d, déposé le %(date)s."),
            _("Examiner le rapport de « %(title)s »"),
        )
        # What get_kind_display() shows, without building a report per row.
        kinds = {value: str(label) for value, label in ReportKind.choices}
        for at, reference, title, kind, year, _amount in rows:
            items.append(
                TodoItem(
                    reference=reference,
                    title=title,
                    detail=detail
                    % {"kind": kinds.get(kind, kind), "year": year, "date": format_date(day(at))},
                    url=manage_url(reference),
                    action=action % {"title": title},
                )
            )
        return items
    detail = _("Tranche de l'année %(year)d, %(amount)s : à verser au plus tard le %(date)s.")
    action = str(TRANCHE_ACTIONS[key])
    today, delay = timezone.localdate(), timedelta(days=Tranche.PAYMENT_DELAY_DAYS)
    for at, reference, title, status, year, amount in rows:
        # Tranche.pay_by and Tranche.is_late's rule, the day and the time zone read once for the
        # group rather than twice per row (tests/grants/test_todo_sql.py compares the flags).
        pay_by = day(at) + delay if at is not None else None
        items.append(
            TodoItem(
                reference=reference,
                title=title,
                detail=detail
                % {
                    "year": year,
                    # SQLite hands decimals back as numbers, PostgreSQL as Decimal: the same text.
                    "amount": format_money(amount if isinstance(amount, Decimal) else Decimal(str(amount))),
                    "date": format_date(pay_by) if pay_by else "—",
                },
                url=manage_url(reference),
                action=action % {"title": title},
                overdue=pay_by is not None and status in IN_PAYMENT and today > pay_by,
            )
        )
    return items


def staff_grant_todo(user: User) -> list[TodoGroup]:
    """Agreements to activate and payments to record (admins), payment requests to validate,
    overdue payments and reports to examine (the territory's instructors and admins): one query
    for them all."""
    selects = _grant_selects(user, has_role(user, Role.ADMIN))
    found = todo_groups(
        [(sql, params) for _key, sql, params in selects], "row_at, reference, title, label, year, amount"
    )
    groups = []
    for index, (key, _sql, _params) in enumerate(selects):
        total, rows = found.get(index, (0, []))
        groups.append(TodoGroup(key, GRANT_GROUP_LABELS[key], _grant_items(key, rows) if rows else [], total))
    return groups
