"""The grants' share of « what is expected next » (applications.next_steps), registered at start-up.

The applicant's side: the agreement to accept, the next tranche to request (its amount, and what
it still waits for, worded by the rule the request itself applies), the yearly reports due, the
payments on their way with their 60-day deadline. The staff's side: agreements to activate,
payment requests to validate, payments to record, overdue payments, reports to examine.

Fixed number of queries: three for the applicant whatever the number of dossiers (grants with
their agreement, tranches, reports), one per staff group.
"""

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from accounts.roles import has_role
from applications.models import Application, Member
from applications.next_steps import NextStep, TodoGroup, TodoItem, limited
from applications.selectors import applications_reviewable_by
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


def _manage_url(application: Application) -> str:
    return reverse("grants:tranche-manage", args=[application.reference])


def _tranche_item(tranche: Tranche, action: str) -> TodoItem:
    application = tranche.grant.application
    pay_by = tranche.pay_by
    return TodoItem(
        reference=application.reference,
        title=application.title,
        detail=_("Tranche de l'année %(year)d, %(amount)s : à verser au plus tard le %(date)s.")
        % {
            "year": tranche.year_index,
            "amount": format_money(tranche.amount),
            "date": format_date(pay_by) if pay_by else "—",
        },
        url=_manage_url(application),
        action=action % {"title": application.title},
        overdue=tranche.is_late,
    )


def _tranches_of(user: User, statuses: Sequence[str]) -> QuerySet[Tranche]:
    return (
        Tranche.objects.filter(
            status__in=statuses,
            grant__status=Grant.Status.ACTIVE,
            grant__application__in=applications_reviewable_by(user),
        )
        .select_related("grant__application")
        .order_by("requested_at", "pk")
    )


def _late_since(today: date) -> datetime:
    """Requested before this instant, a tranche is past its 60-day deadline today (Tranche.pay_by)."""
    first_day_on_time = today - timedelta(days=Tranche.PAYMENT_DELAY_DAYS)
    return timezone.make_aware(datetime.combine(first_day_on_time, time.min))


def staff_grant_todo(user: User) -> list[TodoGroup]:
    """Agreements to activate and payments to record (admins), payment requests to validate,
    overdue payments and reports to examine (the territory's instructors and admins)."""
    groups = []
    is_admin = has_role(user, Role.ADMIN)
    if is_admin:
        agreements = (
            Agreement.objects.filter(status=Agreement.Status.SIGNED, grant__status=Grant.Status.ACTIVE)
            .select_related("grant__application")
            .order_by("signed_at", "pk")
        )
        rows, total = limited(agreements)
        groups.append(
            TodoGroup(
                "agreements",
                gettext_lazy("Conventions signées à activer"),
                [
                    TodoItem(
                        reference=row.grant.application.reference,
                        title=row.grant.application.title,
                        detail=_(
                            "Convention n° %(number)s signée le %(date)s : saisissez son numéro d'engagement."
                        )
                        % {
                            "number": row.number,
                            "date": format_date(timezone.localdate(row.signed_at)) if row.signed_at else "—",
                        },
                        url=reverse("grants:agreement-detail", args=[row.number]),
                        action=_("Activer la convention n° %(number)s") % {"number": row.number},
                    )
                    for row in rows
                ],
                total,
            )
        )
    rows, total = limited(_tranches_of(user, [T.REQUESTED]))
    groups.append(
        TodoGroup(
            "requested",
            gettext_lazy("Demandes de versement à valider"),
            [_tranche_item(row, _("Valider la demande de « %(title)s »")) for row in rows],
            total,
        )
    )
    if is_admin:
        rows, total = limited(_tranches_of(user, [T.VALIDATED]))
        groups.append(
            TodoGroup(
                "validated",
                gettext_lazy("Versements validés à enregistrer"),
                [_tranche_item(row, _("Enregistrer le versement de « %(title)s »")) for row in rows],
                total,
            )
        )
    late = _tranches_of(user, IN_PAYMENT).filter(requested_at__lt=_late_since(timezone.localdate()))
    rows, total = limited(late)
    groups.append(
        TodoGroup(
            "late",
            gettext_lazy("Versements en retard (délai de 60 jours dépassé)"),
            [_tranche_item(row, _("Voir les versements de « %(title)s »")) for row in rows],
            total,
        )
    )
    reports = (
        Report.objects.filter(
            status=Report.Status.SUBMITTED,
            grant__status=Grant.Status.ACTIVE,
            grant__application__in=applications_reviewable_by(user),
        )
        .select_related("grant__application")
        .order_by("uploaded_at", "pk")
    )
    rows, total = limited(reports)
    groups.append(
        TodoGroup(
            "reports",
            gettext_lazy("Rapports annuels à examiner"),
            [
                TodoItem(
                    reference=row.grant.application.reference,
                    title=row.grant.application.title,
                    detail=_("%(kind)s de l'année %(year)d, déposé le %(date)s.")
                    % {
                        "kind": row.get_kind_display(),
                        "year": row.year_index,
                        "date": format_date(timezone.localdate(row.uploaded_at)),
                    },
                    url=_manage_url(row.grant.application),
                    action=_("Examiner le rapport de « %(title)s »") % {"title": row.grant.application.title},
                )
                for row in rows
            ],
            total,
        )
    )
    return groups
