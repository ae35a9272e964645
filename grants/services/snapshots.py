"""The envelope's daily record, the alert when commitments pass the call's threshold, and the
alert when the call's counters drift from its grants and tranches.

The first two are run by the daily beat task `grants.tasks.envelope.envelope_daily_task`, the
third by `envelope_check_task` (the `envelope_check` command's recount); all are
idempotent per call and day: a second run the same day updates the day's snapshot and queues no
second e-mail (the e-mail's key names the call and the day).
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.urls import NoReverseMatch
from django.utils.translation import gettext as _

from accounts.selectors import programme_admin_emails
from applications.models import Call
from core.formatting import format_date, format_money, format_percent
from core.links import absolute_url
from grants.models import EnvelopeSnapshot
from grants.selectors.envelope import envelope_totals
from grants.services.envelope import envelope_drift_lines, envelope_recount
from notifications.models import OutgoingEmail
from notifications.services import email_queue


@transaction.atomic
def envelope_snapshot_take(*, call: Call, day: date) -> EnvelopeSnapshot:
    """Record the envelope of `call` as it stands, as the day's snapshot (replaced if taken again)."""
    totals = envelope_totals(call)
    values = {
        "envelope": totals["envelope"],
        "committed": totals["committed"],
        "paid": totals["paid"],
        "laureates": totals["laureates"],
    }
    # The fields are checked here; the (call, day) uniqueness is update_or_create's business.
    EnvelopeSnapshot(call=call, day=day, **values).full_clean(
        validate_unique=False, validate_constraints=False
    )
    snapshot, _created = EnvelopeSnapshot.objects.update_or_create(call=call, day=day, defaults=values)
    return snapshot


def alert_key(call: Call, day: date) -> str:
    return f"envelope-alert:{call.pk}:{day.isoformat()}"


def _dashboard_url(call: Call) -> str:
    try:
        return absolute_url("grants:dashboard", slug=call.slug)
    except NoReverseMatch:  # the dashboard's URLs not wired (yet): the e-mail goes without a link
        return ""


@transaction.atomic
def commitment_alerts_send(*, call: Call, day: date) -> OutgoingEmail | None:
    """Queue one e-mail to the programme admins when commitments reach the call's alert threshold.

    Returns the e-mail (the existing one when already queued that day), or None below the
    threshold, for an empty envelope, or when there is no admin to tell.
    """
    call = Call.objects.get(pk=call.pk)  # the counters as they stand now
    if call.envelope <= 0:
        return None
    if call.committed_amount * 100 < call.envelope * call.commitment_alert_percent:
        return None
    recipients = programme_admin_emails()
    if not recipients:
        return None
    percent = (call.committed_amount * 100 / call.envelope).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    context = {
        "call": call.title,
        "percent": format_percent(percent),
        "threshold": format_percent(call.commitment_alert_percent),
        "committed": format_money(call.committed_amount),
        "envelope": format_money(call.envelope),
        "remaining": format_money(call.remaining_amount),
        "laureates": call.laureate_count,
        "target": call.target_count,
        "day": format_date(day),
    }
    body = (
        _(
            "Bonjour,\n\n"
            "Au %(day)s, %(percent)s de l'enveloppe de l'appel « %(call)s » est engagé, au-delà du seuil "
            "d'alerte de %(threshold)s.\n\n"
            "Engagé : %(committed)s sur %(envelope)s\n"
            "Restant : %(remaining)s\n"
            "Lauréats : %(laureates)s sur un objectif de %(target)s\n"
        )
        % context
    )
    url = _dashboard_url(call)
    if url:
        body += "\n" + _("Tableau de bord de l'enveloppe : %(url)s") % {"url": url} + "\n"
    body += "\n" + _("L'équipe Fabriques de territoires")
    return email_queue(
        key=alert_key(call, day),
        to=recipients,
        subject=_("Enveloppe de l'appel « %(call)s » engagée à %(percent)s") % context,
        body=body,
    )


def drift_alert_key(call: Call, day: date) -> str:
    return f"envelope-drift:{call.pk}:{day.isoformat()}"


@transaction.atomic
def envelope_drift_alert_send(*, call: Call, day: date) -> OutgoingEmail | None:
    """Queue one e-mail to the programme admins when a call's counters disagree with its grants.

    The recount is `envelope_check`'s. Returns the e-mail (the existing one when already queued
    that day), or None when the counters agree or there is no admin to tell.
    """
    lines = envelope_drift_lines(envelope_recount(call))
    if not lines:
        return None
    recipients = programme_admin_emails()
    if not recipients:
        return None
    body = (
        _(
            "Bonjour,\n\n"
            "Au %(day)s, les compteurs de l'enveloppe de l'appel « %(call)s » ne correspondent plus aux "
            "subventions et aux tranches :\n\n"
        )
        % {"day": format_date(day), "call": call.title}
        + "".join(f"– {line}\n" for line in lines)
        + "\n"
        + _("La commande « manage.py envelope_check --call %(slug)s » donne le détail.") % {"slug": call.slug}
        + "\n\n"
        + _("L'équipe Fabriques de territoires")
    )
    return email_queue(
        key=drift_alert_key(call, day),
        to=recipients,
        subject=_("Écart dans les compteurs de l'enveloppe de l'appel « %(call)s »") % {"call": call.title},
        body=body,
    )
