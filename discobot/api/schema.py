"""OpenAPI descriptions shared by every API module."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse

from discobot.api.serializers import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "The caller's role does not allow this",
    404: "Not found, or the caller is not a member of the project",
    409: "Conflicts with the current state",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """`{"error": ...}` answers for the given status codes."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }
