from django.db import migrations, models


def first_row(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("core", "DataGeneration").objects.using(schema_editor.connection.alias).create(id=1)


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="DataGeneration",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("generation", models.BigIntegerField(default=0)),
                ("changes", models.BigIntegerField(default=0)),
            ],
            options={"verbose_name": "génération des données", "default_permissions": ()},
        ),
        migrations.CreateModel(
            name="DataChange",
            fields=[("txid", models.BigIntegerField(primary_key=True, serialize=False))],
            options={"verbose_name": "transaction d'écriture", "default_permissions": ()},
        ),
        migrations.RunPython(first_row, migrations.RunPython.noop),
    ]
