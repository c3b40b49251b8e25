from django.urls import path, register_converter

from apps.credentials.api import views
from discobot.api.converters import ProviderConverter

register_converter(ProviderConverter, "provider")

CREDENTIALS = "projects/<project_id:project_id>/credentials"

urlpatterns = [
    # Under the agents' path, as the contract has it (§2 Agents); the catalogue is the
    # credentials' knowledge.
    path(
        "projects/<project_id:project_id>/agents/auth-providers",
        views.AuthProvidersView.as_view(),
        name="agent-auth-providers",
    ),
    path(CREDENTIALS, views.CredentialListView.as_view(), name="credential-list"),
    path(
        f"{CREDENTIALS}/anthropic/authorize",
        views.AnthropicAuthorizeView.as_view(),
        name="anthropic-authorize",
    ),
    path(
        f"{CREDENTIALS}/anthropic/exchange",
        views.AnthropicExchangeView.as_view(),
        name="anthropic-exchange",
    ),
    path(
        f"{CREDENTIALS}/github-copilot/device-code",
        views.CopilotDeviceCodeView.as_view(),
        name="copilot-device-code",
    ),
    path(
        f"{CREDENTIALS}/github-copilot/poll", views.CopilotPollView.as_view(), name="copilot-poll"
    ),
    path(
        f"{CREDENTIALS}/codex/authorize", views.CodexAuthorizeView.as_view(), name="codex-authorize"
    ),
    path(f"{CREDENTIALS}/codex/exchange", views.CodexExchangeView.as_view(), name="codex-exchange"),
    path(
        f"{CREDENTIALS}/<provider:provider>",
        views.CredentialDetailView.as_view(),
        name="credential-detail",
    ),
    path(
        f"{CREDENTIALS}/<provider:provider>/refresh",
        views.CredentialRefreshView.as_view(),
        name="credential-refresh",
    ),
    path(
        f"{CREDENTIALS}/<provider:provider>/test",
        views.CredentialTestView.as_view(),
        name="credential-test",
    ),
]

# Under /auth: where OpenAI sends the browser back after a Codex login.
auth_patterns = [
    path("codex/callback", views.codex_callback, name="codex-callback"),
]
