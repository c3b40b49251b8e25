"""Seeds anonymous mode: the anonymous user and the `local` project it owns (contract §1)."""

import uuid

from django.db import migrations
from django.utils import timezone

ANONYMOUS_USER_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")


def seed(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Project = apps.get_model("projects", "Project")
    ProjectMember = apps.get_model("projects", "ProjectMember")
    user, _ = User.objects.get_or_create(
        id=ANONYMOUS_USER_ID,
        defaults={
            "email": "anonymous@local",
            "name": "Anonymous User",
            "provider": "local",
            "password": "!",
        },
    )
    project, _ = Project.objects.get_or_create(
        id="local", defaults={"name": "Local", "slug": "local"}
    )
    ProjectMember.objects.get_or_create(
        project=project, user=user, defaults={"role": "owner", "accepted_at": timezone.now()}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("projects", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
