"""A Flax variable's value on its way out of the model and into it.

Out: the array saved for a variable (on the host in the dtype JAX holds it, or a device array read when the writer
reaches its layer). In: a stored tensor placed on its devices (whole, or each device's slice read alone), cast to
the load's target dtype and written into the variable, with errors naming the variable, its shape and sharding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from flax.nnx.variablelib import is_array_ref
from jax.sharding import Sharding, SingleDeviceSharding

from hubmixin_core.errors import (
    HubMixinError,
    HubMixinTypeError,
    HubMixinValueError,
    WeightsDtypeError,
    WeightsError,
)
from hubmixin_core.weights import (
    NUMPY_DTYPES,
    Checkpoint,
    LayerTensors,
    LazyTensor,
    TensorInfo,
    converted_by_dtype,
    dtype_name,
    numpy_dtype,
)
from hubmixin_flax._host import read_in_place, refuse_random_keys, to_numpy
from hubmixin_flax._layout import LAYOUTS
from hubmixin_flax._walk import LayerVariables

__all__ = [
    "conform",
    "fill_variable",
    "in_target",
    "keep_own",
    "naming_variable",
    "other_width",
    "place_tensor",
    "read_as",
    "saved_value",
    "stored_dtype_name",
    "tensor_infos",
    "with_file_widths",
]

_INT_WIDTHS = frozenset({"I32", "I64"})
"""Integer widths read into each other: torch's int64 buffers (``position_ids``) into JAX's int32 (x64 off), and
back, each value checked to fit (:func:`read_as`)."""


def _check_array(value: Any, path: str) -> None:
    """Refuse a variable (at ``path``) whose value is neither an array nor a Python number: a list, tuple or dict
    (of numbers or arrays), ``None``, a string. A checkpoint holds one tensor per variable, which loads back as an
    array: such a value would be stacked into one at save (or not fit one) and could not be given back.

    Raises:
        HubMixinTypeError: names the variable and the value's type, and the array to hold instead.
    """
    if isinstance(value, bool | int | float | complex) or (hasattr(value, "shape") and hasattr(value, "dtype")):
        return
    held = "None" if value is None else f"a {type(value).__name__}"
    raise HubMixinTypeError(
        f"variable {path!r} holds {held}, not an array: a checkpoint stores each variable as one "
        "tensor, which loads back as an array; hold an array (nnx.Param(jnp.asarray([1.0, 2.0])) for numbers or "
        "arrays of one shape), or one variable per array (an nnx.List of nnx.Param)"
    )


def stored_dtype_name(value: Any, path: str) -> str:
    """The safetensors dtype variable ``path`` is stored in, that of its ``value`` (an array, concrete or abstract).

    Raises:
        HubMixinTypeError: ``value`` is no array (:func:`_check_array`).
        WeightsError: its dtype has no safetensors equivalent.
    """
    _check_array(value, path)
    try:
        return dtype_name(np.dtype(value.dtype))
    except KeyError:
        raise WeightsError(
            f"variable {path!r} has dtype {value.dtype}, which hubmixin does not store "
            f"({', '.join(np.dtype(d).name for d in NUMPY_DTYPES.values())} are stored)"
        ) from None


def _host_array(value: Any, path: str) -> np.ndarray[Any, Any]:
    """A variable's value (at ``path``) as numpy, in the dtype JAX gives it: a Python scalar (``nnx.Param(1.0)``)
    or a float64 numpy array is float32 (int32 for integers) unless x64 is enabled, as the model rebuilt at load
    holds it."""
    if isinstance(value, jax.ShapeDtypeStruct | jax.core.Tracer):
        raise HubMixinValueError(
            f"variable {path!r} holds no value ({type(value).__name__}): an abstract model (built by "
            "nnx.eval_shape, or inside a transform) cannot be saved; save the model built for real"
        )
    array = to_numpy(value)
    dtype = jax.dtypes.canonicalize_dtype(array.dtype)
    if array.dtype == dtype:
        return array
    if array.dtype.kind in "iu" and array.size:
        lowest, highest = array.min(), array.max()
        if lowest < np.iinfo(dtype).min or highest > np.iinfo(dtype).max:  # (astype would wrap them silently)
            raise HubMixinValueError(
                f"variable {path!r} holds {array.dtype} values ({lowest} to {highest}) that {dtype} cannot: JAX "
                f"without 64-bit types holds it as {dtype}; enable them (jax.config.update('jax_enable_x64', True)) "
                "or keep the values in range"
            )
    return array.astype(dtype)


def saved_value(value: Any, path: str) -> Any:
    """A variable's value (at ``path``) to save: a ``jax.Array`` whose read copies it to the host (sharded, or on
    an accelerator) in a dtype JAX keeps without x64 as it is, read (:func:`to_numpy`) only when the writer reaches
    its layer; any other value as :func:`_host_array` gives it (a CPU array read in place; a 64-bit one, made while
    x64 was on, converted and checked); a value that is no array is refused (:func:`_check_array`)."""
    _check_array(value, path)
    refuse_random_keys(value, path)
    if (
        isinstance(value, jax.Array)
        and not isinstance(value, jax.core.Tracer)
        and not read_in_place(value)
        and value.dtype == jax.dtypes.canonicalize_dtype(value.dtype)
    ):
        return value
    return _host_array(value, path)


def _info(value: Any, target: str | None, path: str) -> TensorInfo:
    name = stored_dtype_name(value, path)
    return TensorInfo(tuple(value.shape), target if target is not None and converted_by_dtype(name) else name)


def place_tensor(tensor: LazyTensor, sharding: Sharding | None) -> jax.Array:
    """The tensor on its devices: whole for one device or a replicated sharding, else each device's slice."""
    if sharding is None or sharding.is_fully_replicated:
        stored = tensor.read_stored()
        if stored is None:  # made from several stored tensors
            placed: jax.Array = jax.device_put(tensor.read(), sharding)
            return placed
        axes, dtype = tensor.to_framework, tensor.info.dtype
        if axes is None:  # stored as the framework holds it: the array read is the one placed, cast as read() does
            as_stored: jax.Array = jax.device_put(stored.astype(numpy_dtype(dtype), copy=False), sharding)
            return as_stored
        if sharding is None:  # the default device: under the caller's jax.set_mesh, jnp would replicate the result
            with jax.set_mesh(None):
                return _transposed(stored, axes, dtype, None)
        given: jax.Array = jax.device_put(_transposed(stored, axes, dtype, sharding), sharding)  # as given
        return given
    # Each distinct slice is read once, put on the devices holding it, and dropped from the host before the next
    # is read: the host never holds the whole tensor on top of the devices' shards.
    indices = sharding.addressable_devices_indices_map(tensor.info.shape)
    holders: dict[tuple[tuple[int, int], ...], tuple[tuple[slice, ...], list[Any]]] = {}
    for device, index in indices.items():
        index = index or ()
        key = tuple(part.indices(size)[:2] for part, size in zip(index, tensor.info.shape, strict=True))
        holders.setdefault(key, (index, []))[1].append(device)
    shards: dict[Any, jax.Array] = {}
    memory = sharding.memory_kind  # each slice in the memory asked for (pinned_host: offloaded), not the device's
    for index, devices in holders.values():
        host = tensor.read_slice(index)
        shards.update((d, jax.device_put(host, SingleDeviceSharding(d, memory_kind=memory))) for d in devices)
        del host
    return jax.make_array_from_single_device_arrays(tensor.info.shape, sharding, [shards[d] for d in indices])


def _transposed(stored: Any, axes: tuple[int, ...], dtype: str, sharding: Sharding | None) -> jax.Array:
    """The stored array put on ``sharding``, then transposed by ``axes`` and cast to ``dtype`` by XLA there
    (several times faster than numpy): the stored array is 64-byte aligned, so putting it on a CPU device copies
    nothing."""
    return jnp.transpose(jax.device_put(stored, sharding), axes).astype(numpy_dtype(dtype))


@contextlib.contextmanager
def naming_variable(path: str, shape: tuple[int, ...], sharding: Sharding | None) -> Iterator[None]:
    """Errors of placing variable ``path`` on ``sharding`` (a spec of another rank, an axis it does not divide)
    name the variable, its shape and the sharding."""
    spec = getattr(sharding, "spec", None)
    if spec is not None and len(spec) > len(shape):
        raise HubMixinValueError(
            f"variable {path!r} of shape {shape} cannot be placed on {sharding}: its spec has {len(spec)} entries, "
            f"the variable {len(shape)} dimensions"
        )
    try:
        yield
    except HubMixinError:
        raise
    except (ValueError, IndexError, TypeError) as error:
        message = f"variable {path!r} of shape {shape} cannot be placed on {sharding}: {type(error).__name__}: {error}"
        raise HubMixinValueError(message) from error


def tensor_infos(group: LayerVariables, target: str | None) -> LayerTensors[TensorInfo]:
    return LayerTensors(
        group.path,
        group.layer,
        {n: _info(v.get_value(), target, f"{group.path}.{n}" if group.path else n) for n, v in group.variables.items()},
    )


def with_file_widths(group: LayerTensors[TensorInfo], checkpoint: Checkpoint) -> LayerTensors[TensorInfo]:
    """``group``'s expected tensors, an I32 or I64 one taking the file's width if that is the other one."""
    tensors = dict(group.tensors)
    for name, info in group.tensors.items():
        if info.dtype not in _INT_WIDTHS:
            continue
        try:
            (local,) = LAYOUTS.find(group.layer).to_canonical(group.layer, group.path, {name: info})
        except Exception:  # an adapter that maps only its whole set of tensors: the variable's own dtype
            continue
        found = checkpoint.infos.get(group.full_name(local))
        if found is not None and found.dtype in _INT_WIDTHS:
            tensors[name] = TensorInfo(info.shape, found.dtype)
    return LayerTensors(group.path, group.layer, tensors)


def other_width(tensor: LazyTensor, dtype: str) -> bool:
    """Whether ``tensor`` is read as the other integer width than ``dtype``, the variable's."""
    return tensor.info.dtype != dtype and {tensor.info.dtype, dtype} <= _INT_WIDTHS


def read_as(tensor: LazyTensor, dtype: str) -> np.ndarray[Any, Any]:
    """The whole tensor on the host, in ``dtype`` where it is the other integer width.

    Raises:
        WeightsDtypeError: an I64 tensor with values an int32 variable cannot hold (rather than wrap them around).
    """
    array: np.ndarray[Any, Any] = np.asarray(tensor.read())
    if not other_width(tensor, dtype):
        return array
    bounds = np.iinfo(numpy_dtype(dtype))
    if array.size and (array.min() < bounds.min or array.max() > bounds.max):
        source = tensor.checkpoint.source(tensor.key) if tensor.key else tensor.checkpoint.description
        detail = f"its values exceed {np.dtype(numpy_dtype(dtype)).name}'s range"
        raise WeightsDtypeError(source, tensor.key or tensor.name, dtype, tensor.info.dtype, detail=detail)
    return array.astype(numpy_dtype(dtype))


def fill_variable(variable: nnx.Variable[Any], value: jax.Array) -> None:
    """Give ``variable`` the loaded ``value`` through its own ``set_value`` (its ``on_set_value`` hooks, or its
    class's override: the checkpoint holds what ``get_value`` gave). One backed by a mutable array
    (``nnx.Param(..., ref=True)``, ``nnx.var_defaults(ref=True)``) first gets a new ref in ``value``'s dtype and
    sharding: its own keeps those of the construction (``dtype=`` refused, ``sharding=`` not applied); one whose
    write path keeps the dtype it was built in (a float32 master copy) gets a ref in that dtype."""
    raw = variable.get_raw_value()
    if not is_array_ref(raw):
        variable.set_value(value)
        return
    built = raw.dtype
    variable.set_raw_value(jax.new_ref(value))
    try:
        variable.set_value(value)
    except Exception:
        if value.dtype == built:
            raise
        # Its write path keeps the dtype it was built in (a float32 master copy under ``dtype=``): a ref of that.
        variable.set_raw_value(jax.new_ref(value.astype(built)))
        variable.set_value(value)


def keep_own(variable: nnx.Variable[Any], target: str | None, sharding: Sharding | None, path: str) -> None:
    """Leave ``variable`` (``path``, a weight the checkpoint lacks) the value its construction gave it, in the
    floating dtype ``target`` and on ``sharding``. A ref variable gets a new ref of its own stored value: its
    ``get_value`` (hooks applied) written back through ``set_value`` would apply its hooks twice."""
    raw = variable.get_raw_value()
    if is_array_ref(raw):
        stored: jax.Array = raw[...]
        with naming_variable(path, tuple(stored.shape), sharding):
            variable.set_raw_value(jax.new_ref(conform(stored, target, sharding, path)))
        return
    value = variable.get_value()
    with naming_variable(path, tuple(value.shape), sharding):
        variable.set_value(conform(value, target, sharding, path))


def in_target(host: np.ndarray[Any, Any], target: str | None, path: str) -> np.ndarray[Any, Any]:
    """A stacked variable's layers gathered on the host (``path``), in the floating dtype ``target`` if given: a
    model built normally gathers them in its own dtype."""
    wanted = _info(host, target, path).dtype
    return host if wanted == stored_dtype_name(host, path) else host.astype(numpy_dtype(wanted))


def conform(value: jax.Array, target: str | None, sharding: Sharding | None, path: str) -> jax.Array:
    """``value`` (variable ``path``) in the floating dtype ``target`` (if given) and on ``sharding`` (else on the
    default device)."""
    info = _info(value, target, path)
    if info.dtype != stored_dtype_name(value, path):
        value = value.astype(numpy_dtype(info.dtype))
    if sharding is None and isinstance(value, jax.Array) and len(value.sharding.device_set) > 1:
        with jax.set_mesh(None):  # computed under the caller's mesh: to the default device, as a loaded one goes
            default: jax.Array = jax.device_put(np.asarray(value), None)
            return default
    return value if sharding is None else jax.device_put(value, sharding)
