"""The published OpenAPI description, read the way a client's validator reads it."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema_rs
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer


@cache
def published_schema() -> dict[str, Any]:
    """As /api/openapi.json serves it."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


def component_validator(name: str) -> Any:
    """Validates a value against a component (JSON Schema 2020-12, formats checked), as
    schemathesis does; `$ref`s resolve inside the document."""
    document = {"$ref": f"#/components/schemas/{name}", **published_schema()}
    return jsonschema_rs.validator_for(document, validate_formats=True)


def operation(method: str, path: str) -> dict[str, Any]:
    return published_schema()["paths"][path][method.lower()]
