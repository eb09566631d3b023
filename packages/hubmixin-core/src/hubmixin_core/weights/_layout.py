"""The hook where per-framework layout adapters plug in.

Checkpoints store tensors under PyTorch names and layouts (the canonical layout). A framework whose layers
name or lay out a tensor differently registers a :class:`LayoutAdapter` for that layer type; the weights layer
calls it when writing (``to_canonical``) and reading (``from_canonical``). Identity is the default.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

__all__ = ["IDENTITY", "LayoutAdapter", "find_layout_adapter", "register_layout_adapter"]


class LayoutAdapter(Protocol):
    """Converts one layer's tensors between its framework's layout and the canonical (PyTorch) layout."""

    def to_canonical(self, name: str, value: Any) -> Iterator[tuple[str, Any]]:
        """Yield the canonical ``(name, tensor)`` pairs for one framework tensor of the layer."""
        ...

    def from_canonical(self, name: str, value: Any) -> Iterator[tuple[str, Any]]:
        """Yield the framework's ``(name, tensor)`` pairs for one canonical tensor of the layer."""
        ...


class _Identity:
    def to_canonical(self, name: str, value: Any) -> Iterator[tuple[str, Any]]:
        yield name, value

    def from_canonical(self, name: str, value: Any) -> Iterator[tuple[str, Any]]:
        yield name, value


IDENTITY: LayoutAdapter = _Identity()
"""The adapter of layers stored as they are."""

_ADAPTERS: dict[type, LayoutAdapter] = {}


def register_layout_adapter(layer_type: type, adapter: LayoutAdapter) -> None:
    """Use ``adapter`` for layers of ``layer_type`` and its subclasses (the closest registered type wins)."""
    _ADAPTERS[layer_type] = adapter


def find_layout_adapter(layer: object) -> LayoutAdapter:
    """The adapter registered for the nearest class in ``type(layer).__mro__``, else :data:`IDENTITY`."""
    for cls in type(layer).__mro__:
        if cls in _ADAPTERS:
            return _ADAPTERS[cls]
    return IDENTITY
