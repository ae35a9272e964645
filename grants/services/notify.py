"""The grants' events in the notification centre (see applications.services.notify): decisions,
tranches paid, payments overdue. Each function is one line of the service it reports, in its
transaction, or of the daily task for the overdue payments."""

from datetime import date

from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Role, User
from applications.models import Application, Message, StatusChange
from applications.selectors import dossier_recipient_ids
from core.formatting import format_date, format_money
from grants.models import Tranche
from grants.services.reminders import late_tranches
from notifications.models import NotificationKind
from notifications.services_inbox import Event, notify, notify_many

K = NotificationKind
S = Application.Status


def decision_notify(*, application: Application, change: StatusChange) -> None:
    """A decision (award, refusal, closing): in the centre only, its letter being e-mailed."""
    notify(
        event=Event(
            kind=K.DECISION_TAKEN,
            key=f"decision:{change.pk}",
            title=_("Décision sur votre dossier %(reference)s : %(status)s")
            % {"reference": application.reference, "status": S(change.to_status).label},
            text=_(
                "La décision prise sur votre dossier %(reference)s « %(title)s » et sa lettre sont "
                "sur la page du dossier."
            )
            % {"reference": application.reference, "title": application.title},
            link=reverse("applications:dossier-detail", kwargs={"reference": application.reference}),
            dossier_id=application.pk,
        ),
        recipient_ids=dossier_recipient_ids(application, side=Message.Side.APPLICANT),
    )


def tranche_paid_notify(*, tranche: Tranche) -> None:
    """A tranche paid: in the centre only, the payment notice being e-mailed."""
    application = tranche.grant.application
    notify(
        event=Event(
            kind=K.TRANCHE_PAID,
            key=f"tranche-paid:{tranche.pk}",
            title=_("Tranche de l'année %(year)d versée – %(reference)s")
            % {"year": tranche.year_index, "reference": application.reference},
            text=_("Le versement de %(amount)s a été effectué le %(date)s.")
            % {
                "amount": format_money(tranche.amount),
                "date": format_date(tranche.paid_on) if tranche.paid_on else "",
            },
            link=reverse("grants:tranche-grant", kwargs={"reference": application.reference}),
            dossier_id=application.pk,
            grant_id=tranche.grant_id,
        ),
        recipient_ids=dossier_recipient_ids(application, side=Message.Side.APPLICANT),
    )


def payments_overdue_notify(*, today: date) -> int:
    """Daily: each tranche past its 60-day payment deadline (`late_tranches`), once per tranche and
    request, to the programme admins. Returns how many notifications were written now."""
    late = late_tranches(today=today)
    if not late:
        return 0
    admins = list(
        User.objects.filter(groups__name=Role.ADMIN.value, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    events = []
    for tranche in late:
        application = tranche.grant.application
        requested = tranche.requested_at.date().isoformat() if tranche.requested_at else ""
        pay_by = tranche.pay_by
        events.append(
            (
                Event(
                    kind=K.PAYMENT_OVERDUE,
                    key=f"payment-overdue:{tranche.pk}:{requested}",
                    title=_("Versement en retard : %(reference)s, année %(year)d")
                    % {"reference": application.reference, "year": tranche.year_index},
                    text=_("La tranche de %(amount)s devait être versée au plus tard le %(date)s.")
                    % {"amount": format_money(tranche.amount), "date": format_date(pay_by) if pay_by else ""},
                    link=reverse("grants:tranche-manage", kwargs={"reference": application.reference}),
                    dossier_id=application.pk,
                    grant_id=tranche.grant_id,
                ),
                admins,
            )
        )
    return len(notify_many(events=events))
