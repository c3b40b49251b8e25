from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from apps.credentials.models import AuthType, Credential
from apps.credentials.oauth import DOMAIN_PATTERN
from apps.credentials.providers import BASE_URL, BASE_URL_MAX_LENGTH
from discobot.api.fields import HTTP_URL, NOT_BLANK, TextField
from discobot.api.serializers import BlankAsNullField, DisplayNameField, StrictSerializer


class PriceField(serializers.DecimalField):
    """US dollars per million tokens, a JSON number (null: none set)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_digits=12,
            decimal_places=6,
            min_value=Decimal(0),
            coerce_to_string=False,
            allow_null=True,
            **kwargs,
        )


@extend_schema_serializer(component_name="CredentialInfo")
class CredentialInfoSerializer(serializers.ModelSerializer[Credential]):
    """Everything about a credential except its secret."""

    authType = serializers.CharField(source="auth_type")
    isConfigured = serializers.BooleanField(source="is_configured")
    needsReauth = serializers.BooleanField(source="needs_reauth")
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    baseUrl = BlankAsNullField(source="base_url")
    inputPricePerMillion = PriceField(source="input_price_per_million", read_only=True)
    outputPricePerMillion = PriceField(source="output_price_per_million", read_only=True)
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
            "baseUrl",
            "inputPricePerMillion",
            "outputPricePerMillion",
            "createdAt",
            "updatedAt",
        )


class ProviderField(TextField):
    """A provider name the server knows (`providers.provider_known`: the contract's and
    litellm's), checked by the service with the contract's wording; its schema lists them
    (apps.credentials.api.schema)."""


class ApiKeyTypeField(serializers.ChoiceField):
    """Only `api_key`: OAuth credentials come from their flows."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[AuthType.API_KEY], default=AuthType.API_KEY, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if data == AuthType.OAUTH:
            raise serializers.ValidationError("OAuth credentials come from the OAuth flows")
        return super().to_internal_value(data)


@extend_schema_serializer(component_name="CredentialCreate")
class CredentialCreateSerializer(StrictSerializer):
    provider = ProviderField(max_length=50)
    name = DisplayNameField(max_length=200, required=False, allow_blank=True)
    authType = ApiKeyTypeField(source="auth_type")
    # Stored without its surrounding whitespace; a blank key is the service's "Api key is
    # required".
    apiKey = TextField(source="api_key", max_length=10_000, stated_pattern=NOT_BLANK)
    # Checked by `providers.base_url_problem`, with words for each mistake; blank: none.
    baseUrl = TextField(
        source="base_url",
        max_length=BASE_URL_MAX_LENGTH,
        required=False,
        allow_blank=True,
        stated_pattern=f"^(?:{BASE_URL[1:-1]})?$",
        help_text="An OpenAI-compatible endpoint (Anthropic Messages when the provider is "
        "`anthropic`) to call instead of the provider's own, e.g. `http://localhost:11434/v1`",
    )
    inputPricePerMillion = PriceField(
        source="input_price_per_million",
        required=False,
        help_text="What the endpoint charges per million input tokens, in US dollars; turns "
        "on a base URL without prices cost 0 and are marked unpriced",
    )
    outputPricePerMillion = PriceField(
        source="output_price_per_million",
        required=False,
        help_text="What the endpoint charges per million output tokens, in US dollars",
    )


def redirect_uri_field() -> TextField:
    # Unlike URLField, single-label hosts (localhost aliases, container names) are fine: OAuth
    # redirect URIs often use them.
    return TextField(
        source="redirect_uri",
        required=False,
        max_length=2000,
        pattern=HTTP_URL,
        message="Enter an http or https URL.",
    )


@extend_schema_serializer(component_name="AnthropicExchange")
class AnthropicExchangeSerializer(StrictSerializer):
    code = TextField(max_length=4000, help_text="The page's `code#state`")
    verifier = TextField(max_length=200)


@extend_schema_serializer(component_name="CodexAuthorize")
class CodexAuthorizeSerializer(StrictSerializer):
    redirectUri = redirect_uri_field()


@extend_schema_serializer(component_name="CodexExchange")
class CodexExchangeSerializer(StrictSerializer):
    code = TextField(max_length=4000)
    verifier = TextField(max_length=200)
    redirectUri = redirect_uri_field()


@extend_schema_serializer(component_name="CopilotDeviceCode")
class CopilotDeviceCodeSerializer(StrictSerializer):
    deploymentType = serializers.ChoiceField(
        source="deployment_type", choices=["github.com", "enterprise"], default="github.com"
    )
    # Checked by `oauth.copilot_domain` when the deployment is `enterprise` (the schema states
    # the dependency: apps.credentials.api.schema).
    enterpriseUrl = TextField(
        source="enterprise_url", max_length=500, required=False, allow_blank=True
    )


@extend_schema_serializer(component_name="CopilotPoll")
class CopilotPollSerializer(StrictSerializer):
    deviceCode = TextField(source="device_code", max_length=500)
    # Checked by `oauth.copilot_base_url`, with the contract's wording.
    domain = TextField(max_length=300, default="github.com", stated_pattern=DOMAIN_PATTERN)
