# The Job model now lives in `core` (core 0001 takes it over); its table and rows stay.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0003_job"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Job")],
            database_operations=[],
        ),
    ]
