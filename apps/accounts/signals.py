"""Signals of the accounts app for the apps above it (which it must not import)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent with `token` (an ApiToken, never its value) inside the transaction that created it: the
# audit log records it, and is rolled back with it.
api_token_created = Signal()
# Sent with `token` inside the transaction that deletes it.
api_token_revoked = Signal()
