import csv
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from fabriques.models import Departement, InstructorScope, Region
from fabriques.selectors import departements_in_scope
from fabriques.services import instructor_scope_set
from tests.factories import applicant, instructor

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "fabriques" / "data"


def test_the_migration_loads_18_regions_and_101_departements_of_the_2025_cog():
    assert Region.objects.count() == 18
    assert Departement.objects.count() == 101
    assert set(Region.objects.values_list("cog_year", flat=True)) == {2025}
    assert set(Departement.objects.values_list("cog_year", flat=True)) == {2025}


def test_codes_stay_strings_with_leading_zeros_and_letters():
    codes = set(Departement.objects.values_list("code", flat=True))
    assert {"01", "2A", "2B", "971", "976"} <= codes
    assert "1" not in codes and "20" not in codes
    assert Departement.objects.get(code="2A").region_id == "94"
    assert Departement.objects.get(code="976").region.name == "Mayotte"
    assert Departement.objects.get(code="976").region_id == "06"
    assert Departement.objects.get(code="32").name == "Gers"
    assert Departement.objects.get(code="32").region.name == "Occitanie"


def test_every_departement_matches_the_shipped_file():
    with open(DATA / "cog-departements-2025.csv", encoding="utf-8") as handle:
        rows = {row["code"]: (row["name"], row["region_code"]) for row in csv.DictReader(handle)}
    loaded = {d.code: (d.name, d.region_id) for d in Departement.objects.all()}
    assert loaded == rows


def test_instructor_scope_by_region_and_by_departement():
    user = instructor()
    instructor_scope_set(
        instructor=user,
        regions=[Region.objects.get(code="94")],
        departements=[Departement.objects.get(code="32")],
        actor=None,
    )
    assert list(departements_in_scope(instructor=user).values_list("code", flat=True)) == ["2A", "2B", "32"]


def test_a_scope_names_a_region_or_a_departement_never_both_nor_neither():
    user = instructor()
    both = InstructorScope(
        instructor=user, region=Region.objects.get(code="76"), departement=Departement.objects.get(code="32")
    )
    with pytest.raises(ValidationError, match="Choisissez soit une région, soit un département."):
        both.full_clean()
    with pytest.raises(ValidationError, match="au moins une région ou un département"):
        instructor_scope_set(instructor=user, actor=None)
    assert not InstructorScope.objects.exists()


def test_only_instructors_get_a_scope():
    with pytest.raises(ValidationError, match="Seul un instructeur"):
        instructor_scope_set(instructor=applicant(), regions=[Region.objects.get(code="76")], actor=None)
    assert not InstructorScope.objects.exists()
