from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database and the DATA_DIR, WORKSPACE_DIR and SESSIONS_DIR folders into a "
        "new folder. ENCRYPTION_KEY is not in it: keep the key apart, a restore needs it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("output", type=Path, help="A new (or empty) folder for the backup.")

    def handle(self, *args: Any, output: Path, **options: Any) -> None:
        try:
            manifest = backup_create(output=output)
        except BackupError as error:
            raise CommandError(str(error)) from None
        folders = ", ".join(manifest["folders"].values())
        self.stdout.write(
            f"Backed up the {manifest['database']} database and {folders} to {output}"
        )
