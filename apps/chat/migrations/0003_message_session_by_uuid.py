"""Step two: messages point at their session's UUID, the session's primary key since
workspaces 0004. Renaming the column and altering it into the foreign key keeps the values (no
update of rows under a deferred constraint, which PostgreSQL would refuse to alter after)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_message_session_uuid"),
        ("workspaces", "0004_session_uuid_primary_key"),
    ]

    operations = [
        migrations.RenameField(model_name="message", old_name="session_uuid", new_name="session"),
        migrations.AlterField(
            model_name="message",
            name="session",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="messages",
                to="workspaces.session",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["session", "created_at"], name="message_session_idx"),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                fields=("session", "message_id"), name="unique_message_id_per_session"
            ),
        ),
    ]
