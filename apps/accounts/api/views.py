from __future__ import annotations

import uuid

from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.adapters import PROVIDER_ADAPTERS
from apps.accounts.api.serializers import (
    ApiTokenInputSerializer,
    ApiTokenOutputSerializer,
    NewApiTokenOutputSerializer,
    PreferenceInputSerializer,
    PreferenceOutputSerializer,
    PreferencesInputSerializer,
    UserOutputSerializer,
)
from apps.accounts.ratelimits import auth_failure_retry_after
from discobot.api.requests import AuthenticatedRequest
from discobot.api.schema import error_responses
from discobot.api.serializers import ErrorSerializer, SuccessSerializer
from discobot.decorators import require_methods

UNAUTHENTICATED = error_responses(401)


def configured_providers() -> list[str]:
    providers = settings.SOCIALACCOUNT_PROVIDERS
    return [name for name in PROVIDER_ADAPTERS if providers.get(name, {}).get("APPS")]


def as_temporary_redirect(response: HttpResponse) -> HttpResponse:
    """allauth answers 302; the contract (§2 Auth) specifies 307 for login and callback."""
    if isinstance(response, HttpResponseRedirect):
        redirect = HttpResponse(status=307)
        redirect["Location"] = response["Location"]
        for cookie in response.cookies.values():
            redirect.cookies[cookie.key] = cookie
        return redirect
    return response


def unknown_provider(provider: str) -> JsonResponse:
    return JsonResponse(
        {"error": f"Unknown or unconfigured login provider: {provider}"}, status=400
    )


@require_methods("GET", "HEAD")
def login(request: HttpRequest, provider: str) -> HttpResponse:
    if not settings.AUTH_ENABLED:
        return as_temporary_redirect(HttpResponseRedirect("/"))
    if provider not in configured_providers():
        return unknown_provider(provider)
    view = OAuth2LoginView.adapter_view(PROVIDER_ADAPTERS[provider])
    return as_temporary_redirect(view(request))


@require_methods("GET", "HEAD")
def callback(request: HttpRequest, provider: str) -> HttpResponse:
    if provider not in configured_providers():
        return unknown_provider(provider)
    retry_after = auth_failure_retry_after(request)
    if retry_after is not None:
        response = JsonResponse({"error": "Too many failed login attempts"}, status=429)
        response["Retry-After"] = str(retry_after)
        return response
    view = OAuth2CallbackView.adapter_view(PROVIDER_ADAPTERS[provider])
    return as_temporary_redirect(view(request))


class ProvidersView(APIView):
    permission_classes = (AllowAny,)
    authentication_classes = ()

    @extend_schema(
        summary="Login providers this server offers",
        responses=inline_serializer(
            "LoginProviders",
            {
                "authEnabled": serializers.BooleanField(),
                "providers": serializers.ListField(child=serializers.CharField()),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        return Response({"authEnabled": settings.AUTH_ENABLED, "providers": configured_providers()})


@method_decorator(ensure_csrf_cookie, name="dispatch")
class MeView(APIView):
    @extend_schema(
        summary="The signed-in user (the anonymous user when auth is off)",
        responses={200: UserOutputSerializer, **UNAUTHENTICATED},
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(UserOutputSerializer(request.user).data)


class LogoutView(APIView):
    permission_classes = (AllowAny,)

    @extend_schema(summary="End the browser session", request=None, responses=SuccessSerializer)
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response({"success": True})


class ApiTokenListView(APIView):
    @extend_schema(
        summary="The caller's personal API tokens (never their values)",
        responses={200: ApiTokenOutputSerializer(many=True), **UNAUTHENTICATED},
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        tokens = selectors.api_token_list(user=request.user)
        return Response(ApiTokenOutputSerializer(tokens, many=True).data)

    @extend_schema(
        summary="Create a personal API token; its value is shown only in this answer",
        request=ApiTokenInputSerializer,
        responses={
            201: NewApiTokenOutputSerializer,
            400: OpenApiResponse(ErrorSerializer),
            **UNAUTHENTICATED,
        },
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        body = ApiTokenInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token, raw_token = services.api_token_create(user=request.user, **body.validated_data)
        output = NewApiTokenOutputSerializer(token, context={"token": raw_token})
        return Response(output.data, status=status.HTTP_201_CREATED)


class ApiTokenDetailView(APIView):
    @extend_schema(
        summary="Revoke a personal API token",
        responses={
            200: SuccessSerializer,
            404: OpenApiResponse(ErrorSerializer),
            **UNAUTHENTICATED,
        },
    )
    def delete(self, request: AuthenticatedRequest, token_id: uuid.UUID) -> Response:
        services.api_token_revoke(user=request.user, token_id=str(token_id))
        return Response({"success": True})


PREFERENCE_LIST = inline_serializer(
    "UserPreferenceList", {"preferences": PreferenceOutputSerializer(many=True)}
)


class PreferenceListView(APIView):
    @extend_schema(
        summary="The caller's preferences",
        operation_id="preferences_list",
        responses={200: PREFERENCE_LIST, **UNAUTHENTICATED},
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        preferences = selectors.preference_list(user=request.user)
        return Response({"preferences": PreferenceOutputSerializer(preferences, many=True).data})

    @extend_schema(
        summary="Set several of the caller's preferences; answers with all of them",
        operation_id="preferences_set",
        request=PreferencesInputSerializer,
        responses={200: PREFERENCE_LIST, **error_responses(400, 401)},
    )
    def put(self, request: AuthenticatedRequest) -> Response:
        body = PreferencesInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.preferences_set(user=request.user, values=body.validated_data["preferences"])
        preferences = selectors.preference_list(user=request.user)
        return Response({"preferences": PreferenceOutputSerializer(preferences, many=True).data})


class PreferenceDetailView(APIView):
    @extend_schema(
        summary="One of the caller's preferences",
        operation_id="preference_get",
        responses={200: PreferenceOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request: AuthenticatedRequest, key: str) -> Response:
        preference = selectors.preference_get(user=request.user, key=key)
        return Response(PreferenceOutputSerializer(preference).data)

    @extend_schema(
        summary="Set one of the caller's preferences",
        operation_id="preference_set",
        request=PreferenceInputSerializer,
        responses={200: PreferenceOutputSerializer, **error_responses(400, 401)},
    )
    def put(self, request: AuthenticatedRequest, key: str) -> Response:
        body = PreferenceInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        preference = services.preference_set(user=request.user, key=key, **body.validated_data)
        return Response(PreferenceOutputSerializer(preference).data)

    @extend_schema(
        summary="Forget one of the caller's preferences",
        operation_id="preference_delete",
        responses={200: SuccessSerializer, **error_responses(401, 404)},
    )
    def delete(self, request: AuthenticatedRequest, key: str) -> Response:
        services.preference_delete(user=request.user, key=key)
        return Response({"success": True})
