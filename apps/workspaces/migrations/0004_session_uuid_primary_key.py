"""The session's UUID becomes its primary key and its client id is unique per project.

Chat messages and terminal history point at the UUID already (their 0002), so nothing refers to
the old key any more when it is dropped.
"""

import uuid

import django.core.validators
from django.db import migrations, models


def new_fields() -> tuple[models.Field, models.Field]:
    session_id = models.CharField(
        max_length=65,
        validators=[django.core.validators.RegexValidator("^[A-Za-z0-9-]{1,65}$")],
    )
    session_id.set_attributes_from_name("id")
    key = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, serialize=False)
    key.set_attributes_from_name("uuid")
    return session_id, key


def swap_primary_key(apps, schema_editor):
    Session = apps.get_model("workspaces", "Session")
    old_id, old_key = Session._meta.get_field("id"), Session._meta.get_field("uuid")
    new_id, new_key = new_fields()
    for field in (new_id, new_key):
        field.model = Session
    if schema_editor.connection.vendor == "sqlite":
        # SQLite rebuilds the table; the rebuild that makes `uuid` the key drops the old key.
        schema_editor.alter_field(Session, old_key, new_key)
    else:
        # A table has one primary key at a time: drop the old one before adding the new one.
        schema_editor.alter_field(Session, old_id, new_id)
        schema_editor.alter_field(Session, old_key, new_key)


class Migration(migrations.Migration):
    dependencies = [
        ("workspaces", "0003_workspace_real_path_session_uuid"),
        ("chat", "0002_message_session_uuid"),
        ("terminal", "0002_terminalhistory_session_uuid"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(swap_primary_key)],
            state_operations=[
                migrations.AlterField(
                    model_name="session",
                    name="uuid",
                    field=models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                migrations.AlterField(
                    model_name="session",
                    name="id",
                    field=models.CharField(
                        max_length=65,
                        validators=[django.core.validators.RegexValidator("^[A-Za-z0-9-]{1,65}$")],
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="session",
            constraint=models.UniqueConstraint(
                fields=("project", "id"), name="unique_session_id_per_project"
            ),
        ),
    ]
