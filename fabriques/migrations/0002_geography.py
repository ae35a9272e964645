"""Load the 18 régions and 101 départements of the INSEE COG 2025 from fabriques/data/."""

import csv
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"
COG_YEAR = 2025


def read(name):
    with open(DATA / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load(apps, schema_editor):
    Region = apps.get_model("fabriques", "Region")
    Departement = apps.get_model("fabriques", "Departement")
    for row in read("cog-regions-2025.csv"):
        Region.objects.update_or_create(
            code=row["code"], defaults={"name": row["name"], "cog_year": COG_YEAR}
        )
    for row in read("cog-departements-2025.csv"):
        Departement.objects.update_or_create(
            code=row["code"],
            defaults={"name": row["name"], "region_id": row["region_code"], "cog_year": COG_YEAR},
        )


def unload(apps, schema_editor):
    apps.get_model("fabriques", "Departement").objects.filter(cog_year=COG_YEAR).delete()
    apps.get_model("fabriques", "Region").objects.filter(cog_year=COG_YEAR).delete()


class Migration(migrations.Migration):
    dependencies = [("fabriques", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
