"""Step one of keying sessions by UUID (workspaces 0003-0004): each message remembers its
session's UUID while the foreign key to the old key is dropped; 0003 points it at the new key."""

from django.db import migrations, models


def remember_session_uuids(apps, schema_editor):
    Message = apps.get_model("chat", "Message")
    Session = apps.get_model("workspaces", "Session")
    Message.objects.update(
        session_uuid=models.Subquery(
            Session.objects.filter(pk=models.OuterRef("session_id")).values("uuid")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0001_initial"),
        ("workspaces", "0003_workspace_real_path_session_uuid"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="message", name="unique_message_id_per_session"),
        migrations.RemoveIndex(model_name="message", name="message_session_idx"),
        migrations.AddField(
            model_name="message",
            name="session_uuid",
            field=models.UUIDField(null=True),
        ),
        migrations.RunPython(remember_session_uuids, elidable=True),
        migrations.RemoveField(model_name="message", name="session"),
    ]
