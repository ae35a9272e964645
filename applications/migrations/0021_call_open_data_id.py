"""The call's stable identifier as a « dispositif d'aide » (Call.open_data_id).

Added empty, filled with one fresh UUID per existing call, then made required and unique: a
default on AddField would give every existing row the same value.
"""

import uuid

from django.db import migrations, models


def draw_identifiers(apps, schema_editor):
    Call = apps.get_model("applications", "Call")
    for call in Call.objects.filter(open_data_id__isnull=True).only("pk"):
        Call.objects.filter(pk=call.pk).update(open_data_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0020_opinions"),
    ]

    operations = [
        migrations.AddField(
            model_name="call",
            name="open_data_id",
            field=models.UUIDField(
                editable=False, null=True, verbose_name="identifiant du dispositif d'aide"
            ),
        ),
        migrations.RunPython(draw_identifiers, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="call",
            name="open_data_id",
            field=models.UUIDField(
                default=uuid.uuid4,
                editable=False,
                unique=True,
                verbose_name="identifiant du dispositif d'aide",
            ),
        ),
    ]
