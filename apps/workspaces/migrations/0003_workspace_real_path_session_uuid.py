"""Workspaces record the folder they use (symlinks resolved), and sessions get a UUID key so that
their client ids can become unique per project (0004 makes the UUID the primary key)."""

import os
import uuid
from urllib.parse import unquote, urlsplit

from django.db import migrations, models


def real_path_of(path: str, source_type: str) -> str:
    """The folder a workspace takes its files from, as services.workspace_source_check finds it."""
    if source_type == "git":
        if path.startswith("file://"):
            parts = urlsplit(path)
            if parts.netloc not in ("", "localhost"):
                return ""
            path = unquote(parts.path)
        elif not path.startswith(("/", "~")):
            return ""  # a remote URL
    return os.path.realpath(os.path.expanduser(path))


def fill_real_paths(apps, schema_editor):
    Workspace = apps.get_model("workspaces", "Workspace")
    workspaces = list(Workspace.objects.only("id", "path", "source_type"))
    for workspace in workspaces:
        workspace.real_path = real_path_of(workspace.path, workspace.source_type)
    Workspace.objects.bulk_update(workspaces, ["real_path"], batch_size=500)


def fill_session_uuids(apps, schema_editor):
    Session = apps.get_model("workspaces", "Session")
    sessions = list(Session.objects.only("id"))
    for session in sessions:
        session.uuid = uuid.uuid4()
    Session.objects.bulk_update(sessions, ["uuid"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("workspaces", "0002_workspace_init_git"),
    ]

    operations = [
        migrations.AddField(
            model_name="workspace",
            name="real_path",
            field=models.CharField(blank=True, max_length=1000),
        ),
        migrations.RunPython(fill_real_paths, migrations.RunPython.noop, elidable=True),
        # Nullable first: an AddField default would give every existing row the same UUID.
        migrations.AddField(
            model_name="session",
            name="uuid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_session_uuids, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="session",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
