"""The usual INSEE legal categories of applicants, and the activities of a tiers-lieu."""

import csv
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"

ACTIVITIES = [
    ("coworking", "Coworking"),
    ("fablab", "Fablab, atelier de fabrication numérique"),
    ("audiovisual", "Studio audiovisuel"),
    ("training", "Formation"),
    ("digital-inclusion", "Médiation et inclusion numérique"),
    ("incubator", "Incubation, accompagnement d'entreprises"),
    ("makerspace", "Atelier partagé, ressourcerie, repair café"),
    ("culture", "Activités culturelles et artistiques"),
    ("food", "Alimentation, tiers-lieu nourricier"),
    ("public-services", "Services au public (France services…)"),
    ("childcare", "Garde d'enfants, accueil des familles"),
    ("events", "Événements, salles de réunion"),
]


def load(apps, schema_editor):
    LegalCategory = apps.get_model("fabriques", "LegalCategory")
    Activity = apps.get_model("fabriques", "Activity")
    with open(DATA / "categories-juridiques.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            LegalCategory.objects.update_or_create(
                code=row["code"], defaults={"label": row["label"], "family": row["family"]}
            )
    for position, (code, label) in enumerate(ACTIVITIES):
        Activity.objects.update_or_create(code=code, defaults={"label": label, "position": position})


def unload(apps, schema_editor):
    apps.get_model("fabriques", "Activity").objects.all().delete()
    apps.get_model("fabriques", "LegalCategory").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("fabriques", "0003_organisations_places")]
    operations = [migrations.RunPython(load, unload)]
