"""The scoring grid and eligibility checks of « Fabriques de territoires », from the published criteria.

No numeric grid was published: the weights below are the portal's default, changed per call in the
admin site. The signatory is a placeholder the programme sets before the first decision.
"""

from django.db import migrations

CRITERIA = [
    (
        "Gouvernance par un collectif identifié",
        "Qui décide, comment les usagers et partenaires y prennent part.",
        15,
    ),
    (
        "Qualité et diversité des partenariats locaux",
        "Collectivités, associations, entreprises, autres tiers-lieux.",
        15,
    ),
    ("Réponse à un besoin du territoire", "Le besoin est documenté ; le lieu y répond.", 15),
    (
        "Pluralité des services numériques",
        "Médiation, fabrication numérique, formation, accès au numérique.",
        10,
    ),
    ("Viabilité du modèle économique", "Recettes propres, cofinancements, trajectoire sur trois ans.", 15),
    ("Financement d'un emploi", "La subvention consolide ou crée un emploi d'animation.", 10),
    (
        "Rôle de lieu ressource pour les autres tiers-lieux",
        "Accompagnement, mutualisation, animation de réseau.",
        15,
    ),
    ("Implantation (QPV ou zone rurale)", "Dans ou près d'un quartier prioritaire, ou en zone rurale.", 5),
]

CHECKS = [
    ("Le porteur est une personne morale existante (SIRET vérifié).", ""),
    (
        "Le lieu est situé en zone rurale ou dans un QPV (dans ou près d'un QPV pour une fabrique numérique).",
        "",
    ),
    ("Le projet finance le fonctionnement du lieu, pas un investissement.", ""),
    ("Les pièces justificatives sont conformes.", ""),
]


def seed(apps, schema_editor):
    Call = apps.get_model("applications", "Call")
    Criterion = apps.get_model("applications", "Criterion")
    EligibilityCheck = apps.get_model("applications", "EligibilityCheck")
    call = Call.objects.filter(slug="fabriques-de-territoires").first()
    if call is None:
        return
    if not call.signatory_name:
        call.signatory_name = "Le directeur général de l'ANCT"
        call.signatory_title = "Pour le ministre, par délégation"
        call.save(update_fields=["signatory_name", "signatory_title"])
    for position, (label, help_text, weight) in enumerate(CRITERIA):
        Criterion.objects.get_or_create(
            call=call, label=label, defaults={"help_text": help_text, "weight": weight, "position": position}
        )
    for position, (label, help_text) in enumerate(CHECKS):
        EligibilityCheck.objects.get_or_create(
            call=call, label=label, defaults={"help_text": help_text, "position": position}
        )


def unseed(apps, schema_editor):
    apps.get_model("applications", "Criterion").objects.filter(call__slug="fabriques-de-territoires").delete()
    apps.get_model("applications", "EligibilityCheck").objects.filter(
        call__slug="fabriques-de-territoires"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("applications", "0004_review_and_envelope")]
    operations = [migrations.RunPython(seed, unseed)]
