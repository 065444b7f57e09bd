"""Wrapping data keys under a key-encryption key (AES-256-GCM, bound to where the key belongs).

wrapped = nonce (12 bytes) || AES-256-GCM(kek, nonce, data_key, ad) where ad names the KEK, its
version and the object, so a wrapped key moved to another object or version does not unwrap.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.exceptions import IntegrityError

DATA_KEY_SIZE = 32
_NONCE = 12


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(DATA_KEY_SIZE)


def _context(kek_id: str, version: int, object_id: str) -> bytes:
    return f"governed-dek:v1|{kek_id}|{version}|{object_id}".encode()


def wrap_key(kek: bytes, data_key: bytes, *, kek_id: str, version: int, object_id: str) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, data_key, _context(kek_id, version, object_id))


def unwrap_key(kek: bytes, wrapped: bytes, *, kek_id: str, version: int, object_id: str) -> bytes:
    try:
        return AESGCM(kek).decrypt(
            wrapped[:_NONCE], wrapped[_NONCE:], _context(kek_id, version, object_id)
        )
    except (InvalidTag, ValueError):
        raise IntegrityError(
            f"the data key of object {object_id!r} does not unwrap under {kek_id} v{version}: "
            "the key record was altered or belongs elsewhere"
        ) from None
