"""The JSON request-body parser: DRF's, refusing what the rest of the server cannot hold."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Real bodies nest a handful of levels; Python's decoder (and every later walk over the data)
# recurses, so a body a thousand levels deep would end in a RecursionError.
MAX_JSON_DEPTH = 64
TOO_DEEP = f"Invalid request body: nested deeper than {MAX_JSON_DEPTH} levels"
# `"\ud800"` is valid JSON but not text: it cannot be encoded as UTF-8, stored or rendered.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_TEXT = "Invalid request body: a string holds a lone surrogate (\\ud800-\\udfff)"
INVALID_BODY = "invalid_body"


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP, code=INVALID_BODY) from None
        json_body_check(data)
        return data


def json_body_check(data: Any) -> None:
    """Walks the body without recursing: no deeper than MAX_JSON_DEPTH, no lone surrogates."""
    pending = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if LONE_SURROGATE.search(value):
                raise ParseError(NOT_TEXT, code=INVALID_BODY)
            continue
        if isinstance(value, dict):
            children = [*value.keys(), *value.values()]
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= MAX_JSON_DEPTH:
            raise ParseError(TOO_DEEP, code=INVALID_BODY)
        pending.extend((child, depth + 1) for child in children)
