"""Xet formats: hashes, xorb and shard (de)serialization, as the Xet protocol specification describes them.

Needs ``blake3`` and ``lz4`` (the ``hubmixin-core[hub]`` extra); `XetUnavailable` tells when they are missing.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import blake3
import lz4.frame  # type: ignore[import-untyped]
import numpy as np

__all__ = [
    "CHUNK_HEADER_SIZE",
    "MAX_XORB_BYTES",
    "FileInfo",
    "FormatError",
    "ShardXorb",
    "Term",
    "XorbIndex",
    "chunk_hash",
    "dedup_shard",
    "decompress_chunk",
    "file_hash",
    "hash_hex",
    "hex_hash",
    "parse_shard",
    "parse_xorb",
    "hmac",
    "verification_hash",
    "xorb_hash",
]

DATA_KEY = bytes.fromhex("6697f5775b9550de3135cbaca597181c9de421109beb2b58b4d0b04b93adf229")
INTERNAL_NODE_KEY = bytes.fromhex("017ec5c7a5472996fd946666b48a02e65ddd536f37c76dd2f86352e64a53713f")
VERIFICATION_KEY = bytes.fromhex("7f1857d6ce56ed66127ff913e7a5c3f3a4cd26d5b5db49e64124987f28fb94c3")
_HEX_HASH = re.compile(r"[0-9a-fA-F]{64}")
SHARD_TAG = b"HFRepoMetaData\x00" + bytes(
    [85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169]
)
SHARD_HEADER_VERSION = 2
SHARD_FOOTER_VERSION = 1
SHARD_FOOTER_SIZE = 200
FLAG_VERIFICATION = 1 << 31
FLAG_METADATA_EXT = 1 << 30
BOOKEND = b"\xff" * 32 + b"\x00" * 16
CHUNK_HEADER_SIZE = 8
MAX_XORB_BYTES = 64 * 1024 * 1024 + 4 * 1024 * 1024  # the spec's 64 MiB plus room for headers and the footer
MAX_CHUNK_BYTES = 128 * 1024
XORB_FOOTER_IDENT = b"XETBLOB"
_ENTRY = struct.Struct("<32sIIII")  # hash + four u32: file terms and xorb headers
_CHUNK_ENTRY = struct.Struct("<32sIIII")  # chunk hash, unpacked offset, unpacked size, flags, unused


class FormatError(ValueError):
    """A malformed or lying Xet object (xorb or shard)."""


def hash_hex(raw: bytes) -> str:
    """The string form of a 32-byte hash: four little-endian u64, each as 16 hex digits."""
    return "".join(f"{word:016x}" for word in struct.unpack("<4Q", raw))


def hex_hash(text: str) -> bytes:
    """The 32 raw bytes of a hash from its string form; `FormatError` if malformed."""
    # Not int(text, 16) alone: it also takes a sign, spaces and "_", which would alias (or overflow) a hash.
    if not _HEX_HASH.fullmatch(text):
        raise FormatError(f"A hash is 64 hex digits, not {text!r}")
    return struct.pack("<4Q", *(int(text[i : i + 16], 16) for i in range(0, 64, 16)))


def chunk_hash(data: bytes) -> bytes:
    """Hash of one chunk's content (blake3 keyed with DATA_KEY)."""
    return blake3.blake3(data, key=DATA_KEY).digest()


def _merge(nodes: Sequence[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{hash_hex(h)} : {size}\n" for h, size in nodes)
    return blake3.blake3(text.encode(), key=INTERNAL_NODE_KEY).digest(), sum(size for _, size in nodes)


def _next_cut(nodes: Sequence[tuple[bytes, int]], start: int) -> int:
    left = len(nodes) - start
    if left <= 2:
        return len(nodes)
    end = min(9, left)  # at most 2 * branching factor (4) + 1 children
    for i in range(2, end):
        if int.from_bytes(nodes[start + i][0][24:32], "little") % 4 == 0:
            return start + i + 1
    return start + end


def _aggregated(nodes: Sequence[tuple[bytes, int]]) -> bytes:
    if not nodes:
        return bytes(32)
    level = list(nodes)
    while len(level) > 1:
        merged, start = [], 0
        while start < len(level):
            cut = _next_cut(level, start)
            merged.append(_merge(level[start:cut]))
            start = cut
        level = merged
    return level[0][0]


def xorb_hash(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    """Merkle hash of a xorb from its ``(chunk hash, chunk size)`` list."""
    return _aggregated(chunks)


def file_hash(chunks: Sequence[tuple[bytes, int]]) -> bytes:
    """Xet file id from the file's ``(chunk hash, chunk size)`` list."""
    if not chunks:
        return bytes(32)
    return blake3.blake3(_aggregated(chunks), key=bytes(32)).digest()


def hmac(chunk_hash: bytes, key: bytes) -> bytes:
    """A chunk hash as global deduplication hands it out: blake3 keyed with the answer's key (xet-core's ``hmac``)."""
    return blake3.blake3(chunk_hash, key=key).digest()


def verification_hash(hashes: Sequence[bytes]) -> bytes:
    """Verification hash of a term: keyed blake3 over its chunk hashes."""
    return blake3.blake3(b"".join(hashes), key=VERIFICATION_KEY).digest()


def decompress_chunk(scheme: int, data: bytes, size: int) -> bytes:
    """Uncompressed content of one chunk (schemes: 0 none, 1 LZ4 frame, 2 byte-grouping-4 + LZ4)."""
    if scheme == 0:
        out = data
    elif scheme in (1, 2):
        # At most size + 1 bytes out, whatever the frame declares: no allocation driven by a lying header.
        decompressor = lz4.frame.LZ4FrameDecompressor()
        try:
            out = decompressor.decompress(data, max_length=size + 1)
        except RuntimeError as exc:
            raise FormatError(f"Invalid LZ4 data in chunk: {exc}") from exc
        if len(out) == size and not decompressor.eof:
            raise FormatError("Truncated LZ4 frame in chunk")
        if scheme == 2 and len(out) == size:
            grouped = np.frombuffer(out, dtype=np.uint8)
            split, rem = divmod(size, 4)
            ungrouped = np.empty(size, dtype=np.uint8)
            start = 0
            for group in range(4):
                length = split + (1 if group < rem else 0)
                ungrouped[group::4] = grouped[start : start + length]
                start += length
            out = ungrouped.tobytes()
    else:
        raise FormatError(f"Unknown chunk compression scheme {scheme}")
    if len(out) != size:
        raise FormatError(f"Chunk decompresses to {len(out)} bytes, its header says {size}")
    return bytes(out)


def _chunk_header(data: bytes | memoryview, pos: int) -> tuple[int, int, int]:
    version, c0, c1, c2, scheme, u0, u1, u2 = struct.unpack_from("<8B", data, pos)
    if version != 0:
        raise FormatError(f"Unknown chunk header version {version} at byte {pos}")
    return c0 | c1 << 8 | c2 << 16, scheme, u0 | u1 << 8 | u2 << 16


def iter_chunks(data: bytes | memoryview) -> Iterator[tuple[int, bytes]]:
    """``(uncompressed size, content)`` of each chunk in a serialized chunk range (headers + data)."""
    pos = 0
    while pos < len(data):
        if len(data) - pos < CHUNK_HEADER_SIZE:
            raise FormatError("Truncated chunk header")
        compressed, scheme, size = _chunk_header(data, pos)
        body = bytes(data[pos + CHUNK_HEADER_SIZE : pos + CHUNK_HEADER_SIZE + compressed])
        if len(body) != compressed:
            raise FormatError("Truncated chunk data")
        yield size, decompress_chunk(scheme, body, size)
        pos += CHUNK_HEADER_SIZE + compressed


@dataclass
class XorbIndex:
    """Where each chunk of a stored xorb lies: hashes, serialized byte offsets, uncompressed offsets."""

    hashes: list[bytes]
    byte_offsets: list[int]  # n + 1 entries: chunk i spans byte_offsets[i]:byte_offsets[i + 1]
    unpacked_offsets: list[int]  # n + 1 entries

    @property
    def num_chunks(self) -> int:
        """Number of chunks."""
        return len(self.hashes)

    def to_bytes(self) -> bytes:
        """Compact serialization (stored next to the xorb)."""
        n = self.num_chunks
        return struct.pack(f"<I{2 * (n + 1)}I", n, *self.byte_offsets, *self.unpacked_offsets) + b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> XorbIndex:
        """Inverse of `to_bytes`."""
        (n,) = struct.unpack_from("<I", data)
        offsets = struct.unpack_from(f"<{2 * (n + 1)}I", data, 4)
        base = 4 + 8 * (n + 1)
        hashes = [data[base + 32 * i : base + 32 * (i + 1)] for i in range(n)]
        return cls(hashes, list(offsets[: n + 1]), list(offsets[n + 1 :]))

    def cas_block(self, xorb: bytes, size_on_disk: int, *, hmac_key: bytes) -> bytes:
        """This xorb as a shard CAS info block (header plus one entry per chunk), each chunk hash keyed with
        ``hmac_key`` (`hmac`): a client finds the chunks it holds, and learns no other chunk's hash."""
        n = self.num_chunks
        parts = [_ENTRY.pack(xorb, 0, n, self.unpacked_offsets[-1], size_on_disk)]
        for i, h in enumerate(self.hashes):
            size = self.unpacked_offsets[i + 1] - self.unpacked_offsets[i]
            parts.append(_CHUNK_ENTRY.pack(hmac(h, hmac_key), self.unpacked_offsets[i], size, 0, 0))
        return b"".join(parts)


def parse_xorb(read: Callable[[int], bytes], write: Callable[[bytes], None], expected: bytes) -> XorbIndex:
    """Check a serialized xorb (chunks, optional footer) against its hash while copying it; its index.

    ``read(n)`` returns up to ``n`` bytes of the upload (``b""`` at its end), ``write`` receives them all.
    Raises `FormatError` for a malformed xorb or one whose content does not match ``expected``.
    """
    hashes: list[bytes] = []
    byte_offsets = [0]
    unpacked = [0]
    total = 0

    def take(size: int) -> bytes:
        data = read(size)
        write(data)
        return data

    while header := take(CHUNK_HEADER_SIZE):
        if header[0] != 0:  # chunks start with version 0; the footer with its "XETBLOB" ident
            if not (header + take(len(XORB_FOOTER_IDENT) - len(header))).startswith(XORB_FOOTER_IDENT):
                raise FormatError(f"Unexpected bytes after chunk {len(hashes) - 1}")
            while footer := take(1024 * 1024):
                total += len(footer)
                if total > MAX_XORB_BYTES:
                    raise FormatError(f"Xorb larger than {MAX_XORB_BYTES} bytes")
            break
        if len(header) < CHUNK_HEADER_SIZE:
            raise FormatError("Truncated chunk header")
        compressed, scheme, size = _chunk_header(header, 0)
        if size > MAX_CHUNK_BYTES or compressed > MAX_CHUNK_BYTES + 1024:
            raise FormatError(f"Chunk {len(hashes)} is too large ({size} bytes)")
        body = take(compressed)
        if len(body) != compressed:
            raise FormatError(f"Chunk {len(hashes)} is truncated")
        hashes.append(chunk_hash(decompress_chunk(scheme, body, size)))
        total = byte_offsets[-1] + CHUNK_HEADER_SIZE + compressed
        if total > MAX_XORB_BYTES:
            raise FormatError(f"Xorb larger than {MAX_XORB_BYTES} bytes")
        byte_offsets.append(total)
        unpacked.append(unpacked[-1] + size)
    if not hashes:
        raise FormatError("A xorb needs at least one chunk")
    sizes = [unpacked[i + 1] - unpacked[i] for i in range(len(hashes))]
    actual = xorb_hash(list(zip(hashes, sizes, strict=True)))
    if actual != expected:
        raise FormatError(f"Xorb content hashes to {hash_hex(actual)}, not {hash_hex(expected)}")
    return XorbIndex(hashes, byte_offsets, unpacked)


@dataclass(frozen=True)
class Term:
    """One term of a file reconstruction: chunks ``[start, end)`` of a xorb."""

    xorb: bytes
    unpacked_size: int
    start: int
    end: int


@dataclass
class FileInfo:
    """A file as a shard describes it."""

    file_hash: bytes
    terms: list[Term]
    verification: list[bytes] = field(default_factory=list)
    sha256: bytes | None = None

    def terms_bytes(self) -> bytes:
        """The terms, serialized (for storage)."""
        return b"".join(_ENTRY.pack(t.xorb, 0, t.unpacked_size, t.start, t.end) for t in self.terms)

    @staticmethod
    def terms_from_bytes(data: bytes) -> list[Term]:
        """Inverse of `terms_bytes`."""
        terms = []
        for offset in range(0, len(data), _ENTRY.size):
            xorb, _, size, start, end = _ENTRY.unpack_from(data, offset)
            terms.append(Term(xorb, size, start, end))
        return terms


@dataclass
class ShardXorb:
    """A xorb listed in a shard's CAS info section."""

    xorb: bytes
    num_chunks: int


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise FormatError("Truncated shard")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out


def parse_shard(data: bytes) -> tuple[list[FileInfo], list[ShardXorb]]:
    """Files and xorbs of an uploaded shard (header, file info, CAS info, optional footer)."""
    reader = _Reader(data)
    header = reader.take(48)
    if header[:32] != SHARD_TAG:
        raise FormatError("Not a shard (wrong magic tag)")
    version, _footer_size = struct.unpack("<QQ", header[32:])
    if version != SHARD_HEADER_VERSION:
        raise FormatError(f"Unsupported shard version {version}")
    files: list[FileInfo] = []
    while (block := reader.take(48)) != BOOKEND:
        file_id, flags, num_entries = struct.unpack_from("<32sII", block)
        if num_entries > len(data) // 48:
            raise FormatError("Shard file entry count exceeds the shard size")
        info = FileInfo(file_id, [])
        for _ in range(num_entries):
            xorb, _, size, start, end = _ENTRY.unpack(reader.take(48))
            info.terms.append(Term(xorb, size, start, end))
        if flags & FLAG_VERIFICATION:
            info.verification = [reader.take(48)[:32] for _ in range(num_entries)]
        if flags & FLAG_METADATA_EXT:
            info.sha256 = reader.take(48)[:32]
        files.append(info)
    xorbs: list[ShardXorb] = []
    while (block := reader.take(48)) != BOOKEND:
        xorb, _, num_entries, _, _ = _ENTRY.unpack(block)
        if num_entries > len(data) // 48:
            raise FormatError("Shard chunk entry count exceeds the shard size")
        reader.take(48 * num_entries)
        xorbs.append(ShardXorb(xorb, num_entries))
    return files, xorbs


def dedup_shard(
    cas_blocks: Sequence[bytes], *, hmac_key: bytes, created: int, expiry: int, stored: int, on_disk: int
) -> bytes:
    """A global-dedup answer: a shard with no files and the given CAS info blocks (chunk hashes keyed with
    ``hmac_key``, which the footer carries), with its footer."""
    parts = [SHARD_TAG, struct.pack("<QQ", SHARD_HEADER_VERSION, SHARD_FOOTER_SIZE), BOOKEND, *cas_blocks, BOOKEND]
    body = b"".join(parts)
    footer_start = len(body)
    footer = struct.pack(
        "<9Q32sQQ6QQQQQ",
        SHARD_FOOTER_VERSION,
        48,  # file info section
        48 + 48,  # CAS info section, after the file info bookend
        footer_start,
        0,
        footer_start,
        0,
        footer_start,
        0,
        hmac_key,
        created,
        expiry,
        *([0] * 6),
        on_disk,
        0,
        stored,
        footer_start,
    )
    assert len(footer) == SHARD_FOOTER_SIZE
    return body + footer
