"""Terminal history becomes a transcript: each row is one line with its number in the session's
transcript (rows written by one capture share a timestamp), and each session remembers what it
last read from its tmux terminals. Rows that exist are numbered in their old order."""

import django.db.models.deletion
from django.db import migrations, models


def number_existing_lines(apps, schema_editor):
    TerminalHistory = apps.get_model("terminal", "TerminalHistory")
    numbers: dict[object, int] = {}
    for row in TerminalHistory.objects.order_by("session_id", "created_at", "id").only(
        "id", "session_id"
    ):
        numbers[row.session_id] = numbers.get(row.session_id, 0) + 1
        TerminalHistory.objects.filter(pk=row.pk).update(line=numbers[row.session_id])


class Migration(migrations.Migration):
    dependencies = [
        ("terminal", "0003_terminalhistory_session_by_uuid"),
        ("workspaces", "0004_session_uuid_primary_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="terminalhistory",
            name="line",
            field=models.PositiveBigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.RunPython(number_existing_lines, migrations.RunPython.noop, elidable=True),
        migrations.AlterModelOptions(
            name="terminalhistory",
            options={"ordering": ("created_at", "line"), "verbose_name_plural": "terminal history"},
        ),
        migrations.RemoveIndex(model_name="terminalhistory", name="terminal_session_idx"),
        migrations.AddIndex(
            model_name="terminalhistory",
            index=models.Index(fields=["created_at"], name="terminal_created_idx"),
        ),
        migrations.AddConstraint(
            model_name="terminalhistory",
            constraint=models.UniqueConstraint(
                fields=("session", "line"), name="terminal_line_per_session"
            ),
        ),
        migrations.CreateModel(
            name="TerminalTranscript",
            fields=[
                (
                    "session",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="terminal_transcript",
                        serialize=False,
                        to="workspaces.session",
                    ),
                ),
                ("terminals", models.JSONField(default=dict)),
                ("next_line", models.PositiveBigIntegerField(default=1)),
                ("capturing_until", models.DateTimeField(blank=True, null=True)),
            ],
        ),
    ]
