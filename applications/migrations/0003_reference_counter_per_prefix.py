"""References are counted per prefix and year, so that two calls sharing a prefix never collide.

No reference had been handed out when this changed: the counter table is rebuilt empty.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("applications", "0002_seed_call")]

    operations = [
        migrations.DeleteModel(name="ReferenceCounter"),
        migrations.CreateModel(
            name="ReferenceCounter",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("prefix", models.CharField(max_length=6)),
                ("year", models.PositiveSmallIntegerField()),
                ("last_number", models.PositiveIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("prefix", "year"), name="applications_refcounter_prefix_year"
                    )
                ]
            },
        ),
    ]
