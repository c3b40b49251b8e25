"""The single error envelope: every API error becomes `{"error": "<message>"}`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from discobot.api.parsers import INVALID_BODY
from discobot.errors import ApplicationError, TooManyRequestsError

DATABASE_RETRY_AFTER_SECONDS = 5

# Codes whose messages StrictSerializer already words as a sentence naming the field.
SELF_DESCRIBING_CODES = {"required", "null", "blank", "unknown_field"}


def first_error_message(detail: Any, path: str = "") -> str:
    """The first leaf message of a ValidationError detail, prefixed by the field path."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = path if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
            return first_error_message(value, field)
        return "Invalid request"
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                return first_error_message(value, f"{path}[{index}]" if path else str(index))
            return first_error_message(value, path)
        return "Invalid request"
    message = str(detail)
    if not path or getattr(detail, "code", None) in SELF_DESCRIBING_CODES:
        return message
    return f"{path}: {message}"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        retry_after = exc.retry_after if isinstance(exc, TooManyRequestsError) else None
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return Response(
            {"error": exc.message, **exc.extra}, status=exc.status_code, headers=headers
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away (a restart, too many clients): the client may try again soon.
        return Response(
            {"error": "Database unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": first_error_message(exc.detail), "details": exc.detail}
    elif isinstance(exc, exceptions.ParseError):
        # Our parser words its own refusals; DRF's are about syntax.
        invalid_body = getattr(exc.detail, "code", None) == INVALID_BODY
        response.data = {
            "error": str(exc.detail) if invalid_body else "Invalid request body: malformed JSON"
        }
    elif isinstance(exc, exceptions.NotAuthenticated):
        request = context.get("request")
        had_session = request is not None and settings.SESSION_COOKIE_NAME in request.COOKIES
        response.data = {"error": "Session expired" if had_session else "Not authenticated"}
        response.status_code = status.HTTP_401_UNAUTHORIZED
    elif isinstance(exc, exceptions.AuthenticationFailed):
        response.data = {"error": str(exc.detail)}
        response.status_code = status.HTTP_401_UNAUTHORIZED
    else:
        response.data = {"error": str(exc.detail)}
    return response
