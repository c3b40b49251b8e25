"""Step two: terminal history points at their session's UUID, the session's primary key since
workspaces 0004. Renaming the column and altering it into the foreign key keeps the values (no
update of rows under a deferred constraint, which PostgreSQL would refuse to alter after)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("terminal", "0002_terminalhistory_session_uuid"),
        ("workspaces", "0004_session_uuid_primary_key"),
    ]

    operations = [
        migrations.RenameField(
            model_name="terminalhistory", old_name="session_uuid", new_name="session"
        ),
        migrations.AlterField(
            model_name="terminalhistory",
            name="session",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="terminal_history",
                to="workspaces.session",
            ),
        ),
        migrations.AddIndex(
            model_name="terminalhistory",
            index=models.Index(fields=["session", "created_at"], name="terminal_session_idx"),
        ),
    ]
