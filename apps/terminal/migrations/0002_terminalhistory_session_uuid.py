"""Step one of keying sessions by UUID (workspaces 0003-0004): each entry remembers its
session's UUID while the foreign key to the old key is dropped; 0003 points it at the new key."""

from django.db import migrations, models


def remember_session_uuids(apps, schema_editor):
    TerminalHistory = apps.get_model("terminal", "TerminalHistory")
    Session = apps.get_model("workspaces", "Session")
    TerminalHistory.objects.update(
        session_uuid=models.Subquery(
            Session.objects.filter(pk=models.OuterRef("session_id")).values("uuid")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("terminal", "0001_initial"),
        ("workspaces", "0003_workspace_real_path_session_uuid"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="terminalhistory", name="terminal_session_idx"),
        migrations.AddField(
            model_name="terminalhistory",
            name="session_uuid",
            field=models.UUIDField(null=True),
        ),
        migrations.RunPython(remember_session_uuids, elidable=True),
        migrations.RemoveField(model_name="terminalhistory", name="session"),
    ]
