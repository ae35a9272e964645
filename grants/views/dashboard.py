"""The envelope's dashboard (programme admins) and its public summary (everyone, no login).

Both pages read `grants.selectors.envelope.envelope_figures` (four queries whatever the call) and draw
their charts on the server (`grants.charts`); each chart is followed by a table of the same
figures. The public summary shows only amounts and counts by territory: no dossier, no name, no
address.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from accounts.permissions import can_use_admin_space, role_required
from applications.models import Call
from core.formatting import format_money
from core.page_cache import cached_page
from grants import charts
from grants.models import EnvelopeSnapshot
from grants.selectors.envelope import envelope_figures, sub_envelope_figures


def _cells(row: dict[str, Any]) -> str:
    """A row's laureates, committed and paid cells, as the templates wrote them."""
    return (
        f"<td>{conditional_escape(localize(row['laureates']))}</td>"
        f'<td class="portal-nowrap">{conditional_escape(format_money(row["committed"]))}</td>'
        f'<td class="portal-nowrap">{conditional_escape(format_money(row["paid"]))}</td>'
    )


def departement_rows_html(figures: dict[str, Any]) -> SafeString:
    """The rows of the départements with a laureate (_map.html), in Python: the bytes of the
    template loop they replace over 101 départements (tests/grants/test_dashboard.py)."""
    return mark_safe(  # noqa: S308 - every value escaped
        "".join(
            f"\n        <tr><td>{conditional_escape(row['code'])}</td>"
            f'<th scope="row">{conditional_escape(row["name"])}</th>'
            f"<td>{conditional_escape(row['region_name'])}</td>{_cells(row)}</tr>\n      "
            for row in figures["by_departement"]
            if row["laureates"]
        )
    )


def without_laureate_html(figures: dict[str, Any]) -> SafeString:
    """« Gers (32), Landes (40)… »: the départements without laureate, as _map.html listed them."""
    return mark_safe(  # noqa: S308 - every value escaped
        ", ".join(
            f"{conditional_escape(row['name'])} ({conditional_escape(row['code'])})"
            for row in figures["departements_without_laureate"]
        )
    )


def region_rows_html(figures: dict[str, Any]) -> SafeString:
    """The régions' rows (_regions.html), as its template loop wrote them."""
    return mark_safe(  # noqa: S308 - every value escaped
        "".join(
            f'\n        <tr><th scope="row">{conditional_escape(row["name"])}</th>{_cells(row)}</tr>\n      '
            for row in figures["by_region"]
        )
    )


def _map(figures: dict[str, Any], chart_id: str) -> dict[str, Any]:
    call = figures["call"]
    return {
        "departement_rows": departement_rows_html(figures),
        "without_laureate": without_laureate_html(figures),
        "svg": charts.departements_map(
            figures["by_departement"],
            chart_id=chart_id,
            title=_("Fabriques lauréates par département — %(call)s") % {"call": call.title},
            description=_(
                "Carte des départements de métropole colorés selon le nombre de fabriques lauréates ; "
                "les départements d'outre-mer sont listés à côté. Les chiffres sont repris dans le tableau "
                "qui suit."
            ),
        ),
        "overseas": charts.overseas_rows(figures["by_departement"]),
    }


def _bar_chart(
    figures: dict[str, Any], key: str, chart_id: str, title: str, description: str, *, counts: bool = False
) -> str:
    """Horizontal bars of one breakdown of the figures: the amounts committed, or (`counts`) the
    number of laureates."""
    rows = figures[key]
    bars = charts.count_bars(rows, "laureates") if counts else charts.money_bars(rows, "committed")
    return charts.bar_chart(bars, chart_id=chart_id, title=title, description=description)


def _region_chart(figures: dict[str, Any], chart_id: str) -> str:
    return _bar_chart(
        figures,
        "by_region",
        chart_id,
        _("Montants engagés par région"),
        _("Barres horizontales : le montant engagé dans chaque région, repris dans le tableau qui suit."),
    )


@role_required(can_use_admin_space)
@cached_page
def dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    call = get_object_or_404(Call, slug=slug)
    figures = envelope_figures(call)
    snapshots = list(EnvelopeSnapshot.objects.filter(call=call).order_by("day"))
    chart_id = charts.chart_id_for("tdb", call.slug)
    years = figures["by_year"]
    context: dict[str, Any] = {
        "title": _("Tableau de bord de l'enveloppe — %(call)s") % {"call": call.title},
        "call": call,
        "figures": figures,
        "snapshots": snapshots,
        "map": _map(figures, f"{chart_id}-carte"),
        "region_chart": _region_chart(figures, f"{chart_id}-regions"),
        "region_rows": region_rows_html(figures),
        "sub_envelopes": sub_envelope_figures(figures),
        "zone_chart": _bar_chart(
            figures,
            "by_zone",
            f"{chart_id}-zones",
            _("Fabriques lauréates par zone"),
            _(
                "Barres horizontales : le nombre de fabriques lauréates ayant un lieu dans chaque zone, "
                "repris dans le tableau qui suit."
            ),
            counts=True,
        ),
        "kind_chart": _bar_chart(
            figures,
            "by_kind",
            f"{chart_id}-types",
            _("Montants engagés par type de fabrique"),
            _(
                "Barres horizontales : le montant engagé pour les fabriques de territoire et les fabriques "
                "numériques de territoire, repris dans le tableau qui suit."
            ),
        ),
        "family_chart": _bar_chart(
            figures,
            "by_family",
            f"{chart_id}-familles",
            _("Montants engagés par famille de porteur"),
            _(
                "Barres horizontales : le montant engagé selon la famille juridique de la structure chef "
                "de file, repris dans le tableau qui suit."
            ),
        ),
        "year_chart": charts.bar_chart(
            [
                bar
                for row in years
                for bar in (
                    charts.Bar(
                        _("%(year)s : versé") % {"year": row["year"] or _("sans échéance")},
                        row["paid"],
                        format_money(row["paid"]),
                    ),
                    charts.Bar(
                        _("%(year)s : à verser") % {"year": row["year"] or _("sans échéance")},
                        row["scheduled"],
                        format_money(row["scheduled"]),
                    ),
                )
            ],
            chart_id=f"{chart_id}-annees",
            title=_("Versements par année civile"),
            description=_(
                "Barres horizontales : pour chaque année, les tranches versées (selon la date de paiement) "
                "et celles restant à verser (selon leur échéance), reprises dans le tableau qui suit."
            ),
        ),
        "snapshot_chart": (
            charts.line_chart(
                [
                    charts.Series(_("Enveloppe"), [(row.day, row.envelope) for row in snapshots]),
                    charts.Series(_("Engagé"), [(row.day, row.committed) for row in snapshots]),
                    charts.Series(_("Versé"), [(row.day, row.paid) for row in snapshots]),
                ],
                chart_id=f"{chart_id}-releves",
                title=_("Évolution de l'enveloppe"),
                description=_(
                    "Courbes de l'enveloppe, des montants engagés et des montants versés relevés chaque "
                    "jour, reprises dans le tableau qui suit."
                ),
            )
            if snapshots
            else ""
        ),
    }
    return render(request, "grants/dashboard/dashboard.html", context)


def public_summary(request: HttpRequest, slug: str) -> HttpResponse:
    """Open to everyone: the envelope and the laureates by territory, nothing about people."""
    call = get_object_or_404(Call.objects.exclude(status=Call.Status.DRAFT), slug=slug)
    figures = envelope_figures(call)
    chart_id = charts.chart_id_for("synthese", call.slug)
    context = {
        "title": _("Où en est l'appel — %(call)s") % {"call": call.title},
        "call": call,
        "figures": figures,
        "map": _map(figures, f"{chart_id}-carte"),
        "region_chart": _region_chart(figures, f"{chart_id}-regions"),
        "region_rows": region_rows_html(figures),
    }
    return render(request, "grants/dashboard/public_summary.html", context)
