"""Loading of the national census of tiers-lieux (CGET 2019, Mission Coworking) into TiersLieu.

The rows are joined on INSEE codes only (the file spells régions the 2019 way). A row whose
département cannot be trusted is skipped with a French reason rather than filed in the wrong place.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from fabriques.models import Activity, Departement, TiersLieu
from fabriques.validators import COMMUNE_CODE_RE, POSTAL_CODE_RE

SOURCE = TiersLieu.Source.CGET_2019

# A keyword of the TYPO column, and the activity it stands for.
TYPO_ACTIVITIES = (("coworking", "coworking"), ("fablab", "fablab"))

# The fields the import owns: anything else (organisation, zone once set, QPV…) is left alone.
IMPORTED_FIELDS = (
    "name",
    "address",
    "postal_code",
    "commune_code",
    "commune_name",
    "departement_id",
    "website",
    "latitude",
    "longitude",
)

COORDINATE_PLACES = Decimal("0.000001")
BATCH_SIZE = 500


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_rows: list[tuple[str, str]] = field(default_factory=list)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skip(self, source_id: str, reason: str) -> None:
        self.skipped[reason] += 1
        self.skipped_rows.append((source_id, reason))


@dataclass
class _Place:
    values: dict[str, Any]
    activities: frozenset[str]


def commune_departement(commune_code: str) -> str:
    """The département of an INSEE commune code: "32013" → "32", "2A004" → "2A", "97411" → "974"."""
    return commune_code[:3] if commune_code.startswith("97") else commune_code[:2]


def _text(row: Mapping[str, str | None], column: str) -> str:
    return (row.get(column) or "").strip()


def _clip(value: str, field_name: str) -> str:
    max_length: int | None = getattr(TiersLieu._meta.get_field(field_name), "max_length", None)
    return value[:max_length] if max_length else value


def _coordinate(value: str, limit: int) -> Decimal | None:
    try:
        number = Decimal(value.replace(",", "."))
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) > limit:
        return None
    return number.quantize(COORDINATE_PLACES, rounding=ROUND_HALF_UP)


def _activities(typo: str, known: set[str]) -> frozenset[str]:
    typo = typo.lower()
    return frozenset(code for keyword, code in TYPO_ACTIVITIES if keyword in typo and code in known)


def _parse(
    row: Mapping[str, str | None], regions_by_departement: dict[str, str], known_activities: set[str]
) -> _Place | str:
    """The values of a kept row, or the French reason it is skipped."""
    name = _text(row, "NOM_TL")
    if not name:
        return _("nom manquant")
    departement = _text(row, "INSEEDEP")
    if departement not in regions_by_departement:
        return _("département inconnu")
    commune_code = _text(row, "INSEECOM").upper()
    if not COMMUNE_CODE_RE.match(commune_code):
        commune_code = ""
    if commune_code and commune_departement(commune_code) != departement:
        return _("commune et département incohérents")
    region = _text(row, "INSEEREG")
    if region and regions_by_departement[departement] != region:
        return _("département hors de la région indiquée")
    if not region and not commune_code:
        return _("département invérifiable : ni région ni commune")
    postal_code = _text(row, "CP")
    return _Place(
        values={
            "name": _clip(name, "name"),
            "address": _clip(_text(row, "ADRESSE"), "address"),
            "postal_code": postal_code if POSTAL_CODE_RE.match(postal_code) else "",
            "commune_code": commune_code,
            "commune_name": _clip(_text(row, "NOMCOM"), "commune_name"),
            "departement_id": departement,
            "website": _clip(_text(row, "WEB"), "website"),
            "latitude": _coordinate(_text(row, "LAT"), 90),
            "longitude": _coordinate(_text(row, "LONG"), 180),
        },
        activities=_activities(_text(row, "TYPO"), known_activities),
    )


def _chunks(items: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(items), BATCH_SIZE):
        yield items[start : start + BATCH_SIZE]


@transaction.atomic
def tiers_lieux_import(*, rows: Iterable[Mapping[str, str | None]]) -> ImportReport:
    """Create or update the census places from the rows of tiers-lieux-cget-2019.csv.

    Idempotent: a place is found again by (source, source_id), and a row identical to what is
    stored counts as unchanged. New places get an unknown zone; the zone is never overwritten.
    """
    report = ImportReport()
    regions_by_departement = dict(Departement.objects.values_list("code", "region_id"))
    departement_names = dict(Departement.objects.values_list("code", "name"))
    known_activities = set(Activity.objects.values_list("code", flat=True))

    places: dict[str, _Place] = {}
    for row in rows:
        source_id = _text(row, "ID")
        if not source_id:
            report.skip(source_id, _("identifiant manquant"))
            continue
        if source_id in places or len(source_id) > 20:
            reason = _("identifiant en double") if source_id in places else _("identifiant trop long")
            report.skip(source_id, reason)
            continue
        parsed = _parse(row, regions_by_departement, known_activities)
        if isinstance(parsed, str):
            report.skip(source_id, parsed)
        else:
            places[source_id] = parsed

    Through = TiersLieu.activities.through
    existing = {place.source_id: place for place in TiersLieu.objects.filter(source=SOURCE)}
    stored_activities: dict[int, set[str]] = {}
    for place_id, activity_id in Through.objects.filter(tierslieu__source=SOURCE).values_list(
        "tierslieu_id", "activity_id"
    ):
        stored_activities.setdefault(place_id, set()).add(activity_id)

    to_create: list[TiersLieu] = []
    to_update: list[TiersLieu] = []
    activities_to_replace: list[int] = []
    for source_id, parsed in places.items():
        place = existing.get(source_id)
        if place is None:
            place = TiersLieu(source=SOURCE, source_id=source_id, **parsed.values)
            # bulk_create skips save(): the search text is computed here.
            place.search_text = place.compute_search_text(departement_names[place.departement_id])
            to_create.append(place)
            continue
        fields_changed = any(getattr(place, name) != value for name, value in parsed.values.items())
        activities_changed = stored_activities.get(place.pk, set()) != parsed.activities
        if fields_changed:
            for name, value in parsed.values.items():
                setattr(place, name, value)
            place.search_text = place.compute_search_text(departement_names[place.departement_id])
            to_update.append(place)
        if activities_changed:
            activities_to_replace.append(place.pk)
        if fields_changed or activities_changed:
            report.updated += 1
        else:
            report.unchanged += 1

    TiersLieu.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    report.created = len(to_create)
    TiersLieu.objects.bulk_update(to_update, [*IMPORTED_FIELDS, "search_text"], batch_size=BATCH_SIZE)

    links: list[Any] = []
    if to_create:
        ids = dict(TiersLieu.objects.filter(source=SOURCE).values_list("source_id", "pk"))
        for place in to_create:
            links += [
                Through(tierslieu_id=ids[place.source_id], activity_id=code)
                for code in sorted(places[place.source_id].activities)
            ]
    by_pk = {place.pk: source_id for source_id, place in existing.items()}
    for chunk in _chunks(activities_to_replace):
        Through.objects.filter(tierslieu_id__in=chunk).delete()
    for pk in activities_to_replace:
        links += [Through(tierslieu_id=pk, activity_id=code) for code in sorted(places[by_pk[pk]].activities)]
    Through.objects.bulk_create(links, batch_size=BATCH_SIZE)
    return report
