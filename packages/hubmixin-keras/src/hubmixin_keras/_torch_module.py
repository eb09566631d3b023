"""A PyTorch module inside a Keras model (``keras.layers.TorchModuleWrapper``, on the PyTorch backend).

Its tensors are the module's ``state_dict``, under torch's names (``0.weight``, ``1.running_mean``), as Keras'
own saving writes them: a PyTorch port holding the same module under the same attribute loads them, and the
buffers (BatchNorm's running statistics, which Keras does not track as variables) are saved and loaded too.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["ModuleBuffer", "module_tensors"]


class ModuleBuffer:
    """A buffer of a wrapped module, seen as the walk sees a variable (shape, dtype, value; assigned in place)."""

    def __init__(self, name: str, tensor: Any) -> None:
        self.name = self.path = name
        self._value = tensor

    @property
    def value(self) -> Any:
        """The module's tensor itself."""
        return self._value

    @property
    def shape(self) -> tuple[int, ...]:
        """The tensor's shape."""
        return tuple(self._value.shape)

    @property
    def dtype(self) -> str:
        """The tensor's dtype, as Keras names dtypes (``"float32"``)."""
        return str(keras.backend.standardize_dtype(self._value.dtype))

    def _convert_to_tensor(self, value: Any, dtype: Any = None) -> Any:
        return keras.ops.convert_to_tensor(value, dtype=dtype)

    def assign(self, value: Any) -> None:
        """Copy ``value`` into the module's tensor."""
        import torch  # only a torch backend wraps torch modules

        with torch.no_grad():
            self._value.copy_(value)


def module_tensors(layer: keras.Layer) -> dict[str, Any] | None:
    """The tensors of a ``TorchModuleWrapper`` by ``state_dict`` name: each parameter as the Keras variable that
    wraps it, each buffer as a :class:`ModuleBuffer`; ``None`` for any other layer."""
    if not isinstance(layer, keras.layers.TorchModuleWrapper):
        return None
    tracked = [*layer._trainable_variables, *layer._non_trainable_variables]
    variables = {id(variable._value): variable for variable in tracked}  # Keras wraps the parameter itself
    state = layer.module.state_dict(keep_vars=True)
    return {name: variables.get(id(tensor), ModuleBuffer(name, tensor)) for name, tensor in state.items()}
