"""The census search of the places page: accents and case ignored, on name, commune, postcode and
département, whole words before substrings, a département filter; the same on SQLite and PostgreSQL
(run this file with DATABASE_URL pointing at PostgreSQL too)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fabriques.importers import tiers_lieux_import
from fabriques.models import Departement, TiersLieu
from fabriques.search import normalise, search_words
from fabriques.selectors import CENSUS_RESULTS, census_search
from tests.factories import complete_application

pytestmark = pytest.mark.django_db

CENSUS = TiersLieu.Source.CGET_2019


def census(
    name: str, departement: str, commune: str = "", postcode: str = "", source_id: str = ""
) -> TiersLieu:
    return TiersLieu.objects.create(
        name=name,
        commune_name=commune,
        postal_code=postcode,
        departement_id=departement,
        source=CENSUS,
        source_id=source_id or name[:20],
    )


@pytest.fixture
def places() -> dict[str, TiersLieu]:
    return {
        "bobine": census("La Bobine", "32", "Auch", "32000"),
        "hangar": census("Le Hangar numérique", "32", "Condom", "32100"),
        # A place of the census with no commune: still found by its département.
        "sans_commune": census("Tiers-lieu sans commune", "32"),
        # « auch » inside « Gauche »: a substring only, in Paris.
        "rive_gauche": census("Rive Gauche Coworking", "75", "Paris", "75006"),
        "ile": census("L'Île aux Savoirs", "44", "Nantes", "44000"),
        # « gers » inside « Angers »: a substring only.
        "angers": census("Atelier d'Angers", "49", "Angers", "49000"),
        # An applicant's own place is not in the census: never offered.
        "applicant": TiersLieu.objects.create(
            name="Fabrique d'Auch", departement_id="32", commune_name="Auch"
        ),
    }


def names(found: list[TiersLieu]) -> list[str]:
    return [place.name for place in found]


def test_normalise_removes_accents_case_ligatures_and_punctuation():
    assert normalise("L'Île-de-France") == "l ile de france"
    assert normalise("  ŒUVRE   Œcuménique ") == "oeuvre oecumenique"
    assert search_words("Gers gers GERS Auch") == ["gers", "auch"]


@pytest.mark.parametrize("query", ["Gers", "gers", "GERS", "32", "gérs"])
def test_the_departement_by_name_or_code_finds_every_gers_place(places, query):
    found = names(census_search(query=query))
    gers = {"La Bobine", "Le Hangar numérique", "Tiers-lieu sans commune"}
    assert set(found[:3]) == gers
    # Angers (a substring of its name) may follow, never before; nothing else of other départements.
    assert set(found) - gers <= {"Atelier d'Angers"}
    assert "Fabrique d'Auch" not in found


@pytest.mark.parametrize("query", ["Auch", "auch", "AUCH"])
def test_a_commune_as_a_whole_word_comes_before_a_substring(places, query):
    assert names(census_search(query=query)) == ["La Bobine", "Rive Gauche Coworking"]


def test_a_postcode_finds_its_places(places):
    assert names(census_search(query="32000")) == ["La Bobine"]
    assert names(census_search(query="75006")) == ["Rive Gauche Coworking"]


@pytest.mark.parametrize("query", ["Île", "ile", "ÎLE", "l'ile aux savoirs"])
def test_accented_and_plain_letters_are_equivalent(places, query):
    assert names(census_search(query=query)) == ["L'Île aux Savoirs"]


def test_every_word_must_match(places):
    assert names(census_search(query="hangar condom")) == ["Le Hangar numérique"]
    assert census_search(query="hangar paris") == []


def test_the_departement_filter_narrows_and_lists_alone(places):
    paris = Departement.objects.get(code="75")
    gers = Departement.objects.get(code="32")
    assert names(census_search(query="auch", departement=paris)) == ["Rive Gauche Coworking"]
    assert names(census_search(query="", departement=gers)) == [
        "La Bobine",
        "Le Hangar numérique",
        "Tiers-lieu sans commune",
    ]
    assert census_search(query="") == []


def test_the_search_is_one_query_and_bounded(places):
    for index in range(CENSUS_RESULTS + 5):
        census(f"Lieu {index}", "32", "Auch", "32000", source_id=f"lot-{index}")
    with CaptureQueriesContext(connection) as queries:
        found = census_search(query="auch")
        [place.departement.name for place in found]
    assert len(queries) == 1
    assert len(found) == CENSUS_RESULTS + 1


def test_the_search_text_follows_a_renamed_place(places):
    place = places["hangar"]
    place.name = "La Forge"
    place.save(update_fields=["name"])
    assert names(census_search(query="forge")) == ["La Forge"]
    assert census_search(query="hangar") == []


def test_the_import_fills_the_search_text():
    report = tiers_lieux_import(
        rows=[
            {
                "ID": "1",
                "NOM_TL": "Château des Ondes",
                "INSEEDEP": "32",
                "INSEEREG": "76",
                "NOMCOM": "Lectoure",
                "CP": "32700",
            },
            {"ID": "2", "NOM_TL": "Sans Commune", "INSEEDEP": "32", "INSEEREG": "76"},
        ]
    )
    assert report.created == 2
    assert names(census_search(query="chateau lectoure")) == ["Château des Ondes"]
    assert names(census_search(query="gers")) == ["Château des Ondes", "Sans Commune"]
    # A second import changing the name updates the search text too.
    tiers_lieux_import(
        rows=[
            {
                "ID": "1",
                "NOM_TL": "Studio des Ondes",
                "INSEEDEP": "32",
                "INSEEREG": "76",
                "NOMCOM": "Lectoure",
                "CP": "32700",
            },
            {"ID": "2", "NOM_TL": "Sans Commune", "INSEEDEP": "32", "INSEEREG": "76"},
        ]
    )
    assert names(census_search(query="studio")) == ["Studio des Ondes"]


def test_the_places_page_searches_with_the_departement_filter(client, places):
    application = complete_application()
    client.force_login(application.created_by)
    page_url = reverse("applications:dossier-places", args=[application.reference])
    page = client.get(page_url, {"q": "auch"}).content.decode()
    assert page.index("La Bobine") < page.index("Rive Gauche Coworking")
    assert 'id="recherche-departement"' in page
    filtered = client.get(page_url, {"q": "auch", "departement": "75"}).content.decode()
    assert "Rive Gauche Coworking" in filtered and "Auch 32000" not in filtered
    assert '<option value="75" selected>' in filtered
    alone = client.get(page_url, {"departement": "32"}).content.decode()
    assert "Tiers-lieu sans commune" in alone
    unknown = client.get(page_url, {"q": "auch", "departement": "999"}).content.decode()
    assert "Ce département n&#x27;existe pas : choisissez-le dans la liste." in unknown
    assert "Rive Gauche Coworking" not in unknown
    # The page's queries do not grow with the number of places found.
    with CaptureQueriesContext(connection) as few:
        client.get(page_url, {"q": "gers"})
    for index in range(CENSUS_RESULTS + 5):
        census(f"Lieu {index}", "32", "Auch", "32000", source_id=f"lot-{index}")
    with CaptureQueriesContext(connection) as many:
        client.get(page_url, {"q": "gers"})
    assert len(many) == len(few)


def test_the_data_migration_fills_the_places_already_stored(places):
    from importlib import import_module

    from django.apps import apps

    TiersLieu.objects.update(search_text="")
    assert census_search(query="gers") == []
    import_module("fabriques.migrations.0005_place_search").fill_search_text(apps, None)
    assert (
        TiersLieu.objects.get(pk=places["ile"].pk).search_text
        == " l ile aux savoirs nantes 44000 44 loire atlantique "
    )
    assert names(census_search(query="gers"))[:3] == [
        "La Bobine",
        "Le Hangar numérique",
        "Tiers-lieu sans commune",
    ]
