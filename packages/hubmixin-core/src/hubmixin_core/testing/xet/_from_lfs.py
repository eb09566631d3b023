"""Xet representation of objects uploaded through plain LFS, as the Hub migrates LFS files to Xet.

An object gets the chunks, xorbs and file hash a Xet client would produce for the same bytes (`_chunking`), so its
``xetHash`` is the one ``hf_xet`` computes, Xet clients download it from the Xet storage, and a cross-repository
``CommitOperationCopy`` (which needs the source's ``xetHash``) works. The chunks are stored uncompressed, next to
the LFS blob (which plain downloads keep using): the object takes its size twice on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hubmixin_core.testing.xet import _format as fmt
from hubmixin_core.testing.xet._chunking import MAX_CHUNK, iter_cdc_chunks
from hubmixin_core.testing.xet._store import XetFile, XetStore

__all__ = ["xet_file_from_blob"]

_MAX_XORB_DATA = 64 * 1024 * 1024  # xet-core's MAX_XORB_BYTES (a chunk never goes past it)
_MAX_XORB_CHUNKS = 8 * 1024  # xet-core's MAX_XORB_CHUNKS


def _chunk_header(size: int) -> bytes:
    """Header of an uncompressed chunk: version 0, stored size (3 bytes), scheme 0 (none), size (3 bytes)."""
    length = size.to_bytes(3, "little")
    return b"\x00" + length + b"\x00" + length


def _store_xorb(store: XetStore, chunks: Iterator[bytes]) -> tuple[fmt.Term, list[tuple[bytes, int]]] | None:
    """Store the next chunks (up to 64 MiB, 8192 chunks) as one xorb; its term and ``(chunk hash, size)`` list, or
    ``None`` when no chunk is left. Chunks are streamed to disk, never held together in memory."""
    hashes: list[bytes] = []
    byte_offsets, unpacked = [0], [0]
    with store.xorb_writer() as upload:
        for chunk in chunks:
            hashes.append(fmt.chunk_hash(chunk))
            upload.write(_chunk_header(len(chunk)) + chunk)
            byte_offsets.append(byte_offsets[-1] + fmt.CHUNK_HEADER_SIZE + len(chunk))
            unpacked.append(unpacked[-1] + len(chunk))
            if unpacked[-1] + MAX_CHUNK > _MAX_XORB_DATA or len(hashes) == _MAX_XORB_CHUNKS:
                break
        if not hashes:
            return None
        upload.flush()
        sized = [(h, unpacked[i + 1] - unpacked[i]) for i, h in enumerate(hashes)]
        xorb = fmt.xorb_hash(sized)
        index = fmt.XorbIndex(hashes, byte_offsets, unpacked)
        store.put_xorb(fmt.hash_hex(xorb), upload, index.to_bytes(), [fmt.hash_hex(h) for h in hashes])
    return fmt.Term(xorb, unpacked[-1], 0, len(hashes)), sized


def xet_file_from_blob(store: XetStore, path: Path, sha256: str, size: int) -> XetFile | None:
    """The Xet file of the blob at ``path`` (sha256 ``sha256``), stored as xorbs unless a file with this sha256 is
    already in the Xet storage; ``None`` for an empty blob (Xet stores no empty file)."""
    if size == 0:
        return None
    known = store.file_with_sha256(sha256)
    if known is not None:
        return known
    terms: list[fmt.Term] = []
    chunks: list[tuple[bytes, int]] = []
    with path.open("rb") as file:
        pieces = iter_cdc_chunks(file)
        while (stored := _store_xorb(store, pieces)) is not None:
            terms.append(stored[0])
            chunks.extend(stored[1])
    info = fmt.FileInfo(fmt.file_hash(chunks), terms)
    return XetFile(fmt.hash_hex(info.file_hash), sha256, size, info.terms_bytes())
