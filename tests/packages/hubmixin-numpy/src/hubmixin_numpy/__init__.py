"""hubmixin-numpy (test-only): a tiny NumPy framework with Flax-like layouts and its ``NumpyModelHubMixin``.

It shows what a framework package needs besides hubmixin-core: its extras, the generated facade, construction,
and one layout adapter per layer type.

Example:
    >>> from hubmixin_numpy import LAYOUTS, Linear
    >>> LAYOUTS.find(Linear(2, 2))
    MappedAdapter(TensorRule(framework='kernel', canonical='weight', axes=(1, 0)),)
"""

from hubmixin_numpy._layers import Conv2d as Conv2d
from hubmixin_numpy._layers import Embed as Embed
from hubmixin_numpy._layers import LayerNorm as LayerNorm
from hubmixin_numpy._layers import Linear as Linear
from hubmixin_numpy._layers import MultiHeadAttention as MultiHeadAttention
from hubmixin_numpy._layout import LAYOUTS as LAYOUTS
from hubmixin_numpy._layout import AttentionAdapter as AttentionAdapter
from hubmixin_numpy._mixin import NumpyModelHubMixin as NumpyModelHubMixin
from hubmixin_numpy._module import Array as Array
from hubmixin_numpy._module import Module as Module

__version__ = "0.1.0"

__all__ = [
    "LAYOUTS",
    "Array",
    "AttentionAdapter",
    "Conv2d",
    "Embed",
    "LayerNorm",
    "Linear",
    "Module",
    "MultiHeadAttention",
    "NumpyModelHubMixin",
    "__version__",
]
