"""Serializer bases for request bodies: camelCase names are declared on the fields themselves."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Model
from rest_framework import ISO_8601, serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

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
    """A ModelSerializer for output rows, rendered exactly as DRF renders them, at a fraction
    of the cost. DRF builds a serializer's fields again for every instance (a third of a
    listing request), then walks their generic machinery for every row. This works out once
    per class how each field reads and renders its value (`row_plan`) and per row only reads
    and renders; a class with a field that may depend on its serializer's context falls back
    to a plan per instance, built from its fields."""

    def to_representation(self, instance: Row) -> dict[str, Any]:
        plan = row_plan(type(self)) or self.instance_plan()
        data: dict[str, Any] = {}
        for name, read, render in plan:
            value = read(self, instance)
            data[name] = None if value is None else render(value)
        return data

    def instance_plan(self) -> Plan:
        plan: Plan | None = self.__dict__.get("_read_plan")
        if plan is None:
            plan = self.__dict__["_read_plan"] = [
                (field.field_name, field_reader(field), renderer(field))
                for field in self._readable_fields
            ]
        return plan


# Per field: its name, how it reads the row (given the serializer rendering it), and how it
# renders a value that is not None.
Plan = list[tuple[str, Callable[[Any, Any], Any], Callable[[Any], Any]]]

# Fields whose rendering depends on nothing but their own arguments (not on their serializer,
# its context or the request), so one instance may render every serializer's rows.
CONTEXT_FREE_FIELDS = (
    serializers.BooleanField,
    serializers.CharField,
    serializers.ChoiceField,
    serializers.DateTimeField,
    serializers.FloatField,
    serializers.IntegerField,
    serializers.UUIDField,
)


@cache
def row_plan(serializer_class: type[RowsSerializer[Any]]) -> Plan | None:
    """The class's plan, made from one instance of it, or None when one of its fields could
    depend on the serializer instance that renders it."""
    prototype = serializer_class(context={})
    plan: Plan = []
    for field in prototype._readable_fields:
        name = str(field.field_name)
        if isinstance(field, serializers.SerializerMethodField):
            # Called on the serializer that renders the row, with its own context.
            plan.append((name, method_caller(field.method_name), identity))
        elif context_free(field):
            plan.append((name, field_reader(field), renderer(field)))
        else:
            return None
    return plan


def context_free(field: serializers.Field[Any, Any, Any, Any]) -> bool:
    if isinstance(field, serializers.ListSerializer):
        return False
    if isinstance(field, serializers.Serializer):
        return all(context_free(nested) for nested in field._readable_fields)
    return isinstance(field, CONTEXT_FREE_FIELDS)


def method_caller(method_name: str) -> Callable[[Any, Any], Any]:
    def call(serializer: Any, row: Any) -> Any:
        return getattr(serializer, method_name)(row)

    return call


def identity(value: Any) -> Any:
    return value


def field_reader(field: serializers.Field[Any, Any, Any, Any]) -> Callable[[Any, Any], Any]:
    read = attribute_reader(field)
    return lambda _serializer, row: read(row)


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


def renderer(field: serializers.Field[Any, Any, Any, Any]) -> Any:
    """How a row's value is rendered: a time as DRF renders it in UTC, but without looking up
    the current time zone for each value (a quarter of a 20-row listing's rendering); any
    other field by its own `to_representation`."""
    if (
        type(field) is serializers.DateTimeField
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
        and not hasattr(field, "timezone")
        and settings.USE_TZ
        and settings.TIME_ZONE == "UTC"
    ):
        return utc_iso_time
    return field.to_representation


def utc_iso_time(value: datetime) -> str:
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@cache
def concrete_fields(model: type[Model]) -> frozenset[str]:
    """Names whose attribute on a row is a stored value (a column, or a foreign key's id)."""
    return frozenset({field.attname for field in model._meta.concrete_fields}) | {
        field.name for field in model._meta.concrete_fields if not field.is_relation
    }
