"""Request fields that take JSON values as sent and check exactly the rules they publish.

DRF's own fields are lenient where a published schema cannot follow them: CharField trims
whitespace before it checks blankness and length, and refuses NUL without saying so;
BooleanField takes "yes", 1 or "on"; a RegexValidator's `$` also matches before a final
newline. A client (or a fuzzer) reading the OpenAPI description of these fields knows exactly
what the server takes.

Patterns are written for every engine that reads them (Python here, ECMA in browsers, Rust in
validators): explicit character classes instead of `\\s`, `\\d` or `\\w`, whose meanings differ.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from rest_framework import serializers
from rest_framework.fields import empty

# What Python calls whitespace (`str.isspace`, what `str.strip()` removes), spelled out.
WHITESPACE = (
    "\\t-\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
)
# Text without NUL, which PostgreSQL cannot store in a text column.
NO_NUL = "^[^\\u0000]*$"
# Text with something besides whitespace (and without NUL).
NOT_BLANK = f"^[^\\u0000]*[^{WHITESPACE}\\u0000][^\\u0000]*$"

PATTERN_MESSAGES = {
    NO_NUL: "Null characters are not allowed.",
    NOT_BLANK: "Must hold something besides whitespace, and no null characters.",
}

# A DNS name (labels of 1-63 letters, digits and inner dashes) or an IPv4 address, which has
# the same shape; anything else makes an HTTP client fail before it sends a request. (A name
# longer than DNS allows fails there too, as an unreachable host.)
HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST = f"{HOST_LABEL}(?:[.]{HOST_LABEL})*"
# A TCP port, 1-65535, in at most 5 digits (leading zeros allowed), by its significant digits.
PORT = (
    "(?:0{0,4}[1-9]|0{0,3}[1-9][0-9]|0{0,2}[1-9][0-9]{2}|0?[1-9][0-9]{3}"
    "|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
)
# An http(s) address: scheme, host, optional port, then anything visible in ASCII (an address
# with spaces or other characters is written percent-encoded).
HTTP_URL = f"^https?://{HOST}(?::{PORT})?(?:[/?#][!-~]*)?$"


def whole(pattern: str) -> str:
    """`pattern` (anchored with `^...$`, as published) for Python's re.search, ending in `\\Z`:
    Python's `$` also matches before a final newline, the other engines' does not."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise ValueError(f"not a whole-string pattern: {pattern}")
    return pattern[:-1] + "\\Z"


class TextField(serializers.CharField):
    """A string taken as sent: no trimming, lengths counted as sent, a whole-string `pattern`
    (NUL-free text by default) instead of DRF's unpublished refusal of NUL.

    `stated_pattern`, when a service checks a rule itself (with the contract's wording), is
    what the schema publishes instead of `pattern`.
    """

    def __init__(
        self,
        *,
        pattern: str = NO_NUL,
        stated_pattern: str | None = None,
        message: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(trim_whitespace=False, **kwargs)
        self.stated_pattern = stated_pattern or pattern
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, ProhibitNullCharactersValidator)
        ]
        message = message or PATTERN_MESSAGES.get(pattern, "Invalid value.")
        self.validators.append(RegexValidator(whole(pattern), message))

    def to_internal_value(self, data: Any) -> str:
        # DRF turns numbers into strings; a client sending 42 for a name has a bug.
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# RFC 3339's date-time, which `format: date-time` means.
RFC3339_DATE_TIME = re.compile(
    "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.][0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class DateTimeField(serializers.DateTimeField):
    """An RFC 3339 date-time; DRF would also take a bare date or a space for the `T`."""

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not RFC3339_DATE_TIME.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DDThh:mm:ss[.ffffff](Z|+hh:mm|-hh:mm)")
        return super().to_internal_value(value.upper())


class JsonBooleanField(serializers.BooleanField):
    """`true` or `false`; DRF would also take "yes", 1 or "on"."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class JsonNumberField(serializers.DecimalField):
    """A decimal amount sent as a JSON number, as the schema says: not a string of digits."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(coerce_to_string=False, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryBooleanField(serializers.BooleanField):
    """`true` or `false` in a query string, as OpenAPI writes a boolean parameter; DRF would
    also take 1, "yes" or "on" (and read anything else as false, where a view parses by hand)."""

    # Absent from a query string: the field's default, not DRF's html-form False (which the
    # check below refuses, so `DELETE /workspaces/{id}` without `deleteFiles` was a 400).
    default_empty_html = empty

    def get_value(self, dictionary: Any) -> Any:
        # DRF reads `?name=` (no value) as absent; it is neither true nor false.
        if self.field_name in dictionary:
            return dictionary[self.field_name]
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, str) or data not in ("true", "false"):
            self.fail("invalid", input=data)
        return data == "true"


class StringMapField(serializers.JSONField):
    """An object of strings whose names and values match patterns (environment variables,
    HTTP headers); published with `propertyNames` and `additionalProperties`."""

    def __init__(self, *, names: str, values: str, what: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.names, self.values, self.what = names, values, what
        self.name_check = re.compile(whole(names))
        self.value_check = re.compile(whole(values))

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict) or not all(
            isinstance(name, str) and isinstance(value, str) for name, value in data.items()
        ):
            raise serializers.ValidationError(f"{self.what} must map names to strings")
        for name, value in data.items():
            if not self.name_check.search(name):
                raise serializers.ValidationError(f"{name!r} is not a valid name")
            if not self.value_check.search(value):
                raise serializers.ValidationError(
                    f"the value of {name!r} holds a character it cannot hold"
                )
        return data
