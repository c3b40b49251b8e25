"""OpenAPI descriptions shared by every API module."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse

from discobot.api.serializers import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "The caller's role does not allow this, or a browser's request lacks its CSRF token",
    404: "Not found, or the caller is not a member of the project",
    409: "Conflicts with the current state",
    413: "The request body is larger than the server takes",
    415: "The request body is not JSON",
    429: "Too many failed authentication attempts from this address",
    503: "The server cannot read a secret it stored (ENCRYPTION_KEY)",
}
UNSAFE_METHODS = {"post", "put", "patch", "delete"}
ERROR_REFERENCE = {"$ref": "#/components/schemas/Error"}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """`{"error": ...}` answers for the given status codes."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


def server_wide_errors(operation: dict[str, Any], method: str) -> set[int]:
    """The answers any operation of this shape can give, whatever its view does.

    A signed-in request can be refused (401), and a bearer token from an address that guessed
    too often is refused (429) before the view runs; a browser session's unsafe request
    without its CSRF token is 403. A project's paths answer 404 to non-members, and any path
    parameter may name nothing. A body may be malformed (400), too large (413) or not JSON
    (415); a query parameter may be invalid (400).
    """
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    parameters = operation.get("parameters", [])
    codes = set()
    if schemes:
        codes |= {401, 429}
    if "cookieAuth" in schemes and method in UNSAFE_METHODS:
        codes.add(403)
    if any(parameter["in"] == "path" for parameter in parameters):
        codes.add(404)
    if "requestBody" in operation:
        codes |= {400, 413, 415}
    if any(parameter["in"] == "query" for parameter in parameters):
        codes.add(400)
    return codes


def declare_server_wide_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation declares the answers of
    `server_wide_errors` it does not declare itself."""
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation.setdefault("responses", {})
            for code in sorted(server_wide_errors(operation, method)):
                responses.setdefault(
                    str(code),
                    {
                        "description": ERROR_DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": ERROR_REFERENCE}},
                    },
                )
            operation["responses"] = dict(sorted(responses.items()))
    return result
