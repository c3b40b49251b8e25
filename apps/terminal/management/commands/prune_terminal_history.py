from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.terminal.services import terminal_history_prune


class Command(BaseCommand):
    help = "Delete terminal history older than some days (TERMINAL_HISTORY_RETENTION_DAYS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            metavar="DAYS",
            help="Delete lines recorded more than DAYS days ago "
            "(default TERMINAL_HISTORY_RETENTION_DAYS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than"]
        if days is None:
            days = settings.TERMINAL_HISTORY_RETENTION_DAYS
        if days < 0:
            raise CommandError("--older-than must be 0 days or more")
        deleted = terminal_history_prune(older_than=timedelta(days=days))
        self.stdout.write(f"Deleted {deleted} lines of terminal history older than {days} days")
