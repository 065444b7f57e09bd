"""The hazmat layer: the only place that imports ``cryptography``.

It makes the cryptographic choices (AES-256-GCM in segments with HKDF-SHA256 derived keys,
Tink's streaming AEAD wire format; AES-256-GCM key wrapping; HMAC-SHA256 of object records) so
that the recipes above it make none. See docs/sealed-format.md.
"""

from governance.crypto.mac import record_mac, record_mac_ok
from governance.crypto.segmented import SegmentedAead, SegmentedAeadParams, StreamEncryptor

__all__ = [
    "SegmentedAead",
    "SegmentedAeadParams",
    "StreamEncryptor",
    "record_mac",
    "record_mac_ok",
]
