"""Reading Xet files back: chunk data of stored xorbs, and what ``/resolve/`` needs for Xet-stored files."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import quote

from hubmixin_core.testing._http import Exchange, HubError
from hubmixin_core.testing._storage import Repo
from hubmixin_core.testing.xet._store import XetFile

if TYPE_CHECKING:
    from hubmixin_core.testing.xet import _format

__all__ = [
    "XET_EXTRA_MESSAGE",
    "formats",
    "iter_term_data",
    "load_index",
    "term_spans",
    "xet_content",
    "xet_file_headers",
]

XET_EXTRA_MESSAGE = (
    "LocalHub's Xet storage needs the 'blake3' and 'lz4' packages: install hubmixin-core[hub] "
    "(or switch Xet off in the client: HF_HUB_DISABLE_XET=1, or configure_client(xet=False))"
)
_READ_BATCH = 2 * 1024 * 1024

logger = logging.getLogger("hubmixin_core.testing")


def formats() -> ModuleType:
    """The `_format` module, or 501 when the ``hub`` extra is missing (also logged, once: the Xet client
    reports a 501 without the message)."""
    try:
        from hubmixin_core.testing.xet import _format
    except ImportError as exc:
        _log_missing_extra()
        raise HubError(501, XET_EXTRA_MESSAGE) from exc
    return _format


@functools.cache
def _log_missing_extra() -> None:
    logger.warning("A client asked for Xet, which it cannot use here. %s", XET_EXTRA_MESSAGE)


def load_index(ex: Exchange, fmt: ModuleType, xorb: str) -> _format.XorbIndex:
    """The chunk index of a stored xorb; 400 if the xorb was never uploaded."""
    data = ex.app.xet.xorb_index(xorb)
    if data is None:
        raise HubError(400, f"Xorb {xorb} was never uploaded")
    index: _format.XorbIndex = fmt.XorbIndex.from_bytes(data)
    return index


def iter_term_data(ex: Exchange, fmt: ModuleType, xorb: str, start: int, end: int) -> Iterator[bytes]:
    """Uncompressed content of chunks ``[start, end)`` of a xorb, one chunk at a time (read in batches)."""
    index = load_index(ex, fmt, xorb)
    with ex.app.xet.xorb_path(xorb).open("rb") as file:
        first = start
        while first < end:
            last = first + 1
            while last < end and index.byte_offsets[last + 1] - index.byte_offsets[first] <= _READ_BATCH:
                last += 1
            file.seek(index.byte_offsets[first])
            raw = file.read(index.byte_offsets[last] - index.byte_offsets[first])
            for _, data in fmt.iter_chunks(raw):
                yield data
            first = last


def xet_file_headers(ex: Exchange, repo: Repo, commit: str, sha256: str) -> tuple[XetFile | None, dict[str, str]]:
    """The Xet file of ``repo`` with this sha256, and the resolve headers that let Xet clients fetch it."""
    file = ex.app.xet.repo_file(repo.id, sha256)
    if file is None:
        return None, {}
    api_type = f"{repo.key.type}s"
    route = f"{ex.endpoint}/api/{api_type}/{repo.key.repo_id}/xet-read-token/{quote(commit, safe='')}"
    return file, {"X-Xet-Hash": file.file_hash, "X-Xet-Refresh-Route": route}


def xet_content(ex: Exchange, file: XetFile, start: int, length: int) -> Iterator[bytes]:
    """Bytes ``[start, start + length)`` of a Xet file, reconstructed from its xorbs, in pieces.

    Raises 501 right away (not while iterating) when the ``hub`` extra is missing.
    """
    return _content(ex, formats(), file, start, start + length)


def term_spans(
    ex: Exchange, fmt: ModuleType, file: XetFile, start: int, end: int
) -> Iterator[tuple[str, _format.XorbIndex, int, int, int]]:
    """The chunks of ``file`` that hold its bytes ``[start, end)``, term by term.

    Yields ``(xorb, index, first, last, offset)``: chunks ``first`` to ``last`` (exclusive) of ``xorb``, the
    first of which starts at byte ``offset`` of the file.
    """
    position = 0  # file offset of the current term
    for term in fmt.FileInfo.terms_from_bytes(file.terms):
        if position >= end:
            break
        term_end = position + term.unpacked_size
        if term_end > start:
            xorb = fmt.hash_hex(term.xorb)
            index = load_index(ex, fmt, xorb)
            base = index.unpacked_offsets[term.start] - position  # chunk offset - base = file offset
            first, last = term.start, term.end
            while index.unpacked_offsets[first + 1] - base <= start:
                first += 1
            while index.unpacked_offsets[last - 1] - base >= end:
                last -= 1
            yield xorb, index, first, last, index.unpacked_offsets[first] - base
        position = term_end


def _content(ex: Exchange, fmt: ModuleType, file: XetFile, start: int, end: int) -> Iterator[bytes]:
    for xorb, _, first, last, chunk_position in term_spans(ex, fmt, file, start, end):
        for data in iter_term_data(ex, fmt, xorb, first, last):
            chunk_end = chunk_position + len(data)
            yield data[max(start - chunk_position, 0) : min(end, chunk_end) - chunk_position]
            chunk_position = chunk_end
