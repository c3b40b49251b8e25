from django.urls import path, register_converter

from apps.accounts.api import views
from apps.accounts.services import PREFERENCE_KEY


class PreferenceKeyConverter:
    """A preference's key: any other text in the path is not a preference (a JSON 404)."""

    regex = PREFERENCE_KEY

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PreferenceKeyConverter, "preference_key")

# Named `<provider>_callback` because allauth builds its redirect_uri with that name.
auth_patterns = [
    path("login/<str:provider>", views.login, name="auth-login"),
    path("callback/github", views.callback, {"provider": "github"}, name="github_callback"),
    path("callback/google", views.callback, {"provider": "google"}, name="google_callback"),
    path("callback/<str:provider>", views.callback, name="auth-callback"),
    path("logout", views.LogoutView.as_view(), name="auth-logout"),
    path("me", views.MeView.as_view(), name="auth-me"),
    path("providers", views.ProvidersView.as_view(), name="auth-providers"),
]

api_patterns = [
    path("tokens", views.ApiTokenListView.as_view(), name="token-list"),
    path("tokens/<uuid:token_id>", views.ApiTokenDetailView.as_view(), name="token-detail"),
    # The web app's settings of the caller (root-scoped: they follow the user across projects).
    path("preferences", views.PreferenceListView.as_view(), name="preference-list"),
    path(
        "preferences/<preference_key:key>",
        views.PreferenceDetailView.as_view(),
        name="preference-detail",
    ),
]
