"""The processing times of a call: how long dossiers stay in each state, with the medians per
département, per instructor and per wave, so that a slow step shows. Programme admins read the
whole call, an instructor the dossiers of their territory (the same figures, narrowed).

The figures come from `applications.selectors_times.call_times` (two queries whatever the number
of dossiers); the charts are drawn on the server (`grants.charts`) and each is followed by the
table of its figures, as on the envelope's dashboard.
"""

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from applications.models import Application, Call
from applications.selectors_times import PROCESSING_STATES, SMALL_SAMPLE, Median, Row, call_times
from applications.views.review import review_required
from core.formatting import format_days
from fabriques.selectors import departements_in_scope
from grants import charts

S = Application.Status
# The département chart shows the longest medians only; the table lists every département.
CHART_DEPARTEMENTS = 15


def _bar(label: str, median: Median) -> charts.Bar:
    shown = format_days(median.days) if median.days is not None else _("aucun séjour terminé")
    return charts.Bar(label, Decimal(str(median.days or 0)), shown)


def _review_bars(rows: list[Row], limit: int | None = None) -> list[charts.Bar]:
    """Bars of the rows' medians « en instruction », longest first."""
    measured = [row for row in rows if row.medians[S.IN_REVIEW].days is not None]
    measured.sort(key=lambda row: -(row.medians[S.IN_REVIEW].days or 0.0))
    return [_bar(row.name, row.medians[S.IN_REVIEW]) for row in measured[:limit]]


@review_required
def processing_times(request: HttpRequest, slug: str) -> HttpResponse:
    """The whole call for programme admins; an instructor's territory for an instructor."""
    user: User = request.user  # type: ignore[assignment]
    is_admin = has_role(user, Role.ADMIN)
    # A call in preparation is the programme admins' alone.
    calls = Call.objects.all() if is_admin else Call.objects.exclude(status=Call.Status.DRAFT)
    call = get_object_or_404(calls, slug=slug)
    times = call_times(call, departements=None if is_admin else departements_in_scope(instructor=user))
    chart_id = charts.chart_id_for("delais", call.slug)
    labels = {state: str(S(state).label) for state in PROCESSING_STATES}
    context: dict[str, Any] = {
        "title": _("Délais d'instruction — %(call)s") % {"call": call.title},
        "call": call,
        "is_admin": is_admin,
        "times": times,
        "states": [(state, labels[state]) for state in PROCESSING_STATES],
        "state_rows": [
            (labels[state], times.finished[state], times.current[state]) for state in PROCESSING_STATES
        ],
        "small_sample": SMALL_SAMPLE,
        "chart_departements": CHART_DEPARTEMENTS,
        "state_chart": charts.bar_chart(
            [_bar(labels[state], times.finished[state]) for state in PROCESSING_STATES],
            chart_id=f"{chart_id}-etats",
            title=_("Durée médiane des séjours terminés, par état"),
            description=_(
                "Barres horizontales : la durée médiane, en jours, des séjours terminés dans chaque "
                "état, reprise dans le tableau qui suit."
            ),
        ),
        "departement_chart": charts.bar_chart(
            _review_bars(times.by_departement, CHART_DEPARTEMENTS),
            chart_id=f"{chart_id}-departements",
            title=_("Durée médiane d'instruction par département"),
            description=_(
                "Barres horizontales : la durée médiane, en jours, des séjours terminés « en instruction » "
                "dans les %(count)s départements où elle est la plus longue ; tous les départements et "
                "tous les états figurent dans le tableau qui suit."
            )
            % {"count": CHART_DEPARTEMENTS},
        ),
        "instructor_chart": charts.bar_chart(
            _review_bars(times.by_instructor),
            chart_id=f"{chart_id}-instructeurs",
            title=_("Durée médiane d'instruction par instructeur"),
            description=_(
                "Barres horizontales : pour chaque instructeur, la durée médiane, en jours, des séjours "
                "terminés « en instruction » des dossiers qui lui sont affectés, reprise dans le tableau "
                "qui suit."
            ),
        ),
        "wave_chart": charts.bar_chart(
            [
                _bar(
                    _("%(wave)s : %(state)s") % {"wave": row.name, "state": labels[state].lower()},
                    row.medians[state],
                )
                for row in times.by_wave
                for state in PROCESSING_STATES
            ],
            chart_id=f"{chart_id}-vagues",
            title=_("Durée médiane des séjours terminés par vague et par état"),
            description=_(
                "Barres horizontales : pour chaque vague, la durée médiane, en jours, des séjours "
                "terminés dans chaque état, reprise dans le tableau qui suit."
            ),
        ),
    }
    return render(request, "grants/times/times.html", context)
