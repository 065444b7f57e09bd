"""The hazmat layer: the only place that imports ``cryptography``.

It makes the cryptographic choices (AES-256-GCM in segments with HKDF-SHA256 derived keys,
Tink's streaming AEAD wire format; AES-256-GCM key wrapping; HMAC-SHA256 of object records;
Ed25519 audit signatures and keyed hashes) so
that the recipes above it make none. See docs/sealed-format.md.
"""

from governance.crypto.mac import record_mac, record_mac_ok
from governance.crypto.segmented import SegmentedAead, SegmentedAeadParams, StreamEncryptor
from governance.crypto.sign import (
    key_fingerprint,
    keyed_hash,
    new_signing_key,
    public_key,
    sign,
    signature_ok,
)

__all__ = [
    "SegmentedAead",
    "SegmentedAeadParams",
    "StreamEncryptor",
    "key_fingerprint",
    "keyed_hash",
    "new_signing_key",
    "public_key",
    "record_mac",
    "record_mac_ok",
    "sign",
    "signature_ok",
]
