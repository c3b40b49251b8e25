"""What drf-spectacular cannot infer about the workspaces endpoints' request bodies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension

from apps.workspaces.api.serializers import LOCAL_FOLDER_PATTERN


class WorkspaceCreateSchema(OpenApiSerializerExtension):
    """A local folder's path (the default source type) is absolute or starts with `~`. Takes
    over from the StrictSerializer extension, whose `additionalProperties: false` it keeps."""

    target_class = "apps.workspaces.api.serializers.WorkspaceCreateSerializer"
    priority = 1

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
            schema["anyOf"] = [
                {"required": ["sourceType"], "properties": {"sourceType": {"const": "git"}}},
                {"properties": {"path": {"type": "string", "pattern": LOCAL_FOLDER_PATTERN}}},
            ]
        return schema
