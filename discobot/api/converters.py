"""Path converters; the project-wide ones are registered on import, before any URL module
that names them is read (an app's URL module may be imported by `discobot.urls` itself)."""

from __future__ import annotations

from django.urls import register_converter


class ProjectIdConverter:
    """A project id in a path: a UUID, or `local` for the anonymous-mode project."""

    regex = "local|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> str:
        return value.lower()

    def to_url(self, value: str) -> str:
        return value


class SessionIdConverter:
    """A client-generated session id (contract §2): letters, digits and dashes, at most 65."""

    regex = "[A-Za-z0-9-]{1,65}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ProjectIdConverter, "project_id")
register_converter(SessionIdConverter, "session_id")


class ProviderConverter:
    """A credential's provider in a path: the contract's and litellm's names are all of this
    shape, and nothing else (a NUL, say) reaches the database."""

    regex = "[A-Za-z0-9._-]{1,50}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
