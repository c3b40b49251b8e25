from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.audit.services import audit_prune


class Command(BaseCommand):
    help = "Delete audit log entries older than some days (AUDIT_RETENTION_DAYS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            help="Delete entries recorded more than DAYS days ago (default AUDIT_RETENTION_DAYS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is None:
            days = settings.AUDIT_RETENTION_DAYS
        if days < 0:
            raise CommandError("--days must be 0 or more")
        deleted = audit_prune(older_than=timedelta(days=days))
        self.stdout.write(f"Deleted {deleted} audit log entries older than {days} days")
