"""AES-256-GCM for every secret the server keeps, and the registry of fields that hold one.

Each value gets a random 96-bit nonce and is bound to its row by associated data, so a
ciphertext copied to another row does not open. Values carry the id of the key that sealed
them: ENCRYPTION_KEY seals, ENCRYPTION_KEY and ENCRYPTION_KEYS_OLD open, so keys can rotate.

A model that holds a secret registers its field once (`encrypted_field_register`, from its
app's `ready()`); key rotation and secret masking walk the registry, so the platform never
imports the apps whose secrets it keeps.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import models, transaction

from discobot.errors import ApplicationError

NONCE_BYTES = 12

Row = TypeVar("Row", bound=models.Model)


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


# --- The registry of encrypted fields ------------------------------------------------------------


@dataclass(frozen=True)
class EncryptedField(Generic[Row]):
    """A model field holding a JSON value sealed with `seal_json`; an empty field holds none."""

    model: type[Row]
    ciphertext: str  # the BinaryField with nonce+ciphertext
    key_id: str  # the CharField with the id of the key that sealed it
    binding: Callable[[Row], bytes]  # the associated data: what row the value belongs to
    # The ORM path from a row to its project's id, so every secret of a project can be masked
    # in what providers say to its members.
    project_lookup: str
    # The strings of an opened value that are secret (not its names, types or expiry).
    secret_values: Callable[[Any], Iterable[str]]

    def open(self, row: Row) -> Any:
        return unseal_json(
            getattr(row, self.ciphertext),
            key_id=getattr(row, self.key_id),
            associated_data=self.binding(row),
        )

    def seal(self, row: Row, value: Any) -> None:
        """Seals `value` into the row's fields; the caller saves the row."""
        blob, key_id = seal_json(value, associated_data=self.binding(row))
        setattr(row, self.ciphertext, blob)
        setattr(row, self.key_id, key_id)

    def sealed(self) -> models.QuerySet[Row]:
        """The rows that hold a value."""
        return self.model._default_manager.exclude(**{self.ciphertext: b""})


_registry: dict[tuple[type[models.Model], str], EncryptedField[Any]] = {}


def encrypted_field_register(field: EncryptedField[Any]) -> None:
    """Declares a secret-holding field once; registering it again replaces the entry."""
    _registry[(field.model, field.ciphertext)] = field


def encrypted_fields() -> list[EncryptedField[Any]]:
    return list(_registry.values())


def encrypted_reseal_batch(*, batch_size: int) -> int:
    """Re-seals up to `batch_size` stored values that an older key sealed; returns how many.

    Each field's share of a batch is one transaction, so an interrupted rotation leaves every
    value readable and running it again finishes the job.
    """
    key_id, _ = current_key()
    done = 0
    for field in encrypted_fields():
        if done == batch_size:
            break
        with transaction.atomic():
            rows = (
                field.sealed()
                .select_for_update()
                .exclude(**{field.key_id: key_id})
                .order_by("pk")[: batch_size - done]
            )
            for row in rows:
                field.seal(row, field.open(row))
                row.save(update_fields=[field.ciphertext, field.key_id])
                done += 1
    return done
