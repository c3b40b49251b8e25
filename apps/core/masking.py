"""Secrets masked out of text before it is stored or sent: whole, base64-encoded (at any byte
alignment, standard and URL-safe alphabets) and URL-encoded, also when a stream splits one
across two of its chunks."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "****"
# Shorter values are not masked: replacing every "true" or "1234" would garble the text and
# hide nothing a guess would not find.
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
