from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.crypto import DecryptionError, encrypted_reseal_batch


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under ENCRYPTION_KEY. Put the previous key in "
        "ENCRYPTION_KEYS_OLD first; safe to interrupt and run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument(
            "--max-batches", type=int, help="Stop after this many batches (spread the load)."
        )

    def handle(self, *args: Any, batch_size: int, max_batches: int | None, **options: Any) -> None:
        total = batches = 0
        while max_batches is None or batches < max_batches:
            try:
                done = encrypted_reseal_batch(batch_size=batch_size)
            except DecryptionError as error:
                raise CommandError(str(error)) from None
            total += done
            batches += 1
            if done < batch_size:
                break
        self.stdout.write(f"Re-encrypted {total} secrets.")
