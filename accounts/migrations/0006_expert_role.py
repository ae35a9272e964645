"""The role « Expert », as a group: the accounts asked for an opinion on dossiers."""

from django.db import migrations


def create_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="expert")


def delete_role(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="expert").delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_unread_notifications")]
    operations = [migrations.RunPython(create_role, delete_role)]
