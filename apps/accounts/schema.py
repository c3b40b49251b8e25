"""OpenAPI description of the ways to authenticate: a personal API token or the session cookie."""

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class CallerScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call, unused-ignore]
    target_class = "apps.accounts.authentication.CallerAuthentication"
    name = ["apiToken", "cookieAuth"]

    def get_security_requirement(self, auto_schema: object) -> list[dict[str, list[Any]]]:
        # Either one (OR), not both.
        return [{"apiToken": []}, {"cookieAuth": []}]

    def get_security_definition(self, auto_schema: object) -> list[dict[str, str]]:
        return [
            {"type": "http", "scheme": "bearer", "description": "A personal API token."},
            {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME},
        ]
