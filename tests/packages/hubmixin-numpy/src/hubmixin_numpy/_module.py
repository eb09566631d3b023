"""The base of the NumPy framework's layers and models: a tree of attributes holding numpy arrays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Array", "Module"]

Array = NDArray[Any]


class Module:
    """A layer or a model: its arrays are attributes, its sub-layers are attributes or lists of them.

    Example:
        >>> class Pair(Module):
        ...     def __init__(self) -> None:
        ...         self.items = [Module(), Module()]
        ...         self.w = np.zeros(2)
        >>> [path for path, _ in Pair().named_layers()], list(Pair().arrays())
        (['', 'items.0', 'items.1'], ['w'])
    """

    def named_layers(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This layer and every sub-layer with its dotted path (``blocks.0.proj``; ``""`` for this one)."""
        yield prefix, self
        for name, value in vars(self).items():
            items = enumerate(value) if isinstance(value, list | tuple) else [(None, value)]
            for index, item in items:
                if isinstance(item, Module):
                    path = ".".join(str(part) for part in (prefix, name, index) if part not in ("", None))
                    yield from item.named_layers(path)

    def arrays(self) -> dict[str, Array]:
        """The arrays this layer holds itself (not its sub-layers'), by attribute name."""
        return {name: value for name, value in vars(self).items() if isinstance(value, np.ndarray)}
