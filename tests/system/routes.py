"""The API's routes, found by walking the URL configuration rather than listed by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from django.urls import URLPattern, URLResolver, get_resolver

SAMPLE_VALUES = {
    "project_id": "local",
    "session_id": "session-1",
    "provider": "anthropic",
    "preference_key": "preferredIDE",
    "uuid": "6f1c7a52-0000-4000-8000-000000000000",
    "str": "x",
    "path": "x",
}
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def walk(patterns: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def concrete(route: str, values: Mapping[str, str] = SAMPLE_VALUES) -> str:
    """`api/projects/<project_id:project_id>` -> `/api/projects/local`; `values` by converter."""

    def sample(match: re.Match[str]) -> str:
        return values[match.group(1) or "str"]

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", sample, route)


def api_views() -> list[tuple[str, type]]:
    """(route, view class) of every class-based view under /api."""
    return [
        (route, pattern.callback.cls)
        for route, pattern in walk(get_resolver().url_patterns)
        if route.startswith("api/") and hasattr(pattern.callback, "cls")
    ]


def api_endpoints() -> list[tuple[str, str]]:
    """(method, sample URL) of every operation under /api."""
    return [
        (method, concrete(route))
        for route, view_class in api_views()
        for method in HTTP_METHODS
        if hasattr(view_class, method)
    ]


PROJECT_ROUTE = "api/projects/<project_id:project_id>"


def project_views() -> list[tuple[str, type]]:
    """(route, view class) of the project and everything under `/api/projects/{projectId}/`."""
    return [
        (route, view_class)
        for route, view_class in api_views()
        if route == PROJECT_ROUTE or route.startswith(PROJECT_ROUTE + "/")
    ]
