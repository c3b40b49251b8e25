from django.urls import path

from apps.accounts.api import views

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
]
