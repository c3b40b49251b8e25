from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class AuditEntry(models.Model):
    """Who changed what, when and from where. Written once by `audit_record`, never changed.

    It names its project and target by id, as text and without foreign keys: an entry outlives
    what it describes (a deleted project's entries still say who deleted it).
    """

    id = models.BigAutoField(primary_key=True)
    # Blank for what belongs to no project (a sign-in, an API token).
    project_id = models.CharField(max_length=36, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The actor's email when it happened; "local" in anonymous mode, "system" outside a request.
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=50)  # `<target type>.<verb>`: `credential.created`
    target_type = models.CharField(max_length=30)
    target_id = models.CharField(max_length=100, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    # `{field: [old, new]}`; a creation's old values are null; a secret's values "[redacted]".
    changes = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-id",)
        verbose_name_plural = "audit entries"
        indexes = (
            # The listings: a project's (or everyone's) newest first, by action.
            models.Index(fields=("project_id", "-id"), name="audit_project_newest"),
            models.Index(fields=("action", "-id"), name="audit_action_newest"),
        )

    def __str__(self) -> str:
        return f"{self.action} {self.target_label or self.target_id} by {self.actor_label}"
