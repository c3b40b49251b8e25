"""A session deleted with its workspace or project (a cascade, not the session_delete job)
takes its sandbox with it."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from apps.workspaces.models import Session
from apps.workspaces.sandboxes import sandbox_remove_later, sandbox_stopping_announce


@receiver(pre_delete, sender=Session)
def session_sandbox_goes(sender: type[Session], instance: Session, **kwargs: Any) -> None:
    if instance.sandbox_provider:  # blank: none made, or the session_delete job removed it
        sandbox_stopping_announce(instance)
        sandbox_remove_later(instance.sandbox_provider, str(instance.uuid))
