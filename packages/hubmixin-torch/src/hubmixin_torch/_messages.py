"""How lists of tensor names are shown in errors and log messages."""

from __future__ import annotations

from collections.abc import Sequence

__all__: list[str] = []


def _preview(names: Sequence[str], limit: int = 10) -> str:
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more
