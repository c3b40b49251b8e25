from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from apps.credentials.models import AuthType, Credential
from discobot.api.serializers import DisplayNameField, StrictSerializer


@extend_schema_serializer(component_name="CredentialInfo")
class CredentialInfoSerializer(serializers.ModelSerializer):
    """Everything about a credential except its secret."""

    authType = serializers.CharField(source="auth_type")
    isConfigured = serializers.BooleanField(source="is_configured")
    needsReauth = serializers.BooleanField(source="needs_reauth")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Credential
        fields = (
            "id",
            "provider",
            "name",
            "authType",
            "isConfigured",
            "needsReauth",
            "expiresAt",
            "createdAt",
            "updatedAt",
        )


class CredentialCreateSerializer(StrictSerializer):
    provider = serializers.CharField(max_length=50)
    name = DisplayNameField(max_length=200, required=False, allow_blank=True)
    authType = serializers.ChoiceField(
        source="auth_type", choices=AuthType.choices, default=AuthType.API_KEY
    )
    apiKey = serializers.CharField(source="api_key", max_length=10_000, trim_whitespace=True)

    def validate_authType(self, value: str) -> str:
        if value == AuthType.OAUTH:
            raise serializers.ValidationError("OAuth credentials come from the OAuth flows")
        return value


class RedirectUriField(serializers.CharField):
    """An http(s) URL with a host; unlike URLField it accepts single-label hosts (localhost
    aliases, container names), which OAuth redirect URIs often use."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            parts = urlsplit(value)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # an unclosed `[` of an IPv6 literal
            valid = False
        if not valid:
            raise serializers.ValidationError("Enter an http or https URL.")
        return value


class AnthropicExchangeSerializer(StrictSerializer):
    code = serializers.CharField(max_length=4000)
    verifier = serializers.CharField(max_length=200)


class CodexAuthorizeSerializer(StrictSerializer):
    redirectUri = RedirectUriField(source="redirect_uri", required=False, max_length=2000)


class CodexExchangeSerializer(StrictSerializer):
    code = serializers.CharField(max_length=4000)
    verifier = serializers.CharField(max_length=200)
    redirectUri = RedirectUriField(source="redirect_uri", required=False, max_length=2000)


class CopilotDeviceCodeSerializer(StrictSerializer):
    deploymentType = serializers.ChoiceField(
        source="deployment_type", choices=["github.com", "enterprise"], default="github.com"
    )
    enterpriseUrl = serializers.CharField(
        source="enterprise_url", max_length=500, required=False, allow_blank=True
    )


class CopilotPollSerializer(StrictSerializer):
    deviceCode = serializers.CharField(source="device_code", max_length=500)
    domain = serializers.CharField(max_length=300, default="github.com")
