"""Domain errors raised by services and selectors; the API renders them as `{"error": ...}`."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A rule of the product was broken by the caller's request."""

    status_code = 400

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    status_code = 404


class PermissionDeniedError(ApplicationError):
    status_code = 403


class ConflictError(ApplicationError):
    status_code = 409


class TooManyRequestsError(ApplicationError):
    """Over a quota; `retry_after`: seconds until it frees up (None: no one knows when)."""

    status_code = 429

    def __init__(
        self, message: str, *, retry_after: int | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, extra=extra)
        self.retry_after = retry_after
