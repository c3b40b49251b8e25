"""What drf-spectacular cannot infer on its own about this API's request bodies."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension

from discobot.text import INVISIBLE_CATEGORIES


class StrictSerializerExtension(OpenApiSerializerExtension):
    """Request bodies refuse unknown fields, so their schemas say `additionalProperties: false`."""

    target_class = "discobot.api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


# Patterns made only of character classes, each repeated (`^[^\u0000]*$`, `^[a-z]{1,65}$`).
CHARACTER_RUNS = re.compile(r"\^(?:\[[^\]]*\](?:\*|\{[0-9]+,[0-9]+\})?)+\$")


def string_schema(*variants: dict[str, Any]) -> dict[str, Any]:
    """A string field's whole rule. Under `anyOf` rather than at the top: drf-spectacular adds
    a field's validators (`maxLength`, `pattern`) and an `oneOf` for blank values to an
    extension's schema typed `string`, which would contradict a rule stated in full."""
    return {"anyOf": [{"type": "string", **variant} for variant in variants]}


class TextFieldExtension(OpenApiSerializerFieldExtension):
    """A TextField publishes the rule it (or the service behind it) checks."""

    target_class = "discobot.api.fields.TextField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        field = self.target
        rule: dict[str, Any] = {"pattern": field.stated_pattern}
        if field.max_length is not None and CHARACTER_RUNS.fullmatch(field.stated_pattern):
            rule["maxLength"] = field.max_length
        elif field.max_length is not None:
            # A fuzzer builds strings of exactly `maxLength` characters; for an address or a path
            # pattern that search does not end. The pattern bounds the length itself instead
            # (`(?![\s\S])`: the end of the text, as `$` means in every regex engine).
            bound = f"(?=[\\s\\S]{{0,{field.max_length}}}(?![\\s\\S]))"
            rule["pattern"] = f"^{bound}{field.stated_pattern[1:]}"
        if not field.allow_blank or re.search(field.stated_pattern, ""):
            return string_schema(rule)
        return string_schema(rule, {"maxLength": 0})


class StringMapFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "discobot.api.fields.StringMapField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {
            "type": "object",
            "propertyNames": {"pattern": self.target.names},
            "additionalProperties": {"type": "string", "pattern": self.target.values},
        }


class DisplayNameFieldExtension(OpenApiSerializerFieldExtension):
    """`DisplayNameField` cleans a name before checking it (`display_name_clean`): line breaks
    and tabs become spaces, other control and format characters are dropped, whitespace is
    trimmed; then the name must not be blank (where required) and its length is counted. The
    published pattern says exactly that of the name as sent."""

    target_class = "discobot.api.serializers.DisplayNameField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        field = self.target
        pattern = display_name_pattern(max_length=field.max_length, allow_blank=field.allow_blank)
        schema = string_schema({"pattern": pattern} if pattern else {})
        schema["description"] = " ".join(filter(None, [field.help_text, display_name_rule(field)]))
        return schema


def display_name_rule(field: Any) -> str:
    return (
        "Control and format characters are dropped, line breaks become spaces and "
        "surrounding whitespace is trimmed before the name is checked"
        + ("" if field.allow_blank else ": something visible must remain")
        + (f", at most {field.max_length} characters" if field.max_length else "")
        + "."
    )


def display_name_pattern(*, max_length: int | None, allow_blank: bool) -> str | None:
    """The names, as sent, that `DisplayNameField` takes.

    A name is made of whitespace (kept: trimmed at the ends, counted inside), dropped
    characters and visible ones. It is taken when, once cleaned, the run from its first
    visible character to its last holds at most `max_length` characters.
    """
    space, dropped = name_character_classes()
    visible = f"[^{space}{dropped}]"
    kept = f"(?:[{space}]|{visible})"
    edge = f"[{space}{dropped}]*"
    if max_length is None:
        return None if allow_blank else visible
    body = f"{visible}(?:[{dropped}]*{kept}){{0,{max_length - 1}}}"
    if allow_blank:
        body = f"(?:{body}{edge})?"
        return f"^{edge}{body}$"
    return f"^{edge}{body}{edge}$"


@cache
def name_character_classes() -> tuple[str, str]:
    """Inside of the character classes of whitespace and of characters a name loses."""
    space = ranges_class(lambda char: char.isspace())
    dropped = ranges_class(
        lambda char: not char.isspace() and unicodedata.category(char) in INVISIBLE_CATEGORIES
    )
    return space, dropped


def ranges_class(predicate: Any) -> str:
    """The code points (surrogates left out: no JSON text reaching a field holds one) for which
    `predicate` holds, as the escaped ranges of a regex character class."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF or not predicate(chr(code)):
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(
        escaped(first) if first == last else f"{escaped(first)}-{escaped(last)}"
        for first, last in ranges
    )


def escaped(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
