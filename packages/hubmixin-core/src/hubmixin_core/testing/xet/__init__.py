"""Xet storage for LocalHub: the CAS service the ``hf_xet`` client uploads to and downloads from.

Follows the Xet protocol specification (huggingface/hub-docs ``docs/xet``): chunk, xorb and file hashes,
the xorb and shard formats, and the CAS API (xorb and shard uploads, global deduplication, reconstructions).
Checking uploads needs ``blake3`` and ``lz4`` (``pip install hubmixin-core[hub]``); without them the token
routes answer 501 and `xet_available` is false.
"""

from __future__ import annotations

import importlib.util

__all__ = ["xet_available"]


def xet_available() -> bool:
    """Whether the packages Xet storage needs (``blake3``, ``lz4``) are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("blake3", "lz4"))
