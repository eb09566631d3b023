"""Reading a variable's value to the host for a save, without leaving a host copy cached on the model's array."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from numpy.typing import NDArray

from hubmixin_core.errors import WeightsError

__all__ = ["host_copy", "read_in_place", "refuse_random_keys", "to_numpy"]


def refuse_random_keys(value: Any, path: str) -> None:
    """Refuse a variable (at ``path``) holding random keys: safetensors has no key dtype."""
    if isinstance(value, jax.Array) and jax.numpy.issubdtype(value.dtype, jax.dtypes.prng_key):
        raise WeightsError(
            f"variable {path!r} holds random keys (dtype {value.dtype}), which safetensors cannot store: keep them "
            "in nnx.Rngs (not saved), or store jax.random.key_data(keys) and wrap them back with "
            "jax.random.wrap_key_data"
        )


def read_in_place(value: jax.Array) -> bool:
    """Whether ``np.asarray(value)`` reads ``value``'s buffer in place: a CPU array each of whose devices holds it
    whole (one CPU device, or replicated); any other (sharded, or on an accelerator) is copied to the host."""
    platforms = {str(device.platform) for device in value.sharding.device_set}  # type: ignore[attr-defined]
    return value.is_fully_replicated and platforms == {"cpu"}


def host_copy(value: jax.Array) -> NDArray[Any]:
    """``value`` gathered into a numpy array, through a new ``jax.Array`` over the same device buffers.

    JAX caches the host copy it makes on the array it reads (``np.asarray`` of a sharded or accelerator array),
    for the array's lifetime: read from the model's own, a save would leave the whole model on the host. Read
    from a transient array, the copy is the caller's alone, and no device memory is taken.
    """
    transient = jax.make_array_from_single_device_arrays(
        value.shape, value.sharding, [shard.data for shard in value.addressable_shards]
    )
    return np.asarray(transient)


def to_numpy(value: Any) -> NDArray[Any]:
    """``np.asarray(value)``; a ``jax.Array`` it would copy is read by :func:`host_copy`."""
    if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer) and not read_in_place(value):
        return host_copy(value)
    return np.asarray(value)
