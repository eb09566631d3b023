"""Reading a JAX-backend variable's value to the host for a save, without leaving a host copy cached on the
variable's array (imported on the JAX backend only)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from numpy.typing import NDArray

__all__ = ["copied_by_read", "to_numpy"]


def copied_by_read(value: Any) -> bool:
    """Whether ``value`` is a ``jax.Array`` that ``np.asarray`` copies to the host (sharded over several devices,
    or on an accelerator), rather than reading one CPU buffer in place."""
    if not isinstance(value, jax.Array) or isinstance(value, jax.core.Tracer):
        return False
    platforms = {str(device.platform) for device in value.sharding.device_set}  # type: ignore[attr-defined]
    return not (value.is_fully_replicated and platforms == {"cpu"})


def to_numpy(value: Any) -> NDArray[Any]:
    """``np.asarray(value)``; a ``jax.Array`` it would copy (:func:`copied_by_read`) is gathered through a new
    array over the same device buffers.

    JAX caches the host copy it makes on the array it reads, for the array's lifetime: read from the variable's
    own, a save would leave the whole model on the host. Read from a transient array, the copy is the caller's
    alone, and no device memory is taken.
    """
    if not copied_by_read(value):
        return np.asarray(value)
    transient = jax.make_array_from_single_device_arrays(
        value.shape, value.sharding, [shard.data for shard in value.addressable_shards]
    )
    return np.asarray(transient)
