"""Keeping secrets out of what people and logs see: upstream messages, logged request paths."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# A run of this many characters copied from a secret counts as a piece of it: providers echo
# keys cut short or starred out in the middle (`sk-proj-abcd****wxyz`).
SECRET_FRAGMENT_LENGTH = 8
# Shorter values (a flag, a port) are not worth masking and would mangle every message.
SECRET_MIN_LENGTH = 4
SECRET_MASK = "********"  # noqa: S105 (what is shown instead of a secret)
# A whole secret at least this long may show its last characters, as providers' consoles do.
SECRET_TAIL_SHOWN_FROM = 16
SECRET_TAIL_LENGTH = 4

# Invitation tokens travel in the path of `POST .../invitations/{token}/accept` (the contract's
# form); OAuth codes and tokens in query strings.
LOGGED_SECRETS = (
    (re.compile(r"(/invitations/)[^/?#\s\"]+(/accept)"), r"\1[redacted]\2"),
    (re.compile(r"([?&](?:code|token)=)[^&#\s\"]+"), r"\1[redacted]"),
)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` (words that came from elsewhere, such as a provider's error) with every secret,
    and every piece of one, masked. A whole long secret keeps its last four characters
    (`…abcd`) so that people can tell which key was meant."""
    spans: list[tuple[int, int]] = []
    whole: dict[tuple[int, int], str] = {}
    for secret in {secret for secret in secrets if len(secret) >= SECRET_MIN_LENGTH}:
        size = min(SECRET_FRAGMENT_LENGTH, len(secret))
        for fragment in {secret[i : i + size] for i in range(len(secret) - size + 1)}:
            start = text.find(fragment)
            while start != -1:
                spans.append((start, start + size))
                start = text.find(fragment, start + 1)
        start = text.find(secret)
        while start != -1:
            whole[(start, start + len(secret))] = secret
            start = text.find(secret, start + 1)
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, position = [], 0
    for start, end in merged:
        secret = whole.get((start, end), "")
        shown = (
            "…" + secret[-SECRET_TAIL_LENGTH:]
            if len(secret) >= SECRET_TAIL_SHOWN_FROM
            else SECRET_MASK
        )
        pieces += [text[position:start], shown]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def logged_text_redact(text: str) -> str:
    """A log line (a request path, an access-log entry) without the secrets URLs carry."""
    for pattern, replacement in LOGGED_SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """On the log handlers: Django logs request paths (`Not Found: /api/...`) in warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = logged_text_redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
