"""Create the single AccessToken and SyncStatus rows that every process updates in place.

With the rows always present, processes coordinate with conditional UPDATEs only, and never race
to INSERT the same row.
"""

from django.db import migrations


def create_singletons(apps, schema_editor):
    for model_name in ("AccessToken", "SyncStatus"):
        apps.get_model("offers_sync", model_name).objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("offers_sync", "0001_initial")]

    operations = [migrations.RunPython(create_singletons, migrations.RunPython.noop)]
