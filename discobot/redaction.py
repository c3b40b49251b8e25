"""Keeping secrets out of what people and logs see: upstream messages, logged request paths,
and (`SecretMasker`) what an agent's tools print, a chat stream and a terminal's transcript:
there a secret is masked whole, base64-encoded (at any byte alignment, standard and URL-safe
alphabets) and URL-encoded, also when a stream splits one across two of its chunks."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

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


# What stands for a secret in what is stored or sent (tool output, messages, transcripts).
MASK = "****"
# Shorter values are not masked there: replacing every "true" or "1234" would garble the text
# and hide nothing a guess would not find.
SECRET_MIN_CHARS = 8


def encoded_forms(secret: str) -> set[str]:
    """The secret and the forms it takes when encoded; a base64 form is the part of the
    encoding that the secret's bytes alone decide, whatever bytes surround it."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    raw = secret.encode()
    for offset in range(3):
        padded = b"\0" * offset + raw
        settled = 4 * (len(padded) // 3)  # characters made of the secret's bytes only
        start = 4 if offset else 0  # the first group mixes in the bytes before it
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.add(encode(padded)[start:settled].decode())
    return {form for form in forms if len(form) >= SECRET_MIN_CHARS}


class SecretMasker:
    """Replaces `secrets` in text with `MASK`; `stream()` masks a stream chunk by chunk."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) >= SECRET_MIN_CHARS:
                forms |= encoded_forms(secret)
        # Longest first: a secret's encoded form may contain a shorter secret.
        ordered = sorted(forms, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self.longest = len(ordered[0]) if ordered else 0
        # What a stream's end may be while a secret is still arriving.
        self.beginnings = {form[:end] for form in ordered for end in range(1, len(form))}

    def __bool__(self) -> bool:
        return self.pattern is not None

    def mask(self, text: str) -> str:
        return self.pattern.sub(MASK, text) if self.pattern is not None else text

    def stream(self) -> MaskingStream:
        return MaskingStream(self)


class MaskingStream:
    """One stream's masking: `feed` returns what can be sent of the text so far, holding back
    the end that could still be the start of a secret the next chunk completes; `end` returns
    the rest."""

    def __init__(self, masker: SecretMasker) -> None:
        self.masker = masker
        self.held = ""

    def feed(self, text: str) -> str:
        masker = self.masker
        if masker.pattern is None:
            return text
        held = self.held + text
        sent: list[str] = []
        position = 0
        for match in masker.pattern.finditer(held):
            if held[match.start() :] in masker.beginnings:
                break  # it may yet be the start of a longer secret
            sent += [held[position : match.start()], MASK]
            position = match.end()
        keep = len(held)
        for start in range(max(position, len(held) - masker.longest + 1), len(held)):
            if held[start:] in masker.beginnings:
                keep = start
                break
        sent.append(held[position:keep])
        self.held = held[keep:]
        return "".join(sent)

    def end(self) -> str:
        rest, self.held = self.masker.mask(self.held), ""
        return rest
