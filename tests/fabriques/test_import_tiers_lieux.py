import csv
import io
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fabriques.importers import tiers_lieux_import
from fabriques.models import TiersLieu

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "fabriques" / "data"
CENSUS = DATA / "tiers-lieux-cget-2019.csv"

MISMATCH = "commune et département incohérents"
OUTSIDE_REGION = "département hors de la région indiquée"
UNVERIFIABLE = "département invérifiable : ni région ni commune"
NO_NAME = "nom manquant"
UNKNOWN_DEPARTEMENT = "département inconnu"


def census_rows() -> list[dict[str, str]]:
    with open(CENSUS, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def expected_skips() -> dict[str, str]:
    """The skipped rows (ID → reason), worked out from the files alone, without the importer's code."""
    with open(DATA / "cog-departements-2025.csv", encoding="utf-8", newline="") as handle:
        region_of = {row["code"]: row["region_code"] for row in csv.DictReader(handle)}
    skips: dict[str, str] = {}
    for row in census_rows():
        commune = row["INSEECOM"] if re.fullmatch(r"\d{5}|2[AB]\d{3}", row["INSEECOM"]) else ""
        prefix = commune[:3] if commune.startswith("97") else commune[:2]
        if not row["NOM_TL"].strip():
            skips[row["ID"]] = NO_NAME
        elif row["INSEEDEP"] not in region_of:
            skips[row["ID"]] = UNKNOWN_DEPARTEMENT
        elif commune and prefix != row["INSEEDEP"]:
            skips[row["ID"]] = MISMATCH
        elif row["INSEEREG"] and region_of[row["INSEEDEP"]] != row["INSEEREG"]:
            skips[row["ID"]] = OUTSIDE_REGION
        elif not row["INSEEREG"] and not commune:
            skips[row["ID"]] = UNVERIFIABLE
    return skips


def a_row(**changes: str) -> dict[str, str]:
    row = {
        "ID": "9001",
        "NOM_TL": "La Fabrique d'Auch",
        "ADRESSE": "12 rue Gambetta",
        "CP": "32000",
        "INSEECOM": "32013",
        "NOMCOM": "Auch",
        "WEB": "https://fabrique-auch.example.fr",
        "TYPO": "Tiers lieux à dominante coworking",
        "LAT": "43.6460301",
        "LONG": "0.5857400",
        "INSEEREG": "76",
        "NOMREG": "Occitanie",
        "INSEEDEP": "32",
    }
    return row | changes


def test_the_real_census_loads_with_the_skips_computed_from_the_file():
    rows = census_rows()
    assert len(rows) == 1512

    report = tiers_lieux_import(rows=rows)

    skips = expected_skips()
    assert Counter(skips.values()) == Counter({UNVERIFIABLE: 6, MISMATCH: 3})
    assert report.skipped == Counter(skips.values())
    assert dict(report.skipped_rows) == skips
    assert report.created == 1512 - len(skips)
    assert (report.updated, report.unchanged) == (0, 0)
    assert TiersLieu.objects.filter(source=TiersLieu.Source.CGET_2019).count() == report.created
    assert {id_ for id_, reason in skips.items() if reason == MISMATCH} == {"57", "100", "1460"}


def test_running_the_import_twice_creates_no_duplicate():
    first = tiers_lieux_import(rows=census_rows())
    count = TiersLieu.objects.count()

    second = tiers_lieux_import(rows=census_rows())

    assert TiersLieu.objects.count() == count
    assert (second.created, second.updated, second.unchanged) == (0, 0, first.created)
    assert second.skipped == first.skipped


def test_departement_codes_stay_strings():
    tiers_lieux_import(rows=census_rows())
    imported = set(TiersLieu.objects.values_list("departement_id", flat=True))
    skipped = expected_skips()
    in_data = {row["INSEEDEP"] for row in census_rows() if row["ID"] not in skipped}
    special = {"01", "2A", "2B", "971", "972", "973", "974", "976"}

    assert {"01", "2A", "2B"} <= imported
    assert imported & special == in_data & special
    assert "1" not in imported and "20" not in imported
    corsica = TiersLieu.objects.filter(departement_id="2A").first()
    assert corsica is not None and corsica.departement.region_id == "94"


def test_an_overseas_place_keeps_its_three_character_code():
    report = tiers_lieux_import(
        rows=[a_row(ID="9974", INSEECOM="97411", CP="97400", INSEEDEP="974", INSEEREG="04")]
    )
    assert report.created == 1
    assert TiersLieu.objects.get(source_id="9974").departement_id == "974"


def test_activities_come_from_the_typo_column():
    tiers_lieux_import(rows=census_rows())
    by_id = {row["ID"]: row["TYPO"] for row in census_rows()}
    place = TiersLieu.objects.get(source_id="1")
    assert by_id["1"] == "Tiers lieux à dominante coworking"
    assert list(place.activities.values_list("code", flat=True)) == ["coworking"]

    fablab_id = next(id_ for id_, typo in by_id.items() if typo == "Tiers lieux à dominante fablab")
    assert list(TiersLieu.objects.get(source_id=fablab_id).activities.values_list("code", flat=True)) == [
        "fablab"
    ]
    untyped = [id_ for id_, typo in by_id.items() if typo == ""]
    assert not TiersLieu.objects.filter(source_id__in=untyped, activities__isnull=False).exists()
    assert TiersLieu.objects.filter(source_id__in=untyped).count() == len(untyped) == 49
    skipped = expected_skips()
    for code in ("coworking", "fablab"):
        kept = [id_ for id_, typo in by_id.items() if typo.endswith(code) and id_ not in skipped]
        assert TiersLieu.objects.filter(activities__code=code).count() == len(kept)


def test_a_kept_row_is_cleaned():
    tiers_lieux_import(
        rows=[
            a_row(NOM_TL="  La Fabrique d'Auch  ", CP="0", WEB=""),
            a_row(ID="9002", INSEECOM="0", LAT="", LONG="n/a", TYPO="Tiers lieux à dominante fablab"),
        ]
    )
    place = TiersLieu.objects.get(source_id="9001")
    assert place.source == TiersLieu.Source.CGET_2019
    assert place.name == "La Fabrique d'Auch"
    assert (place.postal_code, place.website, place.zone) == ("", "", "")
    assert (place.commune_code, place.commune_name, place.departement_id) == ("32013", "Auch", "32")
    assert (place.latitude, place.longitude) == (Decimal("43.646030"), Decimal("0.585740"))
    other = TiersLieu.objects.get(source_id="9002")
    assert (other.commune_code, other.postal_code) == ("", "32000")
    assert (other.latitude, other.longitude) == (None, None)
    assert other.website == "https://fabrique-auch.example.fr"
    assert list(other.activities.values_list("code", flat=True)) == ["fablab"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"INSEECOM": "78686", "INSEEDEP": "92", "INSEEREG": "11"}, MISMATCH),
        ({"INSEECOM": "2A004", "INSEEDEP": "2B", "INSEEREG": "94"}, MISMATCH),
        ({"INSEECOM": "0", "INSEEDEP": "32", "INSEEREG": "75"}, OUTSIDE_REGION),
        ({"INSEECOM": "0", "INSEEDEP": "2A", "INSEEREG": ""}, UNVERIFIABLE),
        ({"INSEECOM": "32013", "INSEEDEP": "99"}, UNKNOWN_DEPARTEMENT),
        ({"NOM_TL": "   "}, NO_NAME),
    ],
)
def test_a_row_that_cannot_be_placed_is_skipped_with_its_reason(changes, reason):
    report = tiers_lieux_import(rows=[a_row(**changes), a_row(ID="9002")])

    assert report.skipped == Counter({reason: 1})
    assert report.skipped_rows == [("9001", reason)]
    assert report.created == 1
    assert list(TiersLieu.objects.values_list("source_id", flat=True)) == ["9002"]


def test_a_commune_code_without_region_is_enough_to_check_the_departement():
    report = tiers_lieux_import(rows=[a_row(INSEEREG="", NOMREG="")])
    assert (report.created, report.skipped_total) == (1, 0)


def test_a_changed_row_is_counted_as_updated():
    tiers_lieux_import(rows=[a_row(), a_row(ID="9002")])

    report = tiers_lieux_import(
        rows=[a_row(NOM_TL="La Nouvelle Fabrique"), a_row(ID="9002", TYPO="Tiers lieux à dominante fablab")]
    )

    assert (report.created, report.updated, report.unchanged) == (0, 2, 0)
    assert TiersLieu.objects.get(source_id="9001").name == "La Nouvelle Fabrique"
    assert list(TiersLieu.objects.get(source_id="9002").activities.values_list("code", flat=True)) == [
        "fablab"
    ]
    assert TiersLieu.objects.count() == 2


def test_the_import_leaves_the_zone_and_other_sources_alone():
    applicants_place = TiersLieu.objects.create(
        name="Lieu saisi par un porteur", departement_id="32", source_id="9001"
    )
    tiers_lieux_import(rows=[a_row()])
    place = TiersLieu.objects.get(source=TiersLieu.Source.CGET_2019, source_id="9001")
    place.zone = "rural"
    place.save()

    report = tiers_lieux_import(rows=[a_row(NOM_TL="La Fabrique d'Auch (Gers)")])

    assert (report.created, report.updated) == (0, 1)
    place.refresh_from_db()
    assert (place.name, place.zone) == ("La Fabrique d'Auch (Gers)", "rural")
    applicants_place.refresh_from_db()
    assert applicants_place.name == "Lieu saisi par un porteur"
    assert applicants_place.source == TiersLieu.Source.APPLICANT


def test_a_repeated_id_is_imported_once():
    report = tiers_lieux_import(rows=[a_row(), a_row(NOM_TL="Doublon")])
    assert (report.created, report.skipped_rows) == (1, [("9001", "identifiant en double")])
    assert TiersLieu.objects.get().name == "La Fabrique d'Auch"


def test_the_command_prints_the_figures_in_french():
    out = io.StringIO()
    call_command("import_tiers_lieux", stdout=out)
    output = out.getvalue()

    assert "Créés : 1503" in output
    assert "Mis à jour : 0" in output
    assert "Inchangés : 0" in output
    assert "Ignorés : 9" in output
    assert "  6 ignorés : département invérifiable : ni région ni commune" in output
    assert "  3 ignorés : commune et département incohérents" in output

    again = io.StringIO()
    call_command("import_tiers_lieux", stdout=again)
    assert "Créés : 0" in again.getvalue()
    assert "Inchangés : 1503" in again.getvalue()


def test_the_command_reads_another_file(tmp_path):
    path = tmp_path / "lieux.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(a_row()))
        writer.writeheader()
        writer.writerow(a_row())
        writer.writerow(a_row(ID="9002", INSEEDEP="2B", INSEECOM="0", INSEEREG="94"))
        writer.writerow(a_row(ID="9003", INSEEDEP="2B", INSEECOM="0", INSEEREG="84"))
    out = io.StringIO()

    call_command("import_tiers_lieux", file=str(path), stdout=out)

    assert "Créés : 2" in out.getvalue()
    assert "  1 ignoré : département hors de la région indiquée" in out.getvalue()


def test_the_command_refuses_a_missing_file_in_french(tmp_path):
    with pytest.raises(CommandError, match="Fichier introuvable"):
        call_command("import_tiers_lieux", file=str(tmp_path / "absent.csv"), stdout=io.StringIO())
    assert not TiersLieu.objects.exists()


def test_the_command_refuses_a_file_without_the_census_columns(tmp_path):
    path = tmp_path / "autre.csv"
    path.write_text("nom,ville\nLa Fabrique,Auch\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Colonnes absentes du fichier"):
        call_command("import_tiers_lieux", file=str(path), stdout=io.StringIO())
