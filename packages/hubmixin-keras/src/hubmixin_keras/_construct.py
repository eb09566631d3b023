"""Construction without weights: a Keras model built from a checkpoint's shapes, its variables left uninitialised.

The model is constructed and its layers built inside ``keras.StatelessScope(initialize_variables=False)``: Keras
then defers every variable's initialisation (nothing random is drawn, nothing allocated). The loader gives each
variable its value from the checkpoint; :func:`initialize_rest` gives the others (seed-generator state, weights
the checkpoint lacks, metrics' state, any variable ``__init__`` made) the value the construction assigned them
(``self.pe.assign(table)``: Keras only records it in the scope), else runs their deferred initialisers.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import dataclasses
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import keras
import numpy as np
from keras.src.backend.common import global_state
from keras.src.backend.common.stateless_scope import get_stateless_scope

from hubmixin_core.errors import (
    HubMixinError,
    HubMixinTypeError,
    HubMixinValueError,
    WeightsError,
    WeightsKeyError,
    WeightsShapeError,
    format_names,
)
from hubmixin_core.weights import TensorInfo, floating_dtype_name
from hubmixin_keras._layout import builds_from_shapes, input_shape_of, least_rank, shape_keys_of
from hubmixin_keras._memory_order import in_initial_order
from hubmixin_keras._walk import (
    built_from_its_layers,
    has_own_build,
    keras_container,
    named_layers,
    shared_path_renames,
)

__all__ = [
    "assign",
    "builders_error",
    "check_set_up",
    "Deferred",
    "construct_deferred",
    "dtype_policy_name",
    "dtype_policy_scope",
    "file_dtype_name",
    "any_rank",
    "in_scopes_of",
    "initialize_rest",
    "mark_containers_built",
    "pending_cleared_on_error",
    "unbuilt_builders",
    "unbuilt_error",
    "unbuilt_held_keys",
    "unbuilt_warnings",
]

M = TypeVar("M")
logger = logging.getLogger("hubmixin_keras")
_UNINITIALIZED = "uninitialized_variables"


def dtype_policy_name(dtype: Any) -> str | None:
    """The name of the Keras dtype policy ``dtype`` (``"bfloat16"``, ``"mixed_bfloat16"``, ``np.float16``,
    ``torch.float16``, a ``keras.DTypePolicy``) that ``from_pretrained`` builds the model under; ``None`` stays
    ``None``.

    Raises:
        HubMixinValueError: Keras knows no such policy, or it is a quantized one or a ``DTypePolicyMap``.
        HubMixinTypeError: a dtype that is not floating (``"int8"``, ``"string"``), or a policy whose variables or
            computations are not.
    """
    if dtype is None:
        return None
    standard = _keras_dtype(dtype)
    if standard is not None and not keras.backend.is_float_dtype(standard):  # before Keras reads "int8" as a
        raise _not_floating(dtype, f"a {standard} dtype")  # quantization mode, not a policy
    try:
        policy = keras.dtype_policies.get(dtype)
    except (ValueError, TypeError) as error:
        raise HubMixinValueError(
            f"dtype={dtype!r} is not a Keras dtype policy: give a floating dtype (float16, bfloat16, float32, ...) "
            f"or a mixed-precision policy (mixed_float16, mixed_bfloat16) ({error})"
        ) from None
    if isinstance(policy, keras.dtype_policies.QuantizedDTypePolicy):
        raise HubMixinValueError(
            f"dtype={dtype!r} is a quantized Keras dtype policy: load in floating point, then quantize the model"
        )
    if isinstance(policy, keras.dtype_policies.DTypePolicyMap):  # (its name is no policy Keras can set globally)
        raise HubMixinValueError(
            f"dtype={dtype!r} is a Keras DTypePolicyMap (a policy per layer path): dtype= takes one policy for the "
            "whole model, a floating dtype or a mixed-precision policy (bfloat16, mixed_bfloat16, ...); give the "
            "map to the model as its own dtype, in model_kwargs={'dtype': ...}"
        )
    for role, name in (("variable", policy.variable_dtype), ("compute", policy.compute_dtype)):
        if not keras.backend.is_float_dtype(name):
            raise _not_floating(dtype, f"its {role} dtype is {name}")
    return str(policy.name)


def file_dtype_name(dtype: Any) -> str | None:
    """The safetensors name of ``save_pretrained``'s ``dtype=``: a floating dtype, in any form Keras takes
    (``"bfloat16"``, ``np.float16``, ``torch.float16``); ``None`` stays ``None``.

    Raises:
        HubMixinTypeError: not a floating dtype (a mixed-precision policy included: the file holds one dtype).
    """
    if dtype is None:
        return None
    standard = _keras_dtype(dtype)
    floating = standard is not None and keras.backend.is_float_dtype(standard)
    return floating_dtype_name(standard if floating else dtype)  # (else core's error names what was given)


def _keras_dtype(dtype: Any) -> str | None:
    """``dtype`` as Keras names it (``torch.float16``: ``"float16"``); ``None`` for anything else (a policy)."""
    try:
        return str(keras.backend.standardize_dtype(dtype))
    except (ValueError, TypeError, AttributeError):
        return None


def _not_floating(dtype: Any, detail: str) -> HubMixinTypeError:
    return HubMixinTypeError(
        f"dtype must be a floating-point dtype or mixed-precision policy (float16, bfloat16, float32, "
        f"mixed_bfloat16, ...), got {dtype!r} ({detail})"
    )


@contextlib.contextmanager
def dtype_policy_scope(dtype: str | None) -> Iterator[None]:
    """Inside Keras' global dtype policy ``dtype`` (a policy name): the layers made in it take it; ``None``: the
    caller's, as it is."""
    if dtype is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@dataclasses.dataclass(eq=False)
class Deferred:
    """The variables a deferred construction made, and the values it assigned some of them (by variable id).

    Inside the construction's stateless scope, ``variable.assign(value)`` only records the value in the scope,
    which drops it at its exit: it is kept here instead, for :func:`initialize_rest`.
    """

    variables: list[Any] = dataclasses.field(default_factory=list)
    assigned: dict[int, Any] = dataclasses.field(default_factory=dict)

    def loaded(self, variable: Any) -> None:
        """``variable`` got its value from the checkpoint: the one the construction assigned it is not needed."""
        self.assigned.pop(id(variable), None)


def construct_deferred(
    factory: Callable[[], M],
    infos: Mapping[str, TensorInfo],
    dtype: str | None = None,
    *,
    source: str = "checkpoint",
    built_as: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[M, list[str], Deferred]:
    """``factory()`` with its layers built from the checkpoint's shapes (``infos``), every variable deferred.

    A layer with a Keras build config in ``built_as`` (by layer path: the checkpoint recorded how the layer was
    built, see ``_built_as``) is built from it first, parents before their sub-layers, as a call builds them (its
    ``build`` may make and build its sub-layers); the others from their tensors' shapes, leaves first; again for
    the layers a ``build`` made.

    A model that creates a variable from a value (``keras.Variable(np.ones(3))``, which Keras refuses to defer)
    is constructed again with every variable initialised, then loaded as the other ones.

    Returns the model, the paths of the layers that could not be built (their shape-giving tensors are not
    in the checkpoint: Keras builds those at their first call, with their own initialisation) and the variables
    deferred, for :func:`initialize_rest`: those the model tracks as weights, and the others (a metric's, one
    held by a plain Python object), which ``model.variables`` does not list, with the values the construction
    assigned them.
    """
    recorded = built_as or {}
    names = dict(global_state.get_global_attribute(_NAME_COUNTS) or {})
    try:
        with pending_cleared_on_error():
            return _construct(factory, infos, dtype, source, recorded, deferred=True)
    except ValueError as error:
        if _VALUE_IN_SCOPE not in str(error):
            raise
    global_state.set_global_attribute(_NAME_COUNTS, collections.defaultdict(int, names))  # names as in one try
    logger.info("a variable is created from a value: constructing with every variable initialised, then loading")
    return _construct(factory, infos, dtype, source, recorded, deferred=False)


_NAME_COUNTS = "object_name_uids"  # Keras' counters of automatic names (dense, dense_1, ...)
_VALUE_IN_SCOPE = "create a variable while in a stateless scope"  # Keras' ValueError for a variable made from a value


def check_set_up(layer: keras.Layer) -> None:
    """Refuse a layer whose ``__init__`` did not call ``super().__init__()`` (Keras' own check waits for its first
    call; a save or load would fail on a missing attribute)."""
    if "built" not in vars(layer) and not hasattr(type(layer), "built"):  # (Keras' Layer defines none itself)
        name = type(layer).__qualname__
        raise HubMixinTypeError(
            f"{name}.__init__ did not call super().__init__(**kwargs), so Keras never set the model up: call it "
            f"first in {name}.__init__"
        )


def _construct(
    factory: Callable[[], M],
    infos: Mapping[str, TensorInfo],
    dtype: str | None,
    source: str,
    recorded: Mapping[str, Mapping[str, Any]],
    *,
    deferred: bool,
) -> tuple[M, list[str], Deferred]:
    unbuilt: list[str] = []
    before = {id(v) for v in global_state.get_global_attribute(_UNINITIALIZED) or []}
    scope = keras.StatelessScope(initialize_variables=False) if deferred else None
    with dtype_policy_scope(dtype), scope or contextlib.nullcontext():
        model = factory()
        if isinstance(model, keras.Layer):
            check_set_up(model)
        renames = [(re.compile(old), new) for old, new in shared_path_renames(model, infos).items()]
        if renames:  # a shared layer the checkpoint holds under another of its paths: built from those tensors
            infos = {**infos, **{_path_renamed(name, renames): info for name, info in infos.items()}}
        names = sorted(infos)  # a layer's tensors, found by prefix: a model can have thousands of layers
        walked: set[int] = set()
        while True:
            layers = dict(named_layers(model))
            new = [(path, layer) for path, layer in layers.items() if id(layer) not in walked]
            if not new:
                break
            walked.update(id(layer) for _, layer in new)
            for path, layer in new:  # parents first
                if not layer.built and path in recorded and not built_from_its_layers(layer):
                    config = dict(recorded[path])
                    shape = config.get("input_shape", config)
                    failure = _build_failure_named(path, layer, shape, source, "its record", untrusted=True)
                    with in_scopes_of(layers, path), failure:
                        layer.build_from_config(config)
                    any_rank(layer)
            for path, layer in reversed(new):  # leaves first
                if not layer.built and _built_from_shapes(layers, path, layer, _under(path, names, infos), source):
                    continue
                if not layer.built and builds_from_shapes(layer) and shape_keys_of(layer) != ():
                    unbuilt.append(path)  # (a layer that holds no tensors is left to Keras, built at its first call)
        mark_containers_built(model, recorded, source)
    made = [v for v in global_state.get_global_attribute(_UNINITIALIZED) or [] if id(v) not in before]
    values = ((v, scope.get_current_value(v) if scope is not None else None) for v in made)
    return model, unbuilt, Deferred(made, {id(v): value for v, value in values if value is not None})


def _path_renamed(name: str, renames: Sequence[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in renames:
        name = pattern.sub(replacement, name)
    return name


def _under(path: str, names: Sequence[str], infos: Mapping[str, TensorInfo]) -> dict[str, TensorInfo]:
    """The tensors of ``infos`` under the layer at ``path``, by their names below it (``names``: sorted)."""
    prefix = f"{path}." if path else ""
    found = {}
    for name in itertools.islice(names, bisect.bisect_left(names, prefix), None):
        if not name.startswith(prefix):
            break
        found[name[len(prefix) :]] = infos[name]
    return found


def _built_from_shapes(
    layers: Mapping[str, keras.Layer],
    path: str,
    layer: keras.Layer,
    infos: Mapping[str, TensorInfo],
    source: str,
) -> bool:
    """Build ``layer`` (at ``path``) from the shapes of its tensors, ``infos`` (by name under the layer); whether
    its adapter could tell them (an adapter may build the layer itself and return ``None``: attention does)."""
    try:
        with in_scopes_of(layers, path):
            shape = input_shape_of(layer, infos)
    except WeightsShapeError as error:  # the tensor named in full, with the checkpoint
        raise _renamed(error, source, (f"{path}." if path else "") + error.key) from None
    if shape is None:
        return False
    with in_scopes_of(layers, path), _build_failure_named(path, layer, shape, source, "its tensors' shapes"):
        layer.build(shape if shape else None)
    any_rank(layer)
    return True


@contextlib.contextmanager
def _build_failure_named(
    path: str, layer: keras.Layer, shape: Any, source: str, given_by: str, *, untrusted: bool = False
) -> Iterator[None]:
    """A layer's own error when its ``build`` refuses the input shape the checkpoint gives (``GroupNormalization``
    whose groups do not divide the channels), as a :class:`WeightsError` naming the layer and the checkpoint.

    ``untrusted``: the shape is a record of the file's metadata, which can be anything JSON holds (``null``, a
    ``shapes_dict`` of other names): a ``TypeError``, ``KeyError`` or ``AttributeError`` of ``build`` is the
    record's fault too."""
    caught: tuple[type[Exception], ...] = (ValueError, IndexError)
    if untrusted:
        caught += (TypeError, KeyError, AttributeError)
    try:
        yield
    except caught as error:
        if isinstance(error, HubMixinError) or _VALUE_IN_SCOPE in str(error):  # (the latter: retried initialised)
            raise
        kind = type(layer).__name__
        raise WeightsError(
            f"{source}: layer {path or '(the model)'!r} ({kind}) cannot be built for input shape {shape} (given by "
            f"{given_by}): {type(error).__name__}: {error}"
        ) from error


@contextlib.contextmanager
def in_scopes_of(layers: Mapping[str, keras.Layer], path: str) -> Iterator[None]:
    """Inside the name scopes of the layers that hold the one at ``path`` (``layers``: the model's, by path), as
    when the model's call builds it: its variables' paths are then Keras' own (``net/block/dense/kernel``)."""
    parts = path.split(".") if path else []
    holders = [layers[".".join(parts[:end])] for end in range(len(parts)) if ".".join(parts[:end]) in layers]
    with contextlib.ExitStack() as scopes:
        for holder in holders:
            scopes.enter_context(holder._open_name_scope())
        yield


def mark_containers_built(
    model: keras.Layer, recorded: Mapping[str, Mapping[str, Any]] | None = None, source: str = "checkpoint"
) -> None:
    """Mark built the layers of ``model`` (itself included) that are not, but hold built sub-layers, as Keras'
    build leaves a layer: with the input shape it was built for, where ``recorded`` (Keras build configs, by layer
    path: ``hubmixin.build``'s, of ``source``) holds it (a call records it: ``model.export`` and TensorFlow's
    serving signature read it). Sub-layers first: a
    ``Sequential`` builds its graph of its layers, built."""
    for path, layer in reversed(named_layers(model)):
        if not layer.built and any(sub.built for _, sub in named_layers(layer)[1:]):
            shapes = _recorded_shapes((recorded or {}).get(path))
            with _build_failure_named(path, layer, shapes, source, "its record", untrusted=True):
                _built_for(layer, shapes)


def _recorded_shapes(config: Any) -> dict[str, Any] | None:
    """The shapes a Keras build config records, as Keras' build records them (``{"input_shape": [2, 3]}``, or its
    ``shapes_dict``); ``None`` for none, or for a record that holds no shapes (the file's metadata: anything)."""
    if not isinstance(config, Mapping):
        return None
    shapes = {"input_shape": config["input_shape"]} if "input_shape" in config else config.get("shapes_dict")
    try:
        valid = isinstance(shapes, dict) and bool(shapes) and all(map(_is_shapes, shapes.values()))
    except RecursionError:  # (nested as deeply as JSON allows)
        valid = False
    return shapes if valid else None


def _is_shapes(value: Any) -> bool:
    """Whether ``value`` is a shape (``[2, 3]``, ``[null, 3]``) or a structure of shapes (lists and objects)."""
    if isinstance(value, list | tuple) and all(d is None or (isinstance(d, int) and d >= 0) for d in value):
        return True
    if isinstance(value, list | tuple):
        return all(map(_is_shapes, value))
    return isinstance(value, dict) and all(isinstance(key, str) and _is_shapes(v) for key, v in value.items())


def _built_for(layer: keras.Layer, shapes: dict[str, Any] | None) -> None:
    """Mark ``layer`` built, its layers built, as Keras' build does: a Keras container with a build of its own
    (``Sequential``: it makes its graph) by it, for ``shapes``; else as Keras' default build (it makes nothing),
    recording ``shapes``. Its state is left open, as before: a model may make state at its first call, or be
    given a head after the load."""
    if shapes is not None and list(shapes) == ["input_shape"] and keras_container(layer) and has_own_build(layer):
        layer.build(shapes["input_shape"])
    if not layer.built:
        if shapes is not None:
            layer._build_shapes_dict = shapes
        layer.built = True


def _own_keys(path: str, below: Sequence[str], keys: Iterable[str]) -> list[str]:
    """The ``keys`` under the layer at ``path`` that are not under any of the paths ``below`` it (relative)."""
    prefix = f"{path}." if path else ""
    inner = tuple(f"{prefix}{sub}." for sub in below)
    return sorted(key for key in keys if key.startswith(prefix) and not key.startswith(inner))


def unbuilt_builders(
    model: keras.Layer, infos: Mapping[str, TensorInfo], unbuilt: Sequence[str] = ()
) -> dict[str, list[str]]:
    """The layers of ``model`` left unbuilt whose own ``build`` makes their variables or sub-layers, which no
    adapter builds from shapes (the checkpoint holds tensors under their path but no build record: it was written
    elsewhere), with those tensors' keys: those under none of their built sub-layers, nor under a layer of
    ``unbuilt`` (``construct_deferred``'s: named by :func:`unbuilt_warnings`, with their own cause)."""
    found: dict[str, list[str]] = {}
    for path, layer in named_layers(model):
        if layer.built or not has_own_build(layer) or builds_from_shapes(layer) or path in unbuilt:
            continue
        prefix = f"{path}." if path else ""
        if any(prefix.startswith(f"{above}.") or not above for above in found):
            continue  # below a layer found already: its tensors are that layer's
        subs = named_layers(layer)[1:]
        below = [sub for sub, held in subs if held.built or (f"{prefix}{sub}" in unbuilt)]
        keys = _own_keys(path, below, infos)
        if keys:
            found[path] = keys
    return found


def builders_error(
    builders: Mapping[str, Sequence[str]], source: str, strict: bool, *, written_here: bool = False
) -> WeightsKeyError:
    """The error (or, not strict, the warning's text) for :func:`unbuilt_builders`' layers; ``written_here``:
    the checkpoint was written by hubmixin-keras (its metadata says so)."""
    names = ", ".join(repr(path or "(the model)") for path in builders)
    elsewhere = "" if written_here else " (it was not written by hubmixin-keras)"
    detail = (
        f"layers {names} make their variables or sub-layers in their own build(), and the checkpoint records no "
        f"build for them{elsewhere}: register an adapter telling their input shape from the "
        "checkpoint's tensors, hubmixin_keras.LAYOUTS.register(TheLayer, hubmixin_keras.KerasAdapter("
        "input_shape=...)), as docs/keras.md shows"
    )
    unexpected = [key for keys in builders.values() for key in keys] if strict else []
    return WeightsKeyError(source, unexpected=unexpected, detail=detail)


def _unbuilt_keys(
    model: Any, unbuilt: list[str], infos: Mapping[str, TensorInfo] | None
) -> list[tuple[str, list[str], list[str]]]:
    """Each layer of ``unbuilt`` (in the model's order) with the keys that would give its shapes (where its adapter
    tells) and the keys ``infos`` holds under its path."""
    found = []
    for path, layer in named_layers(model):
        if path in unbuilt:
            prefix = f"{path}." if path else ""
            missing = [prefix + key for key in shape_keys_of(layer) or () if prefix + key not in (infos or ())]
            found.append((path, missing, sorted(key for key in infos or () if key.startswith(prefix))))
    return found


def unbuilt_held_keys(unbuilt: Sequence[str], infos: Mapping[str, TensorInfo]) -> set[str]:
    """The keys of ``infos`` under the layers ``unbuilt``: those :func:`unbuilt_warnings` names as not loaded."""
    prefixes = tuple(f"{path}." if path else "" for path in unbuilt)
    return {key for key in infos if prefixes and key.startswith(prefixes)}


def _no_shapes(layers: Sequence[str], source: str) -> str:
    names = ", ".join(repr(path) for path in layers)
    if len(layers) > 1:
        return f"layers {names}: no tensors in {source} that give their shapes"
    return f"layer {names}: no tensors in {source} that give its shapes"


_OTHER_LAYOUT = "stored in another layout than this configuration of the layer{} reads? see docs/porting.md"


def unbuilt_error(
    model: Any, unbuilt: list[str], source: str, infos: Mapping[str, TensorInfo] | None = None
) -> WeightsKeyError:
    """The error of a strict load for the layers ``construct_deferred`` could not build: they are missing from
    ``source``, named with the keys that would give their shapes (``lstm.weight_ih_l0``) where their adapters
    tell, and with the tensors ``infos`` (the checkpoint's) holds under their paths (another layout: a GRU saved
    by torch, loaded into ``GRU(reset_after=False)``)."""
    layers = _unbuilt_keys(model, unbuilt, infos)
    missing = [key for _, keys, _ in layers for key in keys]
    held = [key for _, _, keys in layers for key in keys]
    plural = "s" if len(layers) > 1 else ""
    detail = _no_shapes([path for path, _, _ in layers], "the checkpoint")
    if held:
        detail += (
            f" (it holds only [{format_names(held)}] under {'their paths' if plural else 'its path'}: "
            f"{_OTHER_LAYOUT.format(plural)})"
        )
    return WeightsKeyError(source, missing=missing, detail=detail)


def unbuilt_warnings(
    model: Any, unbuilt: list[str], source: str, infos: Mapping[str, TensorInfo] | None = None
) -> list[str]:
    """The warnings of a load that is not strict for the layers ``construct_deferred`` could not build, worded as
    :func:`unbuilt_error`: those ``source`` holds no tensor of are not in it; those it holds tensors of (``infos``),
    but not the ones that give their shapes, are named with those keys, and the tensors it holds are not loaded.
    Keras builds either at its first call, with its own initialisation."""
    layers = _unbuilt_keys(model, unbuilt, infos)
    warnings = []
    absent = [path for path, _, held in layers if not held]
    if absent:
        warnings.append(
            f"layers {absent} are not in {source}: Keras builds them at their first call, with their own initialisation"
        )
    partial = [(path, missing, held) for path, missing, held in layers if held]
    if partial:
        plural = len(partial) > 1
        held = [key for _, _, keys in partial for key in keys]
        missing = [key for _, keys, _ in partial for key in keys]
        keys = f" (missing keys [{format_names(missing)}])" if missing else ""
        tensors = (
            "tensor the checkpoint holds under {} is" if len(held) == 1 else "tensors the checkpoint holds under {} are"
        )
        warnings.append(
            f"{_no_shapes([path for path, _, _ in partial], source)}{keys}, so the {len(held)} "
            f"{tensors.format('their paths' if plural else 'its path')} not loaded: "
            f"{format_names(held)} ({_OTHER_LAYOUT.format('s' if plural else '')}); Keras builds "
            f"{'them at their' if plural else 'it at its'} first call, with {'their' if plural else 'its'} own "
            "initialisation"
        )
    return warnings


def _renamed(error: WeightsShapeError, source: str, key: str) -> WeightsShapeError:
    """``error`` (raised by an adapter, for a key relative to its layer) for ``key`` of ``source``."""
    detail = str(error).split(": ", 1)[-1].replace(repr(error.key), repr(key), 1)
    renamed = WeightsShapeError(source, key, error.expected, error.found)
    renamed.args = (f"{source}: {detail}",)
    return renamed


def any_rank(layer: Any) -> None:
    """A normalization layer built for the least rank its axis needs (``(None, channels)``; ``(None, None, None,
    channels)`` for ``axis=3``) accepts inputs of any higher rank too, as if built for them.

    The checkpoint gives the channels, not the rank of the inputs (a batch norm after a Conv2D sees 4-D ones).
    """
    if not isinstance(layer, keras.layers.BatchNormalization | keras.layers.GroupNormalization):
        return
    spec = layer.input_spec
    if spec is not None and spec.ndim is not None and spec.ndim == least_rank(layer.axis):
        layer.input_spec = keras.InputSpec(min_ndim=spec.ndim, axes=spec.axes)
    if isinstance(layer, keras.layers.BatchNormalization):
        moments = type(layer)._moments

        def any_rank_moments(inputs: Any, mask: Any) -> Any:
            rank = len(inputs.shape)
            axes = [axis for axis in range(rank) if axis != layer.axis % rank]
            object.__setattr__(layer, "_reduction_axes", axes)  # not a tracked attribute
            return moments(layer, inputs, mask)

        object.__setattr__(layer, "_moments", any_rank_moments)


@contextlib.contextmanager
def pending_cleared_on_error() -> Iterator[None]:
    """If the block fails, drop the variables it deferred from Keras' global list of pending initialisations.

    Else a failed load would leave them there, for the next top-level ``StatelessScope`` to initialise.
    """
    before = {id(v) for v in global_state.get_global_attribute(_UNINITIALIZED) or []}
    try:
        yield
    except BaseException:
        pending = global_state.get_global_attribute(_UNINITIALIZED) or []
        global_state.set_global_attribute(_UNINITIALIZED, [v for v in pending if id(v) in before])
        raise


def assign(variable: Any, value: np.ndarray[Any, Any]) -> None:
    """Give a deferred (or initialised) variable its value, without running its initialiser."""
    tensor = variable._convert_to_tensor(value, dtype=variable.dtype)
    if variable._value is None:
        variable._initialize(in_initial_order(variable, tensor))
    else:
        variable.assign(tensor)


def initialize_rest(model: keras.Layer, deferred: Deferred | None = None) -> None:
    """Initialise the model's variables still deferred, and the others of ``deferred`` (``construct_deferred``'s:
    a metric's ``total`` and ``count``, which ``model.variables`` leaves out), as a plain construction does: with
    the value the construction assigned (``deferred.assigned``), else by their initializers; drop them all from
    Keras' pending list.

    Inside a stateless scope, Keras initialises no variable: those still deferred stay in its pending list, for
    the enclosing load to initialise (a model whose ``__init__`` loads a pretrained part of itself: as variables
    its construction deferred, their assigned values recorded in that scope again) or the caller's own
    ``keras.StatelessScope()`` at its exit. Those the load gave a value leave the list either way: that exit would
    initialise them again ("already initialized").
    """
    deferred = deferred or Deferred()
    seeds = [
        generator.state for layer in model._flatten_layers() for generator in getattr(layer, "_seed_generators", [])
    ]
    rest = [v for v in itertools.chain(model.variables, deferred.variables, seeds) if getattr(v, "_value", 1) is None]
    outer = get_stateless_scope()
    for variable in {id(v): v for v in rest}.values():
        value = deferred.assigned.get(id(variable))
        if outer is not None:
            if value is not None:
                outer.add_update((variable, value))
        elif value is not None:  # (a copy: the value assigned may be shared, a cached table, on the torch backend)
            variable._initialize(in_initial_order(variable, keras.ops.copy(value)))
            variable._initializer = None
        else:
            _deferred_initialize(variable)
    deferred.assigned.clear()
    pending = global_state.get_global_attribute(_UNINITIALIZED) or []
    global_state.set_global_attribute(_UNINITIALIZED, [v for v in pending if v._value is None])


_HALF_FLOATS = ("bfloat16", "float16")


def _deferred_initialize(variable: Any) -> None:
    """Run a deferred variable's initialiser; one the backend cannot compute in a 16-bit float dtype (Orthogonal's
    QR, for an LSTM's or GRU's recurrent kernel under ``bfloat16``) is computed in float32, then rounded to it."""
    try:
        variable._deferred_initialize()
        return
    except Exception as error:
        if variable._value is not None or keras.backend.standardize_dtype(variable.dtype) not in _HALF_FLOATS:
            raise
        failure = error
    try:
        value = variable._initializer(variable.shape, dtype="float32")
    except Exception:
        raise failure from None
    variable._initialize(keras.ops.cast(value, variable.dtype))
    variable._initializer = None
