"""Streaming authenticated encryption in segments: Tink's AES-GCM-HKDF streaming AEAD format.

Ciphertext = header || segment_0 || ... || segment_{n-1}, where

- header = header_size (1 byte) || salt (derived_key_size bytes) || nonce_prefix (7 bytes);
- the segment key = HKDF-SHA256(ikm=key, salt=salt, info=associated_data);
- segment i = AES-GCM(segment key, nonce_prefix || i as 4 bytes big-endian || last flag, M_i),
  the last flag being 1 only on the final segment, with a 16-byte tag;
- ciphertext segments are ``segment_size`` bytes (the first is shorter by the header) except
  the last, which may be shorter; an empty message is one empty last segment.

So a flipped bit, a dropped, duplicated or reordered segment, truncation anywhere (a segment
cut at a boundary was not sealed as last), an edited header, another object's ciphertext (its
associated data differs) or a wrong key all fail authentication. This is byte-for-byte Tink's
format, so Tink in any language decrypts our ciphertexts and we decrypt its (tests prove both).
It is written on ``cryptography`` with preallocated buffers, because tink-py streams at a
fraction of bare AES-GCM's speed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from governance.exceptions import IntegrityError

TAG_SIZE = 16
NONCE_PREFIX_SIZE = 7
MAX_SEGMENTS = 2**32


@dataclass(frozen=True)
class SegmentedAeadParams:
    """The format's parameters (Tink's AES256_GCM_HKDF_1MB by default)."""

    segment_size: int = 1 << 20
    derived_key_size: int = 32

    def __post_init__(self) -> None:
        if self.derived_key_size not in (16, 32):
            raise ValueError("derived_key_size must be 16 or 32")
        if not self.header_size + TAG_SIZE < self.segment_size < 2**31:
            raise ValueError(
                f"segment_size must be more than {self.header_size + TAG_SIZE} and less than 2**31"
            )

    @property
    def header_size(self) -> int:
        return 1 + self.derived_key_size + NONCE_PREFIX_SIZE

    def plaintext_size(self, index: int) -> int:
        """How many plaintext bytes segment ``index`` holds when it is not the last."""
        first_cut = self.header_size if index == 0 else 0
        return self.segment_size - first_cut - TAG_SIZE


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= MAX_SEGMENTS:
        raise ValueError("too many segments for one object (2**32); use larger segments")
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _read_full(source: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``source`` (which may return short reads); the bytes read."""
    filled = 0
    while filled < len(view):
        got = source.readinto(view[filled:])  # type: ignore[attr-defined]
        if not got:
            break
        filled += got
    return filled


class SegmentedAead:
    """Seals and opens streams under one key (an object's data key)."""

    def __init__(self, key: bytes, params: SegmentedAeadParams | None = None) -> None:
        self.params = params or SegmentedAeadParams()
        if len(key) < self.params.derived_key_size:
            raise ValueError(f"the key must be at least {self.params.derived_key_size} bytes")
        self._key = bytes(key)

    def _segment_key(self, salt: bytes, associated_data: bytes) -> AESGCM:
        hkdf = HKDF(
            algorithm=SHA256(), length=self.params.derived_key_size, salt=salt,
            info=associated_data,
        )  # fmt: skip
        return AESGCM(hkdf.derive(self._key))

    # -- sealing ---------------------------------------------------------------------------

    def encryptor(
        self, associated_data: bytes, *, random: Callable[[int], bytes] = os.urandom
    ) -> StreamEncryptor:
        return StreamEncryptor(self, associated_data, random=random)

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        sealer = self.encryptor(associated_data)
        return sealer.update(plaintext) + sealer.finish()

    def encrypt_stream(
        self, source: BinaryIO, sink: BinaryIO, associated_data: bytes,
        *, on_plaintext: Callable[[memoryview], None] | None = None,
    ) -> int:  # fmt: skip
        """Seal everything ``source`` yields into ``sink``; return the plaintext size.

        Two preallocated plaintext buffers (one segment of look-ahead tells which segment is
        the last) and one output buffer: memory stays at three segments whatever the size.
        ``on_plaintext`` sees each plaintext segment (e.g. to hash it); it runs in a helper
        thread while the segment is encrypted and written (hashing releases the GIL, so the
        two overlap on two cores), and must only read the view.
        """
        p = self.params
        salt, prefix = os.urandom(p.derived_key_size), os.urandom(NONCE_PREFIX_SIZE)
        aead = self._segment_key(salt, associated_data)
        sink.write(bytes([p.header_size]) + salt + prefix)
        current = memoryview(bytearray(p.plaintext_size(1)))
        ahead = memoryview(bytearray(p.plaintext_size(1)))
        out = memoryview(bytearray(p.segment_size))
        index, total = 0, 0
        filled = _read_full(source, current[: p.plaintext_size(0)])
        with ThreadPoolExecutor(max_workers=1) as helper:
            while True:
                more = _read_full(source, ahead[: p.plaintext_size(index + 1)])
                last = more == 0
                chunk = current[:filled]
                seen = helper.submit(on_plaintext, chunk) if on_plaintext is not None else None
                sealed = out[: filled + TAG_SIZE]
                aead.encrypt_into(_nonce(prefix, index, last), chunk, None, sealed)
                sink.write(sealed)
                if seen is not None:
                    seen.result()  # the buffer is refilled next: the helper must be done
                total += filled
                if last:
                    return total
                current, ahead, filled = ahead, current, more
                index += 1

    # -- opening ---------------------------------------------------------------------------

    def decrypt(self, ciphertext: bytes, associated_data: bytes, *, label: str = "") -> bytes:
        """The whole plaintext, returned only once every segment has been verified."""
        import io

        # Copies: each yielded view is reused for the next segment.
        segments = self.open_segments(io.BytesIO(ciphertext), associated_data, label=label)
        return b"".join(bytes(segment) for segment in segments)

    def decrypt_stream(
        self, source: BinaryIO, sink: BinaryIO, associated_data: bytes, *, label: str = ""
    ) -> int:
        """Open ``source`` into ``sink``; the plaintext size. If it raises, what was written is
        authentic but incomplete and must be discarded."""
        total = 0
        for segment in self.open_segments(source, associated_data, label=label):
            sink.write(segment)
            total += len(segment)
        return total

    def open_segments(
        self, source: BinaryIO, associated_data: bytes, *, label: str = ""
    ) -> Iterator[memoryview]:
        """Yield each plaintext segment once verified; raise :class:`IntegrityError` at the
        first bad one, or at the end when the stream was cut short.

        Each yielded view is only valid until the next one is requested.
        """
        p = self.params
        what = f" of {label}" if label else ""
        header = source.read(p.header_size)
        if len(header) < p.header_size or header[0] != p.header_size:
            raise IntegrityError(f"the header{what} is missing or malformed")
        salt = header[1 : 1 + p.derived_key_size]
        prefix = header[1 + p.derived_key_size :]
        aead = self._segment_key(salt, associated_data)
        current = memoryview(bytearray(p.segment_size))
        ahead = memoryview(bytearray(p.segment_size))
        out = memoryview(bytearray(p.segment_size))
        index = 0
        filled = _read_full(source, current[: p.segment_size - p.header_size])
        while True:
            more = _read_full(source, ahead)
            last = more == 0
            if filled < TAG_SIZE:
                raise IntegrityError(f"segment {index}{what} is truncated")
            size = filled - TAG_SIZE
            try:
                aead.decrypt_into(_nonce(prefix, index, last), current[:filled], None, out[:size])
            except InvalidTag:
                raise IntegrityError(
                    f"segment {index}{what} failed authentication: the data was altered, cut "
                    "short, reordered or swapped, or the key is wrong"
                ) from None
            yield out[:size].toreadonly()
            if last:
                return
            current, ahead, filled = ahead, current, more
            index += 1

    def open_at(
        self,
        read_at: Callable[[memoryview, int], int],
        length: int,
        associated_data: bytes,
        *,
        label: str = "",
        workers: int = 2,
    ) -> Iterator[memoryview]:
        """Like :meth:`open_segments`, for a ciphertext of known ``length`` that can be read at
        any offset (``read_at(view, offset)`` fills ``view`` and returns the bytes read, like
        ``os.preadv``): ``workers`` threads read and decrypt segments ahead of the consumer.

        Knowing the length tells which segment is last without look-ahead, so segments are
        independent work; AES-GCM and positional reads both release the GIL, so on two cores
        this runs near twice one thread's speed. Segments are still yielded in order, each only
        once verified; truncation is still caught (the segment that ends the shortened
        ciphertext was not sealed as last). Memory: ``2 * (workers + 1)`` segments.
        """
        p = self.params
        what = f" of {label}" if label else ""
        header = memoryview(bytearray(p.header_size))
        if length < p.header_size or _read_at_full(read_at, header, 0) < p.header_size:
            raise IntegrityError(f"the header{what} is missing or malformed")
        if header[0] != p.header_size:
            raise IntegrityError(f"the header{what} is missing or malformed")
        salt = bytes(header[1 : 1 + p.derived_key_size])
        prefix = bytes(header[1 + p.derived_key_size :])
        aead = self._segment_key(salt, associated_data)
        spans = _segment_spans(p, length)
        count = len(spans)
        slots = workers + 1
        inputs = [memoryview(bytearray(p.segment_size)) for _ in range(slots)]
        outputs = [memoryview(bytearray(p.segment_size)) for _ in range(slots)]

        def open_one(index: int) -> memoryview:
            offset, size = spans[index]
            if size < TAG_SIZE:
                raise IntegrityError(f"segment {index}{what} is truncated")
            sealed = inputs[index % slots][:size]
            if _read_at_full(read_at, sealed, offset) < size:
                raise IntegrityError(f"segment {index}{what} is truncated")
            opened = outputs[index % slots][: size - TAG_SIZE]
            try:
                aead.decrypt_into(_nonce(prefix, index, index == count - 1), sealed, None, opened)
            except InvalidTag:
                raise IntegrityError(
                    f"segment {index}{what} failed authentication: the data was altered, cut "
                    "short, reordered or swapped, or the key is wrong"
                ) from None
            return opened.toreadonly()

        if count == 1 or workers < 2:
            for index in range(count):
                yield open_one(index)
            return
        # Slot i % slots is reused only after segment i was yielded and the consumer came back.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending = {i: pool.submit(open_one, i) for i in range(min(workers, count))}
            for index in range(count):
                segment = pending.pop(index).result()
                if index + workers < count:
                    pending[index + workers] = pool.submit(open_one, index + workers)
                yield segment


def _read_at_full(read_at: Callable[[memoryview, int], int], view: memoryview, offset: int) -> int:
    filled = 0
    while filled < len(view):
        got = read_at(view[filled:], offset + filled)
        if not got:
            break
        filled += got
    return filled


def _segment_spans(p: SegmentedAeadParams, length: int) -> list[tuple[int, int]]:
    """(offset, size) of each ciphertext segment of a ciphertext of ``length`` bytes."""
    spans = []
    offset = p.header_size
    size = p.segment_size - p.header_size
    while True:
        spans.append((offset, min(size, length - offset)))
        offset += size
        if offset >= length:
            return spans
        size = p.segment_size


class StreamEncryptor:
    """Incremental sealing: ``update`` with plaintext as it comes, then ``finish``."""

    def __init__(
        self, owner: SegmentedAead, associated_data: bytes, *, random: Callable[[int], bytes]
    ) -> None:
        self._params = owner.params
        salt, self._prefix = random(owner.params.derived_key_size), random(NONCE_PREFIX_SIZE)
        self._aead = owner._segment_key(salt, associated_data)
        self._header: bytes | None = bytes([owner.params.header_size]) + salt + self._prefix
        self._pending = bytearray()
        self._index = 0
        self._finished = False

    def _take_header(self) -> bytes:
        header, self._header = self._header or b"", None
        return header

    def update(self, data: bytes | memoryview) -> bytes:
        """Ciphertext for every segment that is now complete (a segment is held back until
        more data shows it is not the last)."""
        if self._finished:
            raise ValueError("update after finish")
        self._pending += data
        parts = [self._take_header()]
        while len(self._pending) > self._params.plaintext_size(self._index):
            size = self._params.plaintext_size(self._index)
            chunk = bytes(self._pending[:size])
            del self._pending[:size]
            parts.append(self._aead.encrypt(_nonce(self._prefix, self._index, False), chunk, None))
            self._index += 1
        return b"".join(parts)

    def finish(self) -> bytes:
        """The header (if not yet out) and the last segment."""
        if self._finished:
            raise ValueError("finish called twice")
        self._finished = True
        last = self._aead.encrypt(
            _nonce(self._prefix, self._index, True), bytes(self._pending), None
        )
        self._pending.clear()
        return self._take_header() + last
