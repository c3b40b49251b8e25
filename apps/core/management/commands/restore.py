from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into an empty database (DATABASE_URL) and "
        "empty folders at the paths it was taken from; then run `migrate`. The secrets in it "
        "read only with the ENCRYPTION_KEY of the installation it came from."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", type=Path, help="The folder `manage.py backup` wrote.")

    def handle(self, *args: Any, source: Path, **options: Any) -> None:
        try:
            manifest = backup_restore(source=source)
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Restored the {manifest['database']} database and the folders of the backup "
            f"made at {manifest['created_at']}; next: manage.py migrate"
        )
