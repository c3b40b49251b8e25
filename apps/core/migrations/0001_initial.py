# Jobs became the platform's: the model moves here from `projects`, its table stays
# `projects_job` and keeps its rows (state only, nothing is copied).

import uuid

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("projects", "0003_job"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Job",
                    fields=[
                        (
                            "id",
                            models.UUIDField(
                                default=uuid.uuid4,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("type", models.CharField(max_length=30)),
                        ("resource_type", models.CharField(max_length=20)),
                        ("resource_id", models.CharField(max_length=65)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("running", "Running"),
                                    ("completed", "Completed"),
                                    ("failed", "Failed"),
                                ],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("max_attempts", models.PositiveSmallIntegerField()),
                        ("error", models.TextField(blank=True)),
                        ("run_after", models.DateTimeField(blank=True, null=True)),
                        ("lease_expires_at", models.DateTimeField(blank=True, null=True)),
                        ("worker_id", models.CharField(blank=True, max_length=100)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="jobs",
                                to="projects.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "projects_job",
                        "ordering": ("created_at", "id"),
                        "indexes": [
                            models.Index(
                                fields=["status", "lease_expires_at"], name="job_lease_idx"
                            ),
                            models.Index(
                                fields=["resource_type", "resource_id"], name="job_resource_idx"
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
