from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import api_token_create
from discobot.text import display_name_clean


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it (it is not stored in clear)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="The token's owner.")
        parser.add_argument("--name", default="cli", help="A label for the token.")
        parser.add_argument("--days", type=int, help="Expire after this many days.")
        parser.add_argument(
            "--create-user", action="store_true", help="Create the user if it does not exist."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip().lower()
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            if not options["create_user"]:
                raise CommandError(f"No user with email {email} (use --create-user)")
            user = User.objects.create_user(email)
        expires_at = timezone.now() + timedelta(days=options["days"]) if options["days"] else None
        name = display_name_clean(options["name"])
        if not 0 < len(name) <= 100:
            raise CommandError("--name must be 1 to 100 visible characters")
        _, raw_token = api_token_create(user=user, name=name, expires_at=expires_at)
        self.stdout.write(raw_token)
