from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView

# Registers the path converters that the URL modules below name.
import discobot.api.converters  # noqa: F401
from apps.accounts.api import urls as account_urls
from apps.credentials.api import urls as credential_urls
from discobot import views

api_patterns: list[URLPattern | URLResolver] = [
    path("status", views.SystemStatusView.as_view(), name="system-status"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("docs", views.ApiDocsView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("", include(account_urls.api_patterns)),
    path("", include("apps.projects.api.urls")),
    path("", include("apps.workspaces.api.urls")),
    path("", include("apps.agents.api.urls")),
    path("", include("apps.credentials.api.urls")),
    path("", include("apps.terminal.api.urls")),
    path("", include("apps.services.api.urls")),
    path("", include("apps.chat.api.urls")),
    path("", include("apps.limits.api.urls")),
    path("", include("apps.audit.api.urls")),
    path("", include("apps.search.api.urls")),
    # Anything else under /api is a JSON 404, never an HTML page.
    re_path(r"^.*$", views.api_not_found),
]

urlpatterns = [
    path("health", views.health, name="health"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("auth/", include(credential_urls.auth_patterns)),
    path("auth/", include(account_urls.auth_patterns)),
    path("api/", include(api_patterns)),
    path("admin/", admin.site.urls),
    # Any other path is the web app's when SPA_DIST_DIR is set (else a JSON 404); the server's
    # own prefixes keep their JSON 404s.
    re_path(r"^(?!(?:api|auth|admin|static)(?:/|$))(?P<path>.*)$", views.web_app),
]

handler400 = "discobot.views.bad_request"
handler403 = "discobot.views.permission_denied"
handler404 = "discobot.views.api_not_found"
handler500 = "discobot.views.server_error"
