"""The segmented AEAD: round trips, Tink interoperability both ways, and every tampering."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.crypto import SegmentedAead, SegmentedAeadParams
from governance.exceptions import IntegrityError

KEY = bytes(range(32))
AD = b"object:1234"


def tink_primitive(key: bytes, segment_size: int):  # type: ignore[no-untyped-def]
    """Tink's own streaming AEAD for the same raw key (the `tink` package, a test dependency)."""
    from tink import cleartext_keyset_handle, streaming_aead
    from tink.proto import aes_gcm_hkdf_streaming_pb2, common_pb2, tink_pb2

    streaming_aead.register()
    key_proto = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKey(
        version=0,
        key_value=key,
        params=aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingParams(
            ciphertext_segment_size=segment_size, derived_key_size=32,
            hkdf_hash_type=common_pb2.SHA256,
        ),
    )  # fmt: skip
    keyset = tink_pb2.Keyset(
        primary_key_id=1,
        key=[
            tink_pb2.Keyset.Key(
                key_data=tink_pb2.KeyData(
                    type_url="type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey",
                    value=key_proto.SerializeToString(),
                    key_material_type=tink_pb2.KeyData.SYMMETRIC,
                ),
                status=tink_pb2.ENABLED, key_id=1, output_prefix_type=tink_pb2.RAW,
            )
        ],
    )  # fmt: skip
    return cleartext_keyset_handle.from_keyset(keyset).primitive(streaming_aead.StreamingAead)


class _Kept(io.BytesIO):
    def close(self) -> None:  # Tink closes the sink; keep the bytes readable
        pass


def tink_encrypt(key: bytes, segment_size: int, plaintext: bytes, ad: bytes) -> bytes:
    sink = _Kept()
    with tink_primitive(key, segment_size).new_encrypting_stream(sink, ad) as stream:
        stream.write(plaintext)
    return sink.getvalue()


def tink_decrypt(key: bytes, segment_size: int, ciphertext: bytes, ad: bytes) -> bytes:
    with tink_primitive(key, segment_size).new_decrypting_stream(
        io.BytesIO(ciphertext), ad
    ) as stream:
        return bytes(stream.read())


SIZES = [0, 1, 7, 8, 9, 23, 24, 25, 47, 48, 49, 100, 1000]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("segment_size", [57, 64, 4096])
def test_tink_reads_ours_and_we_read_tinks(size: int, segment_size: int) -> None:
    aead = SegmentedAead(KEY, SegmentedAeadParams(segment_size=segment_size))
    message = os.urandom(size)
    ours = aead.encrypt(message, AD)
    streamed = io.BytesIO()
    assert aead.encrypt_stream(io.BytesIO(message), streamed, AD) == size
    assert tink_decrypt(KEY, segment_size, ours, AD) == message
    assert tink_decrypt(KEY, segment_size, streamed.getvalue(), AD) == message
    theirs = tink_encrypt(KEY, segment_size, message, AD)
    assert len(theirs) == len(ours)
    assert aead.decrypt(theirs, AD) == message


@settings(max_examples=60, deadline=None)
@given(
    message=st.binary(max_size=3000),
    segment_size=st.integers(min_value=57, max_value=700),
    chunks=st.lists(st.integers(min_value=1, max_value=400), max_size=20),
)
def test_round_trip_over_sizes_segments_and_write_patterns(
    message: bytes, segment_size: int, chunks: list[int]
) -> None:
    aead = SegmentedAead(KEY, SegmentedAeadParams(segment_size=segment_size))
    sealer = aead.encryptor(AD)
    parts, position = [], 0
    for size in chunks:  # incremental writes of any sizes give the same format
        parts.append(sealer.update(message[position : position + size]))
        position += size
    parts.append(sealer.update(message[position:]))
    parts.append(sealer.finish())
    ciphertext = b"".join(parts)
    assert aead.decrypt(ciphertext, AD) == message
    sink = io.BytesIO()
    assert aead.decrypt_stream(io.BytesIO(ciphertext), sink, AD) == len(message)
    assert sink.getvalue() == message
    assert _open_at(aead, ciphertext, AD, workers=1) == message
    assert _open_at(aead, ciphertext, AD, workers=2) == message


SEGMENT = 64


@pytest.fixture
def sealed() -> tuple[SegmentedAead, bytes, bytes]:
    aead = SegmentedAead(KEY, SegmentedAeadParams(segment_size=SEGMENT))
    message = os.urandom(5 * SEGMENT)
    return aead, message, aead.encrypt(message, AD)


def _segments(ciphertext: bytes) -> list[bytes]:
    header = 41
    first = SEGMENT - header
    body = ciphertext[header:]
    parts = [body[:first]]
    parts += [body[i : i + SEGMENT] for i in range(first, len(body), SEGMENT)]
    return [ciphertext[:header], *parts]


def _open_at(aead: SegmentedAead, ciphertext: bytes, ad: bytes, *, workers: int) -> bytes:
    """The positional, multi-threaded reader (what the store uses for files)."""

    def read_at(view: memoryview, offset: int) -> int:
        chunk = ciphertext[offset : offset + len(view)]
        view[: len(chunk)] = chunk
        return len(chunk)

    segments = aead.open_at(read_at, len(ciphertext), ad, label="object 'x'", workers=workers)
    return b"".join(bytes(segment) for segment in segments)


def _fails(aead: SegmentedAead, ciphertext: bytes, ad: bytes = AD) -> str:
    """Both readers (streaming; positional with 1 and 2 threads) refuse ``ciphertext``."""
    with pytest.raises(IntegrityError) as info:
        aead.decrypt(ciphertext, ad, label="object 'x'")
    assert "object 'x'" in str(info.value)
    for workers in (1, 2):
        with pytest.raises(IntegrityError, match="object 'x'"):
            _open_at(aead, ciphertext, ad, workers=workers)
    return str(info.value)


def test_every_flipped_bit_is_detected(sealed: tuple[SegmentedAead, bytes, bytes]) -> None:
    aead, _, ciphertext = sealed
    for position in range(0, len(ciphertext), 7):
        for bit in (0, 5):
            tampered = bytearray(ciphertext)
            tampered[position] ^= 1 << bit
            _fails(aead, bytes(tampered))


def test_truncation_at_any_byte_is_detected(sealed: tuple[SegmentedAead, bytes, bytes]) -> None:
    aead, _, ciphertext = sealed
    for cut in range(len(ciphertext)):
        _fails(aead, ciphertext[:cut])


def test_dropped_duplicated_and_reordered_segments(
    sealed: tuple[SegmentedAead, bytes, bytes],
) -> None:
    aead, _, ciphertext = sealed
    header, *segments = _segments(ciphertext)
    assert len(segments) >= 5
    _fails(aead, header + b"".join(segments[:2] + segments[3:]))  # dropped
    _fails(aead, header + b"".join(segments[:3] + segments[2:]))  # duplicated
    _fails(aead, header + b"".join([segments[0], segments[2], segments[1], *segments[3:]]))
    _fails(aead, header + b"".join(segments[:-1]))  # cut at a segment boundary


def test_edited_header_wrong_key_and_swapped_objects(
    sealed: tuple[SegmentedAead, bytes, bytes],
) -> None:
    aead, message, ciphertext = sealed
    assert "header" in _fails(aead, b"\x29" + ciphertext[1:])
    _fails(aead, ciphertext[:5] + bytes([ciphertext[5] ^ 1]) + ciphertext[6:])  # salt
    _fails(aead, ciphertext, ad=b"object:9999")  # another object's ciphertext
    _fails(SegmentedAead(os.urandom(32), aead.params), ciphertext)
    other = aead.encrypt(message, b"object:9999")
    _fails(aead, other)
    _fails(aead, b"")


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="segment_size"):
        SegmentedAeadParams(segment_size=56)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        SegmentedAead(b"short")


VECTORS = json.loads((Path(__file__).parent / "vectors.json").read_text())["vectors"]


@pytest.mark.parametrize(
    "vector", VECTORS, ids=lambda v: f"{v['segment_size']}-{len(v['plaintext']) // 2}"
)
def test_vectors(vector: dict[str, object]) -> None:
    """Fixed test vectors (docs/sealed-format.md): we reproduce them byte for byte from the
    recorded salt and nonce prefix, and Tink decrypts them."""
    key = bytes.fromhex(str(vector["key"]))
    ad = bytes.fromhex(str(vector["associated_data"]))
    plaintext = bytes.fromhex(str(vector["plaintext"]))
    ciphertext = bytes.fromhex(str(vector["ciphertext"]))
    params = SegmentedAeadParams(segment_size=int(str(vector["segment_size"])))
    randomness = iter(
        [bytes.fromhex(str(vector["salt"])), bytes.fromhex(str(vector["nonce_prefix"]))]
    )
    sealer = SegmentedAead(key, params).encryptor(ad, random=lambda n: next(randomness))
    assert sealer.update(plaintext) + sealer.finish() == ciphertext
    assert SegmentedAead(key, params).decrypt(ciphertext, ad) == plaintext
    assert tink_decrypt(key, params.segment_size, ciphertext, ad) == plaintext
