"""The project's secrets kept out of a turn: its tools' results (before the model or anyone
sees them) and every chunk of its stream (before it is stored or sent)."""

from __future__ import annotations

from typing import Any

from apps.chat import uistream
from discobot.redaction import MaskingStream, SecretMasker

# Chunks whose text arrives in pieces, keyed by the part or call they belong to, and the
# chunk that ends that part or call.
DELTAS = {
    "text-delta": ("id", "delta"),
    "reasoning-delta": ("id", "delta"),
    "tool-input-delta": ("toolCallId", "inputTextDelta"),
}
ENDS = {
    "text-end": ("id", "text-delta", "delta"),
    "reasoning-end": ("id", "reasoning-delta", "delta"),
    "tool-input-available": ("toolCallId", "tool-input-delta", "inputTextDelta"),
    "tool-input-error": ("toolCallId", "tool-input-delta", "inputTextDelta"),
}


def masked_value(value: Any, masker: SecretMasker) -> Any:
    """`value` (JSON-like) with the secrets masked in every string it holds."""
    if isinstance(value, str):
        return masker.mask(value)
    if isinstance(value, list):
        return [masked_value(item, masker) for item in value]
    if isinstance(value, dict):
        return {key: masked_value(item, masker) for key, item in value.items()}
    return value


class ChunkMasker:
    """Masks a turn's chunks in order. A delta's text goes through a stream per part, so a
    secret split across two deltas is caught: what may begin one waits for the next delta, or
    comes out as a last delta just before the part ends."""

    def __init__(self, masker: SecretMasker) -> None:
        self.masker = masker
        self.streams: dict[str, MaskingStream] = {}

    def __call__(self, chunk: uistream.Chunk) -> list[uistream.Chunk]:
        if not self.masker:
            return [chunk]
        kind = chunk["type"]
        if kind in DELTAS:
            key, field = DELTAS[kind]
            stream = self.streams.setdefault(chunk[key], self.masker.stream())
            text = stream.feed(chunk[field])
            return [{**chunk, field: text}] if text else []
        masked: uistream.Chunk = {
            name: value if name == "type" else masked_value(value, self.masker)
            for name, value in chunk.items()
        }
        if kind in ENDS:
            key, delta_kind, field = ENDS[kind]
            ended = self.streams.pop(chunk[key], None)
            rest = ended.end() if ended is not None else ""
            if rest:
                return [{"type": delta_kind, key: chunk[key], field: rest}, masked]
        return [masked]
