"""Serializer bases for request bodies: camelCase names are declared on the fields themselves."""

from __future__ import annotations

import operator
import re
from functools import cache
from typing import Any, TypeVar

from django.db.models import Model
from rest_framework import serializers
from rest_framework.fields import empty

from discobot.text import display_name_clean


def field_label(name: str) -> str:
    """`agentType` -> `Agent type`, the wording of the contract's `"Agent type is required"`."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    return words[:1].upper() + words[1:]


class StrictSerializer(serializers.Serializer[Any]):
    """A request body: unknown fields are refused and missing ones get the contract's wording."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            missing = f"{field_label(name)} is required"
            field.error_messages.update({"required": missing, "null": missing})
            if isinstance(field, serializers.CharField):
                field.error_messages["blank"] = missing

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [
                            serializers.ErrorDetail(f"Unknown field: {name}", code="unknown_field")
                        ]
                        for name in unknown
                    }
                )
            # DRF turns numbers into strings; a client sending 42 for a name has a bug.
            not_strings = {
                name: ["Must be a string."]
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and data.get(name) is not None
                and not isinstance(data[name], str)
            }
            if not_strings:
                raise serializers.ValidationError(not_strings)
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer[Any]):
    """The body of every 4xx/5xx answer."""

    error = serializers.CharField()


class SuccessSerializer(serializers.Serializer[Any]):
    success = serializers.BooleanField()


class BlankAsNullField(serializers.CharField):
    """An optional text field of the contract: stored as "", rendered as null when empty."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return str(value) if value else None


class DisplayNameField(serializers.CharField):
    """A name people see (project, workspace, session, agent, credential, token, MCP server).

    Cleaned before the usual checks (`display_name_clean`): line breaks become spaces; control,
    bidi and zero-width characters are dropped; surrounding whitespace is trimmed. A name made
    only of such characters is then blank, refused where a name is required.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)

    def run_validation(self, data: Any = empty) -> Any:
        if isinstance(data, str):
            data = display_name_clean(data)
        return super().run_validation(data)


Row = TypeVar("Row", bound=Model)


class RowsSerializer(serializers.ModelSerializer[Row]):
    """A ModelSerializer for output that lists many rows: DRF's own `to_representation` walks
    its fields' generic machinery again for every row (half the time of a 20-row listing); this
    works out once per serializer how each field reads its value, then per row only reads and
    renders (the same values, the same None handling)."""

    def to_representation(self, instance: Row) -> dict[str, Any]:
        plan = self.__dict__.get("_read_plan")
        if plan is None:
            plan = self.__dict__["_read_plan"] = [
                (field.field_name, attribute_reader(field), field.to_representation)
                for field in self._readable_fields
            ]
        data: dict[str, Any] = {}
        for name, read, render in plan:
            value = read(instance)
            data[name] = None if value is None else render(value)
        return data


def attribute_reader(field: serializers.Field[Any, Any, Any, Any]) -> Any:
    """A plain attribute of the row (a model field's value) is read directly; anything else
    (a method, `source="*"`, a dotted path, a callable) as DRF reads it."""
    attrs = field.source_attrs
    parent = field.parent
    model: type[Model] | None = (
        parent.Meta.model if isinstance(parent, serializers.ModelSerializer) else None
    )
    if (
        len(attrs) == 1
        and not isinstance(field, serializers.SerializerMethodField)
        and model is not None
        and attrs[0] in concrete_fields(model)
    ):
        return operator.attrgetter(attrs[0])
    return field.get_attribute


@cache
def concrete_fields(model: type[Model]) -> frozenset[str]:
    """Names whose attribute on a row is a stored value (a column, or a foreign key's id)."""
    return frozenset({field.attname for field in model._meta.concrete_fields}) | {
        field.name for field in model._meta.concrete_fields if not field.is_relation
    }
