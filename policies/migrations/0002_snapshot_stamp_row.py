from django.db import migrations


def create_stamp(apps, schema_editor):
    apps.get_model("policies", "SnapshotStamp").objects.get_or_create(pk=1, defaults={"version": 1})


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]
    operations = [migrations.RunPython(create_stamp, migrations.RunPython.noop)]
