"""django-allauth hooks: GitHub and Google sign-in shaped to the contract's /auth paths."""

from __future__ import annotations

import re
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.github.provider import GitHubProvider
from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter
from allauth.socialaccount.providers.google.provider import GoogleProvider
from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter
from django.conf import settings
from django.http import HttpRequest, JsonResponse

from apps.accounts.models import User
from apps.accounts.ratelimits import auth_failure_count
from discobot.text import display_name_clean

# Printable ASCII without spaces or quotes: what a URL in an <img src> needs.
URL = re.compile(r"https?://[!#-&(-~]+")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False  # accounts come only from GitHub or Google


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: str | None = None,
        exception: Exception | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        auth_failure_count(request)
        message = {
            "cancelled": "Login was cancelled at the provider",
            "denied": "Login was refused by the provider",
        }.get(error or "", "Login failed: invalid state or authorization code")
        raise ImmediateHttpResponse(JsonResponse({"error": message}, status=400))

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        if not sociallogin.user.email:
            auth_failure_count(request)
            raise ImmediateHttpResponse(
                JsonResponse({"error": "The provider did not share an email address"}, status=400)
            )
        if sociallogin.is_existing:
            # Keep name and picture in step with the provider on every login.
            user = sociallogin.user
            profile_fill(user, sociallogin)
            user.save(update_fields=["name", "avatar_url", "provider", "provider_id"])

    def populate_user(
        self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]
    ) -> User:
        user: User = super().populate_user(request, sociallogin, data)
        user.email = (user.email or "").lower()
        profile_fill(user, sociallogin)
        return user


def profile_fill(user: User, sociallogin: SocialLogin) -> None:
    """The profile as the provider states it; text that cannot be shown or stored is dropped
    rather than refused, as the person cannot fix it here."""
    account = sociallogin.account
    extra = account.extra_data
    name = display_name_clean(str(extra.get("name") or "")) or display_name_clean(
        str(extra.get("login") or "")
    )
    user.name = (name or user.name or "")[:200]
    user.avatar_url = avatar_url_clean(str(extra.get("avatar_url") or extra.get("picture") or ""))
    user.provider = account.provider
    user.provider_id = str(account.uid)


def avatar_url_clean(url: str) -> str:
    """An http(s) URL that fits the column, or nothing."""
    if len(url) > 500 or not URL.fullmatch(url):
        return ""
    return url


class GitHubAdapter(GitHubOAuth2Adapter):
    """GitHub's endpoints from settings (GitHub Enterprise, or a test's local server)."""

    @property
    def authorize_url(self) -> str:
        return f"{settings.GITHUB_URL}/login/oauth/authorize"

    @property
    def access_token_url(self) -> str:
        return f"{settings.GITHUB_URL}/login/oauth/access_token"

    @property
    def profile_url(self) -> str:
        return f"{settings.GITHUB_API_URL}/user"

    @property
    def emails_url(self) -> str:
        return f"{settings.GITHUB_API_URL}/user/emails"


class GoogleAdapter(GoogleOAuth2Adapter):
    """Google's endpoints from settings."""

    @property
    def authorize_url(self) -> str:
        return settings.GOOGLE_AUTHORIZE_URL

    @property
    def access_token_url(self) -> str:
        return settings.GOOGLE_TOKEN_URL

    @property
    def identity_url(self) -> str:
        return settings.GOOGLE_USERINFO_URL


PROVIDER_ADAPTERS: dict[str, type] = {"github": GitHubAdapter, "google": GoogleAdapter}


def storable(data: Any) -> Any:
    """Provider JSON as PostgreSQL can store it (allauth keeps it as `extra_data`): strings
    without NUL or lone surrogates."""
    if isinstance(data, str):
        return UNSTORABLE.sub("", data)
    if isinstance(data, dict):
        return {storable(key): storable(value) for key, value in data.items()}
    if isinstance(data, list):
        return [storable(item) for item in data]
    return data


class StorableProfileMixin:
    def sociallogin_from_response(self, request: HttpRequest, response: Any) -> SocialLogin:
        return super().sociallogin_from_response(request, storable(response))  # type: ignore[misc]


class DiscobotGitHubProvider(StorableProfileMixin, GitHubProvider):
    oauth2_adapter_class = GitHubAdapter


class DiscobotGoogleProvider(StorableProfileMixin, GoogleProvider):
    oauth2_adapter_class = GoogleAdapter
