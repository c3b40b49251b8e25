from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.credentials import oauth, selectors, services
from apps.credentials.api import schema  # noqa: F401 (registers the schema extensions)
from apps.credentials.api.serializers import (
    AnthropicExchangeSerializer,
    CodexAuthorizeSerializer,
    CodexExchangeSerializer,
    CopilotDeviceCodeSerializer,
    CopilotPollSerializer,
    CredentialCreateSerializer,
    CredentialInfoSerializer,
)
from apps.credentials.models import Credential
from apps.credentials.providers import auth_providers
from apps.projects.api.base import ProjectScopedView
from discobot.api.schema import error_responses
from discobot.api.serializers import ErrorSerializer
from discobot.decorators import require_methods
from discobot.errors import ApplicationError

ERRORS = error_responses(400, 401, 404)
DECRYPTION_ERRORS = error_responses(503)
AUTHORIZE_ANSWER = inline_serializer(
    "OAuthAuthorize",
    {
        "url": serializers.URLField(),
        "state": serializers.CharField(),
        "verifier": serializers.CharField(),
        "codeChallenge": serializers.CharField(),
        "codeChallengeMethod": serializers.CharField(),
    },
)
EXCHANGE_ANSWER = inline_serializer(
    "OAuthExchange",
    {
        "success": serializers.BooleanField(),
        "credential": CredentialInfoSerializer(required=False),
        "expiresAt": serializers.DateTimeField(required=False, allow_null=True),
        "expiresIn": serializers.IntegerField(required=False, allow_null=True),
        "error": serializers.CharField(required=False),
    },
)


DEVICE_POLL_WAITING = inline_serializer(
    "DevicePollWaiting",
    {
        # Absent when the refusal is not the device flow's (a missing CSRF token, a rate limit).
        "status": serializers.ChoiceField(
            choices=["pending", "slow_down", "error"], required=False
        ),
        "error": serializers.CharField(),
    },
)
# Contract §2 Credentials: the device flow's states are status codes.
DEVICE_POLL_OUTCOMES = {
    oauth.DevicePoll.PENDING: "The user has not approved yet: poll again",
    oauth.DevicePoll.SLOW_DOWN: "Polled too often: wait longer (`status: slow_down`)",
    oauth.DevicePoll.EXPIRED: "The device code expired: start again (`status: error`)",
    oauth.DevicePoll.DENIED: "The user refused (`status: error`)",
}


def exchange_success(authorization: services.Authorization) -> Response:
    return Response(
        {
            "success": True,
            "credential": CredentialInfoSerializer(authorization.credential).data,
            "expiresAt": authorization.credential.expires_at,
            "expiresIn": authorization.expires_in,
        }
    )


def token_prices(data: dict[str, Any]) -> services.TokenPrices | None:
    """The prices the body gives, a missing one 0; None when it gives neither."""
    given = (data.get("input_price_per_million"), data.get("output_price_per_million"))
    if given == (None, None):
        return None
    return services.TokenPrices(input=given[0] or Decimal(0), output=given[1] or Decimal(0))


class AuthProvidersView(ProjectScopedView):
    @extend_schema(
        summary="The providers a credential can be stored for, with their key variables",
        description="Built from litellm's provider data, plus the sign-in providers and "
        "`custom_openai` (an OpenAI-compatible endpoint at a base URL). An entry's `id` is the "
        "`provider` of `POST .../credentials`; one without `env` is connected by signing in.",
        responses={
            200: inline_serializer(
                "AuthProviders",
                {
                    "authProviders": inline_serializer(
                        "AuthProvider",
                        {
                            "id": serializers.CharField(),
                            "name": serializers.CharField(),
                            "description": serializers.CharField(),
                            "env": serializers.ListField(
                                child=serializers.CharField(), required=False
                            ),
                            "icons": inline_serializer(
                                "ProviderIcon",
                                {
                                    "src": serializers.URLField(),
                                    "mimeType": serializers.CharField(),
                                },
                                many=True,
                                required=False,
                            ),
                        },
                        many=True,
                    )
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response({"authProviders": auth_providers()})


class CredentialListView(ProjectScopedView):
    @extend_schema(
        summary="The project's credentials (never their secrets)",
        operation_id="credentials_list",
        responses={
            200: inline_serializer(
                "CredentialList", {"credentials": CredentialInfoSerializer(many=True)}
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, project_id: str) -> Response:
        credentials = selectors.credential_list(project=self.project)
        return Response({"credentials": CredentialInfoSerializer(credentials, many=True).data})

    @extend_schema(
        summary="Store (or replace) the project's API key for a provider",
        request=CredentialCreateSerializer,
        responses={200: CredentialInfoSerializer, **ERRORS},
    )
    def post(self, request: Request, project_id: str) -> Response:
        body = CredentialCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        credential = services.credential_api_key_store(
            project=self.project,
            provider=data["provider"],
            api_key=data["api_key"],
            name=data.get("name", ""),
            base_url=data.get("base_url", ""),
            prices=token_prices(data),
        )
        return Response(CredentialInfoSerializer(credential).data)


# A view on one of the project's credentials; each route adds only its own methods. (A comment:
# drf-spectacular would publish a docstring as the description of every endpoint.)
class CredentialScopedView(ProjectScopedView):
    def credential(self, provider: str) -> Credential:
        return selectors.credential_get(project=self.project, provider=provider)


class CredentialDetailView(CredentialScopedView):
    @extend_schema(summary="A credential", responses={200: CredentialInfoSerializer, **ERRORS})
    def get(self, request: Request, project_id: str, provider: str) -> Response:
        return Response(CredentialInfoSerializer(self.credential(provider)).data)

    @extend_schema(
        summary="Delete a credential",
        responses={
            200: inline_serializer("CredentialDeleted", {"status": serializers.CharField()}),
            **ERRORS,
        },
    )
    def delete(self, request: Request, project_id: str, provider: str) -> Response:
        services.credential_delete(project=self.project, provider=provider)
        return Response({"status": "deleted"})


class CredentialRefreshView(CredentialScopedView):
    @extend_schema(
        summary="Refresh an OAuth credential now",
        request=None,
        responses={
            200: CredentialInfoSerializer,
            **ERRORS,
            409: OpenApiResponse(
                ErrorSerializer,
                description="Not an OAuth credential, or the provider refused the refresh "
                "(the credential then needs a new authorization)",
            ),
            **DECRYPTION_ERRORS,
        },
    )
    def post(self, request: Request, project_id: str, provider: str) -> Response:
        credential = services.credential_refresh(credential=self.credential(provider))
        return Response(CredentialInfoSerializer(credential).data)


class CredentialTestView(CredentialScopedView):
    @extend_schema(
        summary="Check the credential with the provider's cheapest call",
        request=None,
        parameters=[
            OpenApiParameter(
                "provider",
                str,
                OpenApiParameter.PATH,
                enum=sorted(services.TESTABLE_PROVIDERS),
                description="Providers whose credentials can be tested",
            )
        ],
        responses={
            200: inline_serializer(
                "CredentialTest",
                {"ok": serializers.BooleanField(), "error": serializers.CharField(required=False)},
            ),
            **ERRORS,
            **DECRYPTION_ERRORS,
        },
    )
    def post(self, request: Request, project_id: str, provider: str) -> Response:
        ok, error = services.credential_test(credential=self.credential(provider))
        return Response({"ok": True} if ok else {"ok": False, "error": error})


class AnthropicAuthorizeView(ProjectScopedView):
    @extend_schema(
        summary="Start Anthropic's PKCE flow", request=None, responses={200: AUTHORIZE_ANSWER}
    )
    def post(self, request: Request, project_id: str) -> Response:
        return Response(services.anthropic_authorization_start())


class AnthropicExchangeView(ProjectScopedView):
    @extend_schema(
        summary="Finish Anthropic's PKCE flow with the pasted `code#state`",
        request=AnthropicExchangeSerializer,
        responses={200: EXCHANGE_ANSWER, **ERRORS},
    )
    def post(self, request: Request, project_id: str) -> Response:
        body = AnthropicExchangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            authorization = services.anthropic_authorization_finish(
                project=self.project, **body.validated_data
            )
        except services.AuthorizationRefused as refused:
            # Contract §2: an upstream refusal is a 200 with success false.
            return Response({"success": False, "error": refused.reason})
        return exchange_success(authorization)


class CodexAuthorizeView(ProjectScopedView):
    @extend_schema(
        summary="Start OpenAI Codex's PKCE flow",
        request=CodexAuthorizeSerializer,
        responses={200: AUTHORIZE_ANSWER, **ERRORS},
    )
    def post(self, request: Request, project_id: str) -> Response:
        body = CodexAuthorizeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(
            services.codex_authorization_start(project=self.project, **body.validated_data)
        )


class CodexExchangeView(ProjectScopedView):
    @extend_schema(
        summary="Finish OpenAI Codex's PKCE flow with the code",
        request=CodexExchangeSerializer,
        responses={200: EXCHANGE_ANSWER, **ERRORS},
    )
    def post(self, request: Request, project_id: str) -> Response:
        body = CodexExchangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return exchange_success(
            services.codex_authorization_finish(project=self.project, **body.validated_data)
        )


class CopilotDeviceCodeView(ProjectScopedView):
    @extend_schema(
        summary="Start GitHub Copilot's device flow (github.com or GitHub Enterprise)",
        request=CopilotDeviceCodeSerializer,
        responses={
            200: inline_serializer(
                "DeviceCode",
                {
                    "deviceCode": serializers.CharField(),
                    "userCode": serializers.CharField(),
                    "verificationUri": serializers.URLField(),
                    "expiresIn": serializers.IntegerField(),
                    "interval": serializers.IntegerField(),
                    "domain": serializers.CharField(),
                },
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request, project_id: str) -> Response:
        body = CopilotDeviceCodeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(
            services.copilot_authorization_start(project=self.project, **body.validated_data)
        )


class CopilotPollView(ProjectScopedView):
    @extend_schema(
        summary="Poll GitHub Copilot's device flow: 202 pending, 429 slow down, 410 expired, "
        "403 denied, 200 done",
        request=CopilotPollSerializer,
        responses={
            200: inline_serializer(
                "DevicePollDone",
                {
                    "status": serializers.ChoiceField(choices=["success"]),
                    "credential": CredentialInfoSerializer(),
                },
            ),
            **ERRORS,
            # The refusals are errors too (`{error}`, with the flow's `status` besides).
            **{
                outcome.value: OpenApiResponse(
                    DEVICE_POLL_WAITING if outcome.value < 400 else ErrorSerializer,
                    description=description,
                )
                for outcome, description in DEVICE_POLL_OUTCOMES.items()
            },
        },
    )
    def post(self, request: Request, project_id: str) -> Response:
        body = CopilotPollSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            authorization = services.copilot_authorization_finish(
                project=self.project, **body.validated_data
            )
        except oauth.DevicePollError as waiting:
            state = {oauth.DevicePoll.PENDING: "pending", oauth.DevicePoll.SLOW_DOWN: "slow_down"}
            payload = {"status": state.get(waiting.outcome, "error"), "error": str(waiting)}
            return Response(payload, status=waiting.outcome.value)
        credential = CredentialInfoSerializer(authorization.credential).data
        return Response({"status": "success", "credential": credential})


@require_methods("GET", "HEAD")
def codex_callback(request: HttpRequest) -> HttpResponse:
    """Where OpenAI sends the browser back: finishes the exchange and says how it went."""
    error = request.GET.get("error_description") or request.GET.get("error")
    state, code = request.GET.get("state", ""), request.GET.get("code", "")
    if not error and not (state and code):
        error = "The callback is missing its code or state"
    if not error:
        try:
            services.codex_callback_finish(state=state, code=code)
        except ApplicationError as failure:
            error = failure.message
    return render(
        request,
        "credentials/codex_callback.html",
        {"error": error},
        status=400 if error else 200,
    )
