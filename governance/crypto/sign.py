"""Ed25519 signatures (audit checkpoints) and keyed hashes (values the audit log must not show).

Keys travel as raw bytes; the recipes above store them and make no choice of algorithm.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def new_signing_key() -> bytes:
    """A fresh Ed25519 private key (32 raw bytes)."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    return Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )


def public_key(private: bytes) -> bytes:
    """The 32 raw bytes of the public key that goes with ``private``."""
    key = Ed25519PrivateKey.from_private_bytes(private).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_fingerprint(public: bytes) -> str:
    """A short, stable name for a public key: ``ed25519:`` and 16 hex digits of its SHA-256."""
    return "ed25519:" + hashlib.sha256(public).hexdigest()[:16]


def sign(private: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(private).sign(message)


def signature_ok(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def keyed_hash(key: bytes, value: str) -> str:
    """``hmac-sha256:<hex>`` of ``value``: matchable by whoever holds ``key``, unreadable to
    everyone (as Vault's audit devices hash sensitive values)."""
    mac = HMAC(key, SHA256())
    mac.update(value.encode())
    return "hmac-sha256:" + mac.finalize().hex()
