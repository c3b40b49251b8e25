from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SecureCookiesOverHttpsMiddleware:
    """Marks every cookie Secure when the request came over https (directly or via the proxy).

    One deployment serves both http://localhost and https://example.com, so a fixed
    SESSION_COOKIE_SECURE would be wrong for one of them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.is_secure():
            for cookie in response.cookies.values():
                cookie["secure"] = True
        return response
