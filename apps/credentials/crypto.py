"""AES-256-GCM for every secret the server keeps (credentials, MCP server env and headers).

Each value gets a random 96-bit nonce and is bound to its row by associated data, so a
ciphertext copied to another row does not open. Values carry the id of the key that sealed
them: ENCRYPTION_KEY seals, ENCRYPTION_KEY and ENCRYPTION_KEYS_OLD open, so keys can rotate.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from discobot.errors import ApplicationError

NONCE_BYTES = 12


class DecryptionError(ApplicationError):
    """A stored secret could not be opened; the message never contains the secret.

    503: the server is not configured to read what it stored (a key is missing or wrong)."""

    status_code = 503


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:12]


def parse_key(hex_key: str, setting: str) -> bytes:
    try:
        key = bytes.fromhex(hex_key)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise DecryptionError(f"{setting} must be 64 hexadecimal characters")
    return key


def current_key() -> tuple[str, bytes]:
    key = parse_key(settings.ENCRYPTION_KEY, "ENCRYPTION_KEY")
    return key_id_of(key), key


def keyring() -> dict[str, bytes]:
    """Every key that may open a value: the current one and ENCRYPTION_KEYS_OLD."""
    keys = [parse_key(old, "ENCRYPTION_KEYS_OLD") for old in settings.ENCRYPTION_KEYS_OLD]
    key_id, key = current_key()
    return {**{key_id_of(old): old for old in keys}, key_id: key}


def seal(plaintext: bytes, *, associated_data: bytes) -> tuple[bytes, str]:
    """Encrypts under the current key; returns nonce+ciphertext and the key's id."""
    key_id, key = current_key()
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data), key_id


def unseal(blob: bytes, *, key_id: str, associated_data: bytes) -> bytes:
    key = keyring().get(key_id)
    if key is None:
        raise DecryptionError(
            f"The key {key_id} that sealed this secret is neither ENCRYPTION_KEY nor in "
            "ENCRYPTION_KEYS_OLD"
        )
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
    except InvalidTag:
        raise DecryptionError(
            "A stored secret failed its integrity check (tampered, moved or wrong key)"
        ) from None


def seal_json(value: Any, *, associated_data: bytes) -> tuple[bytes, str]:
    return seal(json.dumps(value).encode(), associated_data=associated_data)


def unseal_json(blob: bytes, *, key_id: str, associated_data: bytes) -> Any:
    return json.loads(unseal(bytes(blob), key_id=key_id, associated_data=associated_data))
