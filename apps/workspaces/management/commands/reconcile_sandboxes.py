from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.workspaces.sandboxes import sandboxes_reconcile


class Command(BaseCommand):
    help = (
        "Compare sessions with the sandboxes the engines really hold, now (every worker also "
        "does so every SANDBOX_RECONCILE_SECONDS): a ready session whose sandbox is gone or "
        "stopped becomes stopped, a sandbox whose session is gone is removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = sandboxes_reconcile()
        self.stdout.write(
            f"{done.stopped} ready sessions found without a running sandbox, now stopped; "
            f"{done.removed} sandboxes of deleted sessions removed"
        )
        if done.skipped:
            # Never taken for empty: their sessions are left as they were.
            self.stdout.write(f"Skipped, not reachable here: {', '.join(done.skipped)}")
