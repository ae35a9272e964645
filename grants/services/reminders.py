"""Daily reminders: tranches past their 60-day payment deadline, and yearly reports overdue.

Run by the beat task grants.tasks.tranches_reminders_task. Each e-mail is a row whose key holds
the day, so a second run on the same day (a redelivered task, a manual run) queues nothing more.
"""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.selectors import programme_admin_emails
from applications.models import Message
from applications.selectors import dossier_recipients
from core.formatting import format_date, format_money
from grants.models import Agreement, Grant, Report, ReportKind, Tranche
from grants.services.envelope import add_years
from notifications.models import OutgoingEmail
from notifications.services import email_queue

T = Tranche.Status


def year_end(tranche: Tranche, agreement: Agreement | None) -> date | None:
    """The first day after year n of the grant, from which that year's reports are due.

    Year n starts on the agreement's start plus n - 1 years when the start is known, else on the
    tranche's due date (the award schedules year n at the award day plus n - 1 years).
    """
    if agreement is not None and agreement.starts_on is not None:
        return add_years(agreement.starts_on, tranche.year_index)
    if tranche.due_date is not None:
        return add_years(tranche.due_date, 1)
    return None


@dataclass(frozen=True)
class MissingReport:
    grant: Grant
    year_index: int
    kind: str
    due_since: date


def late_tranches(*, today: date) -> list[Tranche]:
    """Tranches requested or validated whose 60-day payment deadline is behind `today`."""
    candidates = (
        Tranche.objects.filter(
            status__in=[T.REQUESTED, T.VALIDATED],
            grant__status=Grant.Status.ACTIVE,
            requested_at__isnull=False,
        )
        .select_related("grant__application")
        .order_by("requested_at", "pk")
    )
    return [tranche for tranche in candidates if tranche.pay_by is not None and tranche.pay_by < today]


def missing_reports(*, today: date) -> list[MissingReport]:
    """For each paid tranche whose year has ended, the reports of that year not filed (or sent back)."""
    paid = (
        Tranche.objects.filter(status=T.PAID, grant__status=Grant.Status.ACTIVE)
        .select_related("grant__application", "grant__call")
        .order_by("grant_id", "year_index")
    )
    agreements = {a.grant_id: a for a in Agreement.objects.filter(grant__tranches__status=T.PAID).distinct()}
    live = set(
        Report.objects.exclude(status=Report.Status.REJECTED).values_list("grant_id", "year_index", "kind")
    )
    missing = []
    for tranche in paid:
        end = year_end(tranche, agreements.get(tranche.grant_id))
        if end is None or today < end:
            continue
        for kind in ReportKind:
            if (tranche.grant_id, tranche.year_index, kind.value) not in live:
                missing.append(MissingReport(tranche.grant, tranche.year_index, kind.value, end))
    return missing


def _queue_once(*, key: str, to: list[str], subject: str, body: str) -> bool:
    """Queue the e-mail unless its row exists already; True when a row was written."""
    if not to or OutgoingEmail.objects.filter(key=key).exists():
        return False
    email_queue(key=key, to=to, subject=subject, body=body)
    return True


def _late_body(tranches: list[Tranche], today: date) -> str:
    lines = []
    for tranche in tranches:
        pay_by = tranche.pay_by
        assert pay_by is not None  # noqa: S101 (late_tranches keeps requested tranches only)
        lines.append(
            _(
                "- %(reference)s, année %(year)d, %(amount)s (« %(status)s ») : à verser au plus tard le "
                "%(pay_by)s, %(days)d jour(s) de retard"
            )
            % {
                "reference": tranche.grant.application.reference,
                "year": tranche.year_index,
                "amount": format_money(tranche.amount),
                "status": tranche.get_status_display(),
                "pay_by": format_date(pay_by),
                "days": (today - pay_by).days,
            }
        )
    return _(
        "Bonjour,\n\nCes tranches ont dépassé le délai de paiement de 60 jours suivant la demande "
        "de versement :\n\n%(lines)s\n\nL'équipe Fabriques de territoires"
    ) % {"lines": "\n".join(lines)}


def _reports_body(grant: Grant, items: list[MissingReport]) -> str:
    lines = [
        _("- %(kind)s de l'année %(year)d, attendu depuis le %(date)s")
        % {
            "kind": str(ReportKind(item.kind).label),
            "year": item.year_index,
            "date": format_date(item.due_since),
        }
        for item in items
    ]
    return _(
        "Bonjour,\n\nLes rapports suivants de votre subvention (dossier %(reference)s « %(title)s ») "
        "n'ont pas encore été déposés :\n\n%(lines)s\n\nDéposez-les sur la page de votre subvention : "
        "la tranche suivante se demande une fois les rapports de l'année précédente acceptés."
        "\n\nL'équipe Fabriques de territoires"
    ) % {
        "reference": grant.application.reference,
        "title": grant.application.title,
        "lines": "\n".join(lines),
    }


@transaction.atomic
def reminders_send(*, today: date) -> dict[str, int]:
    """Queue today's reminders; returns what was found and how many e-mails were queued now."""
    late = late_tranches(today=today)
    missing = missing_reports(today=today)
    queued = 0
    if late:
        queued += _queue_once(
            key=f"reminder:tranches-late:{today.isoformat()}",
            to=programme_admin_emails(),
            subject=_("%(n)d tranche(s) en retard de paiement") % {"n": len(late)},
            body=_late_body(late, today),
        )
    by_grant: dict[int, list[MissingReport]] = {}
    for item in missing:
        by_grant.setdefault(item.grant.pk, []).append(item)
    for items in by_grant.values():
        grant = items[0].grant
        queued += _queue_once(
            key=f"reminder:reports-due:{grant.pk}:{today.isoformat()}",
            to=dossier_recipients(grant.application, side=Message.Side.APPLICANT),
            subject=_("Rapports annuels attendus – dossier %(reference)s")
            % {"reference": grant.application.reference},
            body=_reports_body(grant, items),
        )
    return {"late_tranches": len(late), "missing_reports": len(missing), "emails_queued": queued}
