"""The first call, « Fabriques de territoires », with the figures of the programme.

54 M€ for 360 fabriques (360 × 150 000 €), 75 000 € to 150 000 € over 3 years, at most 50 000 € a
year, a 100 000 € bonus for fabriques numériques de territoire. Each figure is a field of the call,
changed through the admin site, never a constant in code.
"""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import migrations

PARIS = ZoneInfo("Europe/Paris")

DOCUMENTS = [
    # code, label, help, mandatory, families (empty: all), formats, max MB
    ("statuts", "Statuts à jour", "Les statuts signés, dans leur dernière version.", True, [], "pdf", 10),
    (
        "dirigeants",
        "Liste des dirigeants",
        "Membres du bureau ou du conseil d'administration, ou dirigeants de la société.",
        True,
        [],
        "pdf",
        10,
    ),
    (
        "comptes",
        "Derniers comptes approuvés",
        "Bilan et compte de résultat du dernier exercice clos.",
        True,
        [],
        "pdf",
        20,
    ),
    ("rapport-activite", "Dernier rapport d'activité", "", False, [], "pdf", 20),
    (
        "rib",
        "Relevé d'identité bancaire",
        "Au nom de la structure cheffe de file.",
        True,
        [],
        "pdf,jpg,jpeg,png",
        5,
    ),
    (
        "budget-previsionnel",
        "Budget prévisionnel détaillé",
        "Sur les trois années du projet.",
        True,
        [],
        "pdf,xlsx,ods",
        10,
    ),
    (
        "lettres-soutien",
        "Lettres de soutien",
        "Collectivités, partenaires, autres tiers-lieux.",
        False,
        [],
        "pdf",
        20,
    ),
    (
        "deliberation",
        "Délibération de l'organe délibérant",
        "Pour une collectivité ou un groupement : la délibération approuvant le projet.",
        True,
        ["local_authority", "syndicat_mixte"],
        "pdf",
        10,
    ),
    (
        "contrat-engagement-republicain",
        "Attestation de souscription au contrat d'engagement républicain",
        "Pour une association ou une fondation (loi du 24 août 2021).",
        True,
        ["association"],
        "pdf",
        5,
    ),
]


def seed(apps, schema_editor):
    Call = apps.get_model("applications", "Call")
    Wave = apps.get_model("applications", "Wave")
    RequiredDocument = apps.get_model("applications", "RequiredDocument")
    call, _ = Call.objects.get_or_create(
        slug="fabriques-de-territoires",
        defaults={
            "title": "Fabriques de territoires",
            "description": (
                "Appel à manifestation d'intérêt pour soutenir des tiers-lieux structurants, lieux "
                "ressources pour les autres tiers-lieux de leur territoire, en quartier prioritaire "
                "de la politique de la ville ou en zone rurale. Subvention de fonctionnement de "
                "75 000 € à 150 000 € sur trois ans, au plus 50 000 € par an."
            ),
            "reference_prefix": "FDT",
            "status": "open",
            "opens_at": datetime.datetime(2026, 1, 5, 9, 0, tzinfo=PARIS),
            "closes_at": datetime.datetime(2028, 12, 31, 23, 59, tzinfo=PARIS),
            "envelope": Decimal("54000000.00"),
            "target_count": 360,
            "min_award": Decimal("75000.00"),
            "max_award": Decimal("150000.00"),
            "max_per_year": Decimal("50000.00"),
            "duration_years": 3,
            "fnt_bonus": Decimal("100000.00"),
        },
    )
    # Quarterly waves, as the programme examined dossiers from 2020 on.
    deadlines = [
        (2026, 3, 31),
        (2026, 6, 30),
        (2026, 9, 30),
        (2026, 12, 31),
        (2027, 3, 31),
        (2027, 6, 30),
        (2027, 9, 30),
        (2027, 12, 31),
        (2028, 6, 30),
        (2028, 12, 31),
    ]
    for number, (year, month, day) in enumerate(deadlines, start=1):
        Wave.objects.get_or_create(
            call=call,
            number=number,
            defaults={
                "name": f"Vague {number}",
                "deadline": datetime.datetime(year, month, day, 23, 59, tzinfo=PARIS),
            },
        )
    for position, (code, label, help_text, mandatory, families, formats, size) in enumerate(DOCUMENTS):
        RequiredDocument.objects.get_or_create(
            call=call,
            code=code,
            defaults={
                "label": label,
                "help_text": help_text,
                "mandatory": mandatory,
                "families": families,
                "allowed_formats": formats,
                "max_size_mb": size,
                "position": position,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("applications", "Call").objects.filter(slug="fabriques-de-territoires").delete()


class Migration(migrations.Migration):
    dependencies = [("applications", "0001_calls_and_dossiers")]
    operations = [migrations.RunPython(seed, unseed)]
