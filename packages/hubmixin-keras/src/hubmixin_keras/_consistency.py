"""A symbolic pass over a model built from a checkpoint: layers whose checkpoint shapes disagree with each other.

Each layer is built from its own tensors' shapes (a ``Dense`` from its ``weight``'s input features), so a file
whose ``fc2.weight`` is ``[2, 9]`` after an ``fc1`` with 8 outputs builds without complaint. After loading, the
model's ``call`` is run once on ``keras.KerasTensor`` inputs of unknown dimensions, as a functional graph is
traced: every layer gets its input's shape from the layers before it, and one whose built input shape disagrees
(Keras' ``input_spec`` check) is a shape mismatch of the checkpoint, named by its key. Nothing is computed, no
initialiser runs. A model whose ``call`` cannot be traced so (it takes several inputs, converts to numpy, ...)
is not checked: its first call reports such a file, as before.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Mapping
from typing import Any

import keras
from keras.src.backend.common import global_state

from hubmixin_core.errors import WeightsError, WeightsShapeError
from hubmixin_core.weights import LayerTensors, TensorInfo, dtype_name
from hubmixin_keras._layout import LAYOUTS
from hubmixin_keras._walk import has_own_build, named_layers, own_variables

__all__ = ["check_consistent"]

_RANKS = (1, 2, 3, 4, 5)
"""The other ranks of the inputs tried where the first layer's gives a disagreement: one tracing without it is
taken for the input's (the first layer's build may not say it: a ``Dense`` takes any rank)."""


class _Mismatch:
    """A layer whose input, in the symbolic pass, disagrees with the shape it was built for."""

    def __init__(self, path: str, layer: keras.Layer, shape: tuple[int | None, ...]) -> None:
        self.path, self.layer, self.shape = path, layer, shape


def check_consistent(model: keras.Layer, infos: Mapping[str, TensorInfo], source: str) -> None:
    """Refuse a checkpoint whose layers' shapes disagree with each other (see the module's docstring).

    Raises:
        WeightsShapeError: naming the key of the layer whose input disagrees, its shape in the checkpoint and the
            shape the layers before it give.
        WeightsError: the same, naming the layer by its path, where Keras cannot build it again from its config.
    """
    if not _traceable(model):
        return
    first = _first_rank(model)
    mismatch = None if first is None else _trace(model, first)
    if not isinstance(mismatch, _Mismatch):
        return
    if any(_trace(model, rank) is None for rank in _RANKS if rank != first):  # consistent at another rank: the
        return  # input's rank was not the first layer's
    raise _error(mismatch, infos, source)


def _traceable(model: keras.Layer) -> bool:
    """Whether ``model.call`` takes one input and every layer that would build variables at a call is built
    (the pass must build nothing)."""
    try:
        parameters = list(inspect.signature(model.call).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in parameters if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if not positional or len(required) > 1:
        return False
    return all(layer.built or not has_own_build(layer) for _, layer in named_layers(model))


def _first_rank(model: keras.Layer) -> int | None:
    """The rank of the input the first built layer (in attribute order) was built for, if known."""
    for _, layer in named_layers(model)[1:]:
        shapes = getattr(layer, "_build_shapes_dict", None)
        if isinstance(shapes, dict) and len(shapes) == 1:
            (shape,) = shapes.values()
            if isinstance(shape, tuple | list) and all(d is None or isinstance(d, int) for d in shape):
                return len(shape)
    return None


def _trace(model: keras.Layer, rank: int) -> _Mismatch | bool | None:
    """``None``: ``model.call`` traced at ``rank`` without error; a :class:`_Mismatch`: a layer's input shape
    disagreed; ``True``: another error (the call cannot be traced so)."""
    found: list[_Mismatch] = []
    scope = keras.StatelessScope(initialize_variables=False)  # what the call would assign or add_loss: dropped
    with _recording(model, found), _graph_restored(model), _pending_restored(), scope:
        try:
            model.call(keras.KerasTensor((None,) * rank, dtype=keras.config.floatx()))
        except Exception:  # any error of a model's own code: the model is not checked at this rank
            return found[0] if found else True
    return None


@contextlib.contextmanager
def _recording(model: keras.Layer, found: list[_Mismatch]) -> Iterator[None]:
    """Record in ``found`` each walked layer's refusal of a symbolic input (Keras' ``input_spec`` check)."""
    patched = []
    for path, layer in named_layers(model):
        if not layer.built or not getattr(layer, "input_spec", None):
            continue
        original = layer._assert_input_compatibility

        def check(arg_0: Any, path: str = path, layer: keras.Layer = layer, original: Any = original) -> None:
            try:
                original(arg_0)
            except ValueError:
                if isinstance(arg_0, keras.KerasTensor) and _disagrees(layer.input_spec, tuple(arg_0.shape)):
                    found.append(_Mismatch(path, layer, tuple(arg_0.shape)))  # (not a backend's trace, whose
                raise  # dimensions are made up)

        object.__setattr__(layer, "_assert_input_compatibility", check)  # the instance's, not tracked
        patched.append(layer)
    try:
        yield
    finally:
        for layer in patched:
            vars(layer).pop("_assert_input_compatibility", None)


def _disagrees(spec: Any, shape: tuple[int | None, ...]) -> bool:
    """Whether ``shape`` has the rank ``spec`` (one ``keras.InputSpec``) asks for, but a known dimension of
    another size than it asks (a rank refused says the input's rank was guessed wrong, not the checkpoint)."""
    if not isinstance(spec, keras.InputSpec):
        return False
    rank = len(shape)
    if (spec.ndim is not None and rank != spec.ndim) or (spec.min_ndim is not None and rank < spec.min_ndim):
        return False
    if spec.max_ndim is not None and rank > spec.max_ndim:
        return False
    sizes = dict(spec.axes or {})
    if spec.shape is not None and len(spec.shape) == rank:
        sizes.update(enumerate(spec.shape))
    return any(
        size is not None and -rank <= axis < rank and shape[axis] not in (None, size) for axis, size in sizes.items()
    )


@contextlib.contextmanager
def _graph_restored(model: keras.Layer) -> Iterator[None]:
    """Drop the graph nodes the symbolic calls add to the model's layers."""
    layers = list(model._flatten_layers(include_self=True))
    counts = [(layer, len(layer._inbound_nodes), len(layer._outbound_nodes)) for layer in layers]
    try:
        yield
    finally:
        for layer, inbound, outbound in counts:
            del layer._inbound_nodes[inbound:]
            del layer._outbound_nodes[outbound:]


_UNINITIALIZED = "uninitialized_variables"


@contextlib.contextmanager
def _pending_restored() -> Iterator[None]:
    """Keras' global list of deferred initialisations as it was (a layer built in the pass is not kept)."""
    before = list(global_state.get_global_attribute(_UNINITIALIZED) or [])
    try:
        yield
    finally:
        if global_state.get_global_attribute(_UNINITIALIZED) is not None:
            global_state.set_global_attribute(_UNINITIALIZED, before)


def _error(mismatch: _Mismatch, infos: Mapping[str, TensorInfo], source: str) -> WeightsError:
    """The error naming the checkpoint's tensor of ``mismatch``'s layer that the input it gets disagrees with (a
    layer Keras cannot build again from its config: the layer, by its path)."""
    layer_name = mismatch.path or "(the model)"
    cause = (
        f"the layers before {layer_name!r} give it inputs of shape {mismatch.shape}: the checkpoint's layers "
        "disagree with each other"
    )
    group = LayerTensors(mismatch.path, mismatch.layer, {})
    for local, info in _expected(mismatch).items():
        key = group.full_name(local)
        held = infos.get(key)
        if held is not None and held.shape != info.shape:
            error = WeightsShapeError(source, key, info.shape, held.shape)
            error.args = (f"{error.args[0]} ({cause})",)
            return error
    return WeightsError(f"{source}: layer {layer_name!r} ({type(mismatch.layer).__name__}): {cause}")


def _expected(mismatch: _Mismatch) -> dict[str, TensorInfo]:
    """The canonical tensors of ``mismatch``'s layer built for the input it gets; ``{}`` if it cannot be rebuilt."""
    layer = mismatch.layer
    try:
        with _pending_restored(), keras.StatelessScope(initialize_variables=False):
            twin = type(layer).from_config(layer.get_config())
            twin.build(mismatch.shape)
        return dict(LAYOUTS.find(twin).to_canonical(twin, mismatch.path, _infos(twin)))
    except Exception:  # a layer Keras cannot rebuild from its config: named by its own tensors
        return {}


def _infos(layer: keras.Layer) -> dict[str, TensorInfo]:
    return {
        name: TensorInfo(tuple(int(d) for d in variable.shape), dtype_name(variable.dtype))
        for name, variable in own_variables(layer).items()
    }
