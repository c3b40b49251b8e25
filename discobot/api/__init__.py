# Registers the OpenAPI extensions with drf-spectacular before any schema is generated.
from discobot.api import openapi  # noqa: F401
