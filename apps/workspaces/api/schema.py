"""What drf-spectacular cannot infer about the workspaces, files and git request bodies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension

from apps.gitops.files import BASE64_PATTERN
from apps.workspaces.api.serializers import LOCAL_FOLDER_PATTERN


class WorkspaceCreateSchema(OpenApiSerializerExtension):
    """A local folder's path (the default source type) is absolute or starts with `~`. Takes
    over from the StrictSerializer extension, whose `additionalProperties: false` it keeps."""

    target_class = "apps.workspaces.api.serializers.WorkspaceCreateSerializer"
    priority = 1

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        if direction == "request":
            schema["additionalProperties"] = False
            schema["anyOf"] = [
                {"required": ["sourceType"], "properties": {"sourceType": {"const": "git"}}},
                {"properties": {"path": {"type": "string", "pattern": LOCAL_FOLDER_PATTERN}}},
            ]
        return schema


class FileWriteSchema(OpenApiSerializerExtension):
    """With `encoding: base64`, `content` (and `originalContent`) must be base64: the schema
    says so, as the server refuses anything else. Takes over from the StrictSerializer
    extension, whose `additionalProperties: false` it keeps."""

    target_class = "apps.workspaces.api.repository_serializers.FileWriteSerializer"
    priority = 1

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        if direction == "request":
            schema["additionalProperties"] = False
            base64 = {"pattern": BASE64_PATTERN}  # null passes: patterns constrain strings only
            # A pattern, not an enum: drf-spectacular would make an enum a component of its own.
            schema["anyOf"] = [
                {"properties": {"encoding": {"type": "string", "pattern": "^utf8$"}}},
                {"properties": {"content": base64, "originalContent": base64}},
            ]
        return schema
