"""Charts drawn on the server as SVG: no JavaScript, no external library.

Each chart is an `<svg role="img">` labelled by its own `<title>` and `<desc>`, and every mark
(bar, point, département) carries a `<title>` naming it and its figure. Pages show the same
figures in a table after each chart: the chart is a picture of the table, not a substitute.

Every text goes through `escape()`; the markup is then marked safe.

The map draws the metropolitan départements from a simplified GeoJSON (IGN Admin Express, via
gregoiredavid/france-geojson, Licence Ouverte) in an equirectangular projection: longitudes are
shrunk by the cosine of the map's middle latitude, which is close enough at the scale of France.
Overseas départements are not in the file: pages list them in a table beside the map
(`overseas_rows`).
"""

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.formatting import format_money

GEOJSON_PATH = Path(settings.BASE_DIR) / "fabriques" / "data" / "departements-metropole-simplifie.geojson"

TEXT = "#161616"
MUTED = "#666666"
GRID = "#dddddd"
BAR = "#000091"
# The map's classes: a grey for « aucune fabrique », then blues from light to dark.
NONE_FILL = "#e5e5e5"
BLUES = ["#cacafb", "#8585f6", "#4747e6", "#000091"]
LINE_COLOURS = ["#000091", "#18753c", "#ce0500", "#a558a0"]

Number = Decimal | int


def _n(value: float) -> str:
    """A coordinate with one decimal, without a useless ".0"."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _open_svg(chart_id: str, width: float, height: float, title: str, description: str) -> list[str]:
    ident = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="portal-chart" id="{ident}" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-size="13" '
        f'preserveAspectRatio="xMinYMin meet">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]


def chart_id_for(*parts: str) -> str:
    """An id usable in HTML and SVG, from words: ("carte", "appel-2026") -> "carte-appel-2026"."""
    return slugify("-".join(parts)) or "graphique"


# --- horizontal bars --------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value: Number
    display: str  # the value as shown: "150 000 €", "3"


def bar_chart(
    bars: Sequence[Bar], *, chart_id: str, title: str, description: str, width: int = 640
) -> SafeString:
    """Horizontal bars, each label above its bar (long labels never overlap), the value after it."""
    row_height, bar_height, top = 44, 16, 8
    label_room = 150  # kept right of the longest bar for its value
    height = top + row_height * max(len(bars), 1) + 4
    largest = max((float(bar.value) for bar in bars), default=0.0)
    scale = (width - label_room) / largest if largest > 0 else 0.0
    parts = _open_svg(chart_id, width, height, title, description)
    if not bars:
        parts.append(f'<text x="0" y="{top + 20}" fill="{MUTED}">{escape(_("Aucune donnée"))}</text>')
    for index, bar in enumerate(bars):
        y = top + index * row_height
        bar_width = max(float(bar.value), 0.0) * scale
        parts.append("<g>")
        parts.append(f"<title>{escape(bar.label)} : {escape(bar.display)}</title>")
        parts.append(f'<text x="0" y="{_n(y + 12)}" fill="{TEXT}">{escape(bar.label)}</text>')
        parts.append(
            f'<rect x="0" y="{_n(y + 18)}" width="{_n(bar_width)}" height="{bar_height}" fill="{BAR}"/>'
        )
        parts.append(
            f'<text x="{_n(bar_width + 6)}" y="{_n(y + 31)}" fill="{TEXT}" font-weight="bold">'
            f"{escape(bar.display)}</text>"
        )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def money_bars(rows: Iterable[Mapping[str, Any]], key: str, label_key: str = "name") -> list[Bar]:
    return [Bar(str(row[label_key]), row[key], format_money(row[key])) for row in rows]


def count_bars(rows: Iterable[Mapping[str, Any]], key: str, label_key: str = "name") -> list[Bar]:
    return [Bar(str(row[label_key]), row[key], str(row[key])) for row in rows]


# --- lines over time --------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[date, Number]]


def _day_label(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def line_chart(
    series: Sequence[Series],
    *,
    chart_id: str,
    title: str,
    description: str,
    value_format: Callable[[Decimal], str] = format_money,
    width: int = 640,
    height: int = 320,
) -> SafeString:
    """Lines over days (envelope snapshots), from zero up; each point titled with its value."""
    left, right, top, bottom = 110, 24, 16, 64
    plot_width, plot_height = width - left - right, height - top - bottom
    days = sorted({day for line in series for day, _value in line.points})
    values = [float(value) for line in series for _day, value in line.points]
    largest = max(values, default=0.0) or 1.0
    first = days[0] if days else date.today()  # noqa: DTZ011 - only a placeholder for an empty chart
    span = (days[-1] - first).days if days else 0

    def x_of(day: date) -> float:
        if span == 0:
            return left + plot_width / 2
        return left + (day - first).days / span * plot_width

    def y_of(value: Number | float) -> float:
        return top + plot_height - float(value) / largest * plot_height

    parts = _open_svg(chart_id, width, height, title, description)
    # The value axis: four steps from zero to the largest value.
    for step in range(5):
        value = largest * step / 4
        y = y_of(value)
        parts.append(
            f'<line x1="{left}" y1="{_n(y)}" x2="{width - right}" y2="{_n(y)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        shown = value_format(Decimal(str(round(value, 2))))
        parts.append(
            f'<text x="{left - 6}" y="{_n(y + 4)}" text-anchor="end" fill="{MUTED}" font-size="11">'
            f"{escape(shown)}</text>"
        )
    # The day axis: first and last days (and the middle one when there are three or more).
    shown_days = [days[0], days[len(days) // 2], days[-1]] if len(days) >= 3 else days
    for day in dict.fromkeys(shown_days):
        # The last day ends at the right edge, so that its label is not cut.
        anchor = "end" if len(days) > 1 and day == days[-1] else "middle"
        parts.append(
            f'<text x="{_n(x_of(day))}" y="{height - bottom + 18}" text-anchor="{anchor}" fill="{MUTED}" '
            f'font-size="11">{escape(_day_label(day))}</text>'
        )
    for index, line in enumerate(series):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        points = sorted(line.points)
        parts.append(f"<g><title>{escape(line.name)}</title>")
        if len(points) > 1:
            coordinates = " ".join(f"{_n(x_of(day))},{_n(y_of(value))}" for day, value in points)
            parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append("</g>")
        for day, amount in points:
            parts.append(
                f'<circle cx="{_n(x_of(day))}" cy="{_n(y_of(amount))}" r="3.5" fill="{colour}">'
                f"<title>{escape(line.name)}, {escape(_day_label(day))} : "
                f"{escape(value_format(Decimal(amount)))}</title>"
                "</circle>"
            )
        # The legend, below the day axis.
        legend_x = left + index * 170
        legend_y = height - 18
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y - 10}" width="14" height="4" fill="{colour}"/>'
            f'<text x="{legend_x + 20}" y="{legend_y}" fill="{TEXT}" font-size="12">'
            f"{escape(line.name)}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


# --- the map of départements ------------------------------------------------------------------


@lru_cache(maxsize=1)
def departements_geojson() -> dict[str, Any]:
    """The simplified outlines, parsed once per process."""
    with GEOJSON_PATH.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def _rings(geometry: Mapping[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    if geometry["type"] == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


@dataclass(frozen=True)
class Outline:
    code: str
    name: str
    path: str


# Points closer than this (in the viewBox's units) to the simplified line are dropped.
SIMPLIFY_TOLERANCE = 0.5


def _simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Ramer-Douglas-Peucker, iterative: a border drawn at 560 pixels needs far fewer points."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy)
        farthest, index = 0.0, 0
        for i in range(first + 1, last):
            x, y = points[i]
            if length:
                distance = abs(dy * x - dx * y + x2 * y1 - y2 * x1) / length
            else:
                distance = math.hypot(x - x1, y - y1)
            if distance > farthest:
                farthest, index = distance, i
        if farthest > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def _tenths(value: int) -> str:
    """A length counted in tenths of a unit, written with one decimal at most: 125 -> "12.5"."""
    return _n(value / 10)


def _ring_path(points: list[tuple[float, float]]) -> str:
    """One closed ring: an absolute move, then relative lines (shorter), rounded to a tenth."""
    tenths: list[tuple[int, int]] = []
    for x, y in _simplify(points, SIMPLIFY_TOLERANCE):
        point = (round(x * 10), round(y * 10))
        if not tenths or point != tenths[-1]:
            tenths.append(point)
    if len(tenths) < 3:
        return ""
    (start_x, start_y), moves = tenths[0], []
    previous = tenths[0]
    for x, y in tenths[1:]:
        moves.append(f"{_tenths(x - previous[0])},{_tenths(y - previous[1])}")
        previous = (x, y)
    return f"M{_tenths(start_x)},{_tenths(start_y)}l" + " ".join(moves) + "z"


@lru_cache(maxsize=4)
def projected_departements(width: int = 560) -> tuple[float, tuple[Outline, ...]]:
    """The map's height for this width, and each département's SVG path, projected once."""
    features = departements_geojson()["features"]
    points = [point for feature in features for ring in _rings(feature["geometry"]) for point in ring]
    lons = [point[0] for point in points]
    lats = [point[1] for point in points]
    min_lon, max_lon, min_lat, max_lat = min(lons), max(lons), min(lats), max(lats)
    shrink = math.cos(math.radians((min_lat + max_lat) / 2))
    margin = 4.0
    scale = (width - 2 * margin) / ((max_lon - min_lon) * shrink)
    height = (max_lat - min_lat) * scale + 2 * margin

    outlines = []
    for feature in features:
        path = "".join(
            _ring_path(
                [
                    (margin + (lon - min_lon) * shrink * scale, margin + (max_lat - lat) * scale)
                    for lon, lat, *_rest in ring
                ]
            )
            for ring in _rings(feature["geometry"])
        )
        properties = feature["properties"]
        outlines.append(Outline(str(properties["code"]), str(properties["nom"]), path))
    return height, tuple(sorted(outlines, key=lambda outline: outline.code))


@lru_cache(maxsize=4)
def _outline_markup(width: int) -> tuple[tuple[str, str, tuple[str, str]], ...]:
    """Per département: its code, its path, and its escaped code and « Name (code) : » title start."""
    return tuple(
        (
            outline.code,
            outline.path,
            (escape(outline.code), f"{escape(outline.name)} ({escape(outline.code)}) : "),
        )
        for outline in projected_departements(width)[1]
    )


def metropolitan_codes() -> frozenset[str]:
    return frozenset(outline.code for outline in projected_departements()[1])


@dataclass(frozen=True)
class ColourClass:
    low: int
    high: int | None  # None: and more
    colour: str

    @property
    def label(self) -> str:
        if self.low == 0 and self.high == 0:
            return _("Aucune fabrique")
        if self.high == self.low:
            return str(self.low)
        if self.high is None:
            return _("%(low)d et plus") % {"low": self.low}
        return _("%(low)d à %(high)d") % {"low": self.low, "high": self.high}

    def holds(self, value: int) -> bool:
        return self.low <= value and (self.high is None or value <= self.high)


def colour_classes(largest: int) -> list[ColourClass]:
    """Zero has its own colour; up to four blue classes of equal width above it."""
    classes = [ColourClass(0, 0, NONE_FILL)]
    if largest <= len(BLUES):
        classes += [ColourClass(value, value, BLUES[value - 1]) for value in range(1, largest + 1)]
        return classes
    step = math.ceil(largest / len(BLUES))
    for index, colour in enumerate(BLUES):
        low = index * step + 1
        high = (index + 1) * step
        classes.append(ColourClass(low, min(high, largest), colour))
    return [item for item in classes if item.high is None or item.low <= item.high]


def laureates_label(count: int) -> str:
    if count == 0:
        return _("aucune fabrique lauréate")
    return ngettext("%(count)d fabrique lauréate", "%(count)d fabriques lauréates", count) % {"count": count}


def departements_map(
    rows: Iterable[Mapping[str, Any]],
    *,
    chart_id: str,
    title: str,
    description: str,
    key: str = "laureates",
    width: int = 560,
    count_label: Callable[[int], str] = laureates_label,
) -> SafeString:
    """A choropleth of the metropolitan départements coloured by `key` (a count of laureates).

    `rows` have `code`, `name` and `key`; départements missing from `rows` count zero. Each
    département's path has a `<title>`: « Gers (32) : 2 fabriques lauréates » (`count_label` words the
    count: the allocation scenarios count the fabriques a selection would fund).
    """
    counts = {str(row["code"]): int(row[key]) for row in rows}
    height, outlines = projected_departements(width)
    classes = colour_classes(max((counts.get(outline.code, 0) for outline in outlines), default=0))
    legend_height = 24 * len(classes) + 12
    # The legend sits below the map, so a small screen keeps it readable.
    total_height = height + legend_height
    parts = _open_svg(chart_id, width, total_height, title, description)
    parts.append('<g stroke="#ffffff" stroke-width="0.6" stroke-linejoin="round">')
    # Each count's colour and label found once, not once per département (most share a count);
    # the outlines' own markup is escaped once per process.
    shown: dict[int, tuple[str, str]] = {}
    for code, path, (code_html, title_start) in _outline_markup(width):
        value = counts.get(code, 0)
        if value not in shown:
            colour = next(item.colour for item in classes if item.holds(value))
            shown[value] = (colour, escape(count_label(value)))
        colour, label = shown[value]
        parts.append(
            f'<path d="{path}" fill="{colour}" data-code="{code_html}">'
            f"<title>{title_start}{label}</title></path>"
        )
    parts.append("</g>")
    parts.append(f'<g font-size="12" fill="{TEXT}">')
    for index, item in enumerate(classes):
        y = height + 12 + index * 24
        parts.append(
            f'<rect x="8" y="{_n(y)}" width="18" height="18" fill="{item.colour}" stroke="{MUTED}" '
            f'stroke-width="0.5"/><text x="34" y="{_n(y + 14)}">{escape(item.label)}</text>'
        )
    parts.append("</g></svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def overseas_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows of départements the map cannot draw (overseas), for the table beside it."""
    drawn = metropolitan_codes()
    return [row for row in rows if row.get("code") and str(row["code"]) not in drawn]
