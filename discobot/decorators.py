"""Decorators for plain Django views (the few outside DRF), refusing in JSON like DRF's."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse

View = Callable[..., HttpResponse]


def require_methods(*methods: str) -> Callable[[View], View]:
    """Django's `require_http_methods`, answering 405 `{"error"}` with `Allow`."""

    def decorator(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if request.method not in methods:
                response = JsonResponse(
                    {"error": f'Method "{request.method}" not allowed.'}, status=405
                )
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return checked

    return decorator
