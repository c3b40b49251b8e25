from __future__ import annotations

import re
from typing import Any

from django.core.validators import URLValidator
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from apps.agents.models import Agent, AgentMCPServer, AgentType, MCPServerType
from apps.agents.selectors import mcp_server_public_config
from discobot.api.serializers import DisplayNameField, StrictSerializer

# What a process environment can hold: no `=` in a name, no NUL anywhere.
ENV_NAME = re.compile(r"[^=\x00]+")
ENV_VALUE = re.compile(r"[^\x00]*")
# HTTP field names are tokens (RFC 9110 §5.1); values hold no control character but tab, so
# a value cannot end the header and start another.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
HEADER_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")


def string_map(value: Any, field: str, names: re.Pattern, values: re.Pattern) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise serializers.ValidationError(f"{field} must map names to strings")
    for name, text in value.items():
        if not names.fullmatch(name):
            raise serializers.ValidationError(f"{name!r} is not a valid name")
        if not values.fullmatch(text):
            raise serializers.ValidationError(f"the value of {name!r} holds a control character")
    return value


class StdioConfigSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=[MCPServerType.STDIO])
    command = serializers.CharField(max_length=1000)
    args = serializers.ListField(child=serializers.CharField(max_length=4000), required=False)
    env = serializers.JSONField(required=False)

    def validate_env(self, value: Any) -> dict[str, str]:
        return string_map(value, "env", ENV_NAME, ENV_VALUE)


class HttpConfigSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=[MCPServerType.HTTP])
    url = serializers.URLField(
        max_length=2000, validators=[URLValidator(schemes=["http", "https"])]
    )
    headers = serializers.JSONField(required=False)

    def validate_headers(self, value: Any) -> dict[str, str]:
        return string_map(value, "headers", HEADER_NAME, HEADER_VALUE)


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "type": {"enum": ["stdio"]},
                    "command": {"type": "string"},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "env": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                "required": ["type", "command"],
            },
            {
                "type": "object",
                "properties": {
                    "type": {"enum": ["http"]},
                    "url": {"type": "string", "format": "uri"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                },
                "required": ["type", "url"],
            },
        ]
    }
)
class MCPConfigField(serializers.JSONField):
    """`{type:"stdio", command, args?, env?}` or `{type:"http", url, headers?}`."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("config must be an object")
        by_type = {"stdio": StdioConfigSerializer, "http": HttpConfigSerializer}
        serializer_class = by_type.get(str(data.get("type")))
        if serializer_class is None:
            raise serializers.ValidationError('config.type must be "stdio" or "http"')
        config = serializer_class(data=data)
        config.is_valid(raise_exception=True)
        return dict(config.validated_data)


class MCPServerInputSerializer(StrictSerializer):
    id = serializers.CharField(required=False, allow_blank=True)  # ignored: servers are replaced
    name = DisplayNameField(max_length=200)
    config = MCPConfigField()
    enabled = serializers.BooleanField(default=True)


def mcp_servers_field(**kwargs: Any) -> serializers.ListSerializer:
    # Built by hand: `many=True` hands `allow_null` to each item too, letting `[null]` through.
    server = MCPServerInputSerializer(error_messages={"null": "An MCP server cannot be null"})
    return serializers.ListSerializer(child=server, source="mcp_servers", **kwargs)


@extend_schema_serializer(component_name="AgentCreate")
class AgentCreateSerializer(StrictSerializer):
    name = DisplayNameField(max_length=200)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    agentType = serializers.ChoiceField(source="agent_type", choices=AgentType.choices)
    systemPrompt = serializers.CharField(
        source="system_prompt", max_length=100_000, required=False, allow_blank=True
    )
    mcpServers = mcp_servers_field(required=False)


@extend_schema_serializer(component_name="AgentUpdate")
class AgentUpdateSerializer(StrictSerializer):
    name = DisplayNameField(max_length=200, required=False)
    description = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, allow_null=True
    )
    agentType = serializers.ChoiceField(
        source="agent_type", choices=AgentType.choices, required=False
    )
    systemPrompt = serializers.CharField(
        source="system_prompt",
        max_length=100_000,
        required=False,
        allow_blank=True,
        allow_null=True,
    )
    mcpServers = mcp_servers_field(required=False, allow_null=True)


@extend_schema_serializer(component_name="MCPServer")
class MCPServerOutputSerializer(serializers.ModelSerializer):
    config = serializers.SerializerMethodField()

    class Meta:
        model = AgentMCPServer
        fields = ("id", "name", "config", "enabled")

    @extend_schema_field(MCPConfigField)
    def get_config(self, server: AgentMCPServer) -> dict[str, Any]:
        return mcp_server_public_config(server)


@extend_schema_serializer(component_name="Agent")
class AgentOutputSerializer(serializers.ModelSerializer):
    agentType = serializers.CharField(source="agent_type")
    systemPrompt = serializers.CharField(source="system_prompt")
    mcpServers = MCPServerOutputSerializer(source="mcp_servers", many=True)
    isDefault = serializers.BooleanField(source="is_default")

    class Meta:
        model = Agent
        fields = (
            "id",
            "name",
            "description",
            "agentType",
            "systemPrompt",
            "mcpServers",
            "isDefault",
        )


class AgentDefaultSerializer(StrictSerializer):
    agentId = serializers.UUIDField(source="agent_id")
