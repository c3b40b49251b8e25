from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from apps.audit.models import AuditEntry

AUDIT_PAGE_DEFAULT = 50
AUDIT_PAGE_MAX = 200


class AuditQuerySerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(
        min_value=1,
        max_value=AUDIT_PAGE_MAX,
        default=AUDIT_PAGE_DEFAULT,
        help_text=f"Entries per page (at most {AUDIT_PAGE_MAX})",
    )
    before = serializers.IntegerField(
        min_value=1, required=False, help_text="The `next` cursor of the previous page"
    )
    # A query string's empty value is no value (DRF): every action.
    action = serializers.CharField(
        max_length=50,
        required=False,
        allow_blank=True,
        help_text="Only this action (`credential.created`); empty: every action",
    )


@extend_schema_serializer(component_name="AuditActor")
class AuditActorSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    email = serializers.EmailField()


@extend_schema_serializer(component_name="AuditEntry")
class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    """One change: `changes` is `{field: [old, new]}`, a secret's values "[redacted]"."""

    actor = serializers.SerializerMethodField()
    actorLabel = serializers.CharField(
        source="actor_label",
        help_text='The actor\'s email then (kept when the user is deleted), "local" in '
        'anonymous mode, "system" for work outside a request',
    )
    projectId = serializers.CharField(source="project_id")
    targetType = serializers.CharField(source="target_type")
    targetId = serializers.CharField(source="target_id")
    targetLabel = serializers.CharField(source="target_label")
    changes = serializers.DictField(child=serializers.ListField(allow_empty=True))
    address = serializers.IPAddressField(allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = AuditEntry
        fields = (
            "id",
            "action",
            "actor",
            "actorLabel",
            "projectId",
            "targetType",
            "targetId",
            "targetLabel",
            "changes",
            "address",
            "createdAt",
        )

    @extend_schema_field(AuditActorSerializer(allow_null=True))
    def get_actor(self, entry: AuditEntry) -> dict[str, Any] | None:
        if entry.actor is None:
            return None
        return {"id": str(entry.actor.id), "email": entry.actor.email}


@extend_schema_serializer(component_name="AuditPage")
class AuditPageSerializer(serializers.Serializer[Any]):
    entries = AuditEntrySerializer(many=True)
    next = serializers.IntegerField(
        allow_null=True, help_text="`before` for the next page; null on the last"
    )
