"""Authenticating an object's record (its size, hash, owner) under the object's own data key.

mac = HMAC-SHA256(HKDF-SHA256(data_key, info = "governed:v1:record:" || object id), record)

A record edited after sealing, or one moved to another object, fails while the key exists;
once the key is shredded nothing about the object can be checked, which is the point.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _mac(data_key: bytes, object_id: str, record: bytes) -> HMAC:
    derived = HKDF(
        algorithm=SHA256(), length=32, salt=None,
        info=b"governed:v1:record:" + object_id.encode(),
    ).derive(data_key)  # fmt: skip
    mac = HMAC(derived, SHA256())
    mac.update(record)
    return mac


def record_mac(data_key: bytes, object_id: str, record: bytes) -> str:
    return _mac(data_key, object_id, record).finalize().hex()


def record_mac_ok(data_key: bytes, object_id: str, record: bytes, mac: str) -> bool:
    try:
        _mac(data_key, object_id, record).verify(bytes.fromhex(mac))
    except (InvalidSignature, ValueError):
        return False
    return True
