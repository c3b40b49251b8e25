"""What drf-spectacular cannot infer about the credentials endpoints' request bodies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension

from apps.credentials.oauth import ENTERPRISE_URL_PATTERN
from apps.credentials.providers import PROVIDER_NAMES, litellm_providers


class ProviderFieldSchema(OpenApiSerializerFieldExtension):
    """The providers the server knows, listed when the schema is built (litellm is imported
    then, not when the server starts)."""

    target_class = "apps.credentials.api.serializers.ProviderField"
    priority = 1  # over the TextField extension

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        known = sorted({*PROVIDER_NAMES, *litellm_providers()})
        return {"anyOf": [{"type": "string", "enum": known}]}


class CopilotDeviceCodeSchema(OpenApiSerializerExtension):
    """`enterpriseUrl` must name a GitHub Enterprise host when the deployment is `enterprise`;
    otherwise it is ignored. Takes over from the StrictSerializer extension, whose
    `additionalProperties: false` it keeps."""

    target_class = "apps.credentials.api.serializers.CopilotDeviceCodeSerializer"
    priority = 1

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        if direction == "request":
            schema["additionalProperties"] = False
            schema["anyOf"] = [
                {"properties": {"deploymentType": {"const": "github.com"}}},
                {
                    "required": ["deploymentType", "enterpriseUrl"],
                    "properties": {
                        "deploymentType": {"const": "enterprise"},
                        "enterpriseUrl": {"type": "string", "pattern": ENTERPRISE_URL_PATTERN},
                    },
                },
            ]
        return schema
