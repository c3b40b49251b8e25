"""Text that people show to each other: names of projects, workspaces, agents, users."""

from __future__ import annotations

import unicodedata

# Control characters (Cc), format characters (Cf: bidi overrides and isolates, zero-width
# spaces and joiners, the BOM) and lone surrogates (Cs) can reorder or hide what a name shows,
# or cannot be stored at all.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
# Line and paragraph separators (Zl, Zp) end a line just like the controls `\n` and `\r`.
LINE_BREAKING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def display_name_clean(value: str) -> str:
    """`value` as a one-line name: line breaks and tabs become spaces, other control, format
    and surrogate characters are dropped, surrounding whitespace is trimmed."""
    kept = []
    for char in value:
        category = unicodedata.category(char)
        if char.isspace() and category in LINE_BREAKING_CATEGORIES:
            kept.append(" ")
        elif category not in INVISIBLE_CATEGORIES:
            kept.append(char)
    return "".join(kept).strip()
