"""The hand-written Keras side of ``KerasModelHubMixin``: ``_save_pretrained`` and ``_from_pretrained``.

Files, shards, the header checks, the strict policy and the layouts are core's (``save_canonical``,
``load_canonical``); this module walks a Keras model by attribute, builds it from the checkpoint's shapes with
its variables deferred, and gives each variable its value.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import warnings
from collections import Counter
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, Unpack

import keras
import numpy as np
from keras.src.layers.merging.base_merge import Merge
from keras.src.models.functional import Functional
from numpy.typing import DTypeLike

from hubmixin_core import DownloadOptions, ModelHubMixin, locate_file
from hubmixin_core._capture import get_unsaved
from hubmixin_core._fresh import ArgumentsAsGiven
from hubmixin_core._override import takes_hub_keywords
from hubmixin_core._warn import warn_user
from hubmixin_core.errors import (
    ConfigError,
    HubMixinTypeError,
    WeightsDtypeError,
    WeightsKeyError,
    WeightsNotFoundError,
    format_names,
    weights_not_found,
)
from hubmixin_core.typing import ClassKeywords
from hubmixin_core.weights import (
    FRAMEWORK_KEY,
    Checkpoint,
    LayerTensors,
    LazyTensor,
    TensorInfo,
    dtype_name,
    load_canonical,
    numpy_dtype,
    open_checkpoint,
    report_held_apart,
    save_canonical,
    settings_metadata,
    tied_names,
    warn_settings,
)
from hubmixin_core.weights._resolve import keras_shard_names, keras_sharded_steps
from hubmixin_keras._adapted import unsaved_state
from hubmixin_keras._built_as import build_metadata, recorded_builds
from hubmixin_keras._construct import (
    assign,
    builders_error,
    check_set_up,
    construct_deferred,
    dtype_policy_name,
    file_dtype_name,
    initialize_rest,
    pending_cleared_on_error,
    unbuilt_builders,
    unbuilt_error,
    unbuilt_held_keys,
    unbuilt_warnings,
)
from hubmixin_keras._extras import EXTRAS
from hubmixin_keras._keras_saving import keep_keras_saving, record_dtype_policy
from hubmixin_keras._layout import LAYOUTS, shape_keys_of
from hubmixin_keras._lora import lora_names, merge_lora, reset_lora
from hubmixin_keras._own_loaders import run_own_loaders
from hubmixin_keras._settings import model_settings
from hubmixin_keras._shared import Tie, layer_variables
from hubmixin_keras._torch_params import register_torch_params
from hubmixin_keras._walk import (
    has_own_build,
    named_layers,
    other_paths,
    own_variables,
    shared_path_renames,
    tf_variables,
    torch_tensors,
    unreached_layers,
    unreached_variables,
)

__all__ = ["KerasHubMixinBase"]

logger = logging.getLogger("hubmixin_keras")

_KERAS_WEIGHTS = "model.weights.h5"
_KERAS_SHARDED = "model.weights.json"  # save_weights(..., max_shard_size=)'s index of model_00000.weights.h5, ...
_KERAS_HUB_METADATA = "metadata.json"
_KERAS_FILE = "model.keras"
_SAVED_MODEL = "keras_metadata.pb"  # tf.keras' own part of a SavedModel (saved_model.pb is any TensorFlow graph's)
_PRESET_VERSIONS = (
    ("keras_hub_version", "keras-hub"),
    ("keras_nlp_version", "keras-nlp"),
    ("keras_cv_version", "keras-cv"),
)
"""The keys of a preset's metadata.json naming the library that saved it (keras-hub, or its predecessors)."""
_PRESET_OLD_CALLS = {
    "keras-nlp": (
        " (keras-hub reads keras-nlp presets; with keras-nlp itself, "
        'keras_nlp.models.<Class>.from_preset("{saved_to}"))'
    ),
    "keras-cv": ' (where keras-hub has the model; else keras_cv.models.<Class>.from_preset("{saved_to}"))',
}
_NOT_VARIABLES = (
    "are set on layers as torch parameters or buffers, not Keras variables (make them with self.add_weight, or hold "
    "them in a torch module, which Keras wraps in a TorchModuleWrapper)"
)
_NOT_WALKED = "held in other containers, a set: hold those layers in attributes, lists, tuples, dicts or a Sequential"


def _as_layer(obj: object) -> keras.Layer:
    if not isinstance(obj, keras.Layer):
        raise _not_keras(type(obj))
    check_set_up(obj)
    return obj


def _held_as_given(value: object) -> bool:
    """Arguments a construction holds, never copies of them: layers, variables and tensors."""
    return isinstance(value, keras.Layer | keras.Variable) or keras.ops.is_tensor(value)


def _not_keras(cls: type, method: str = "save_pretrained") -> HubMixinTypeError:
    if cls.__module__.partition(".")[0] == "hubmixin_keras":  # the mixin itself: a first use's mistake
        return HubMixinTypeError(
            f"{cls.__qualname__} is the mixin, not a model: call {method} on your model class "
            f"(`class MyModel(keras.Model, KerasModelHubMixin)`: `MyModel.{method}(...)`), not on the mixin"
        )
    return HubMixinTypeError(f"{cls.__qualname__} uses KerasModelHubMixin but is not a keras.Model subclass")


def _numpy(variable: Any) -> np.ndarray[Any, Any]:
    """A variable's value as numpy, in its own dtype (some backends hand bfloat16 over as float32)."""
    dtype = numpy_dtype(dtype_name(variable.dtype))
    value = variable.value
    if str(getattr(value, "dtype", "")).startswith("torch.float8"):  # (torch hands no float8 to numpy: as bytes)
        import torch  # (the PyTorch backend's own: installed)

        return np.asarray(value.detach().cpu().contiguous().view(torch.uint8).numpy()).view(dtype)
    if keras.backend.backend() == "jax":  # (convert_to_numpy copies a CPU buffer, and caches a gathered one)
        from hubmixin_keras._host import to_numpy  # (the backend's own: installed)

        array = to_numpy(value)
    else:
        with warnings.catch_warnings():  # TensorFlow's tensors predate numpy 2's `copy=` protocol: not ours to fix
            warnings.filterwarnings("ignore", "__array__ implementation doesn't accept a copy", DeprecationWarning)
            array = np.asarray(keras.ops.convert_to_numpy(value))
    return array if array.dtype == dtype else array.astype(dtype)


def _read_later(variable: Any) -> bool:
    """Whether ``variable`` holds a JAX array that reading copies to the host (sharded over several devices, or on
    an accelerator): it is read when the writer reaches its layer (:class:`_HostRead`), not all at once."""
    if keras.backend.backend() != "jax":
        return False
    from hubmixin_keras._host import copied_by_read  # (the backend's own: installed)

    return copied_by_read(variable.value)


class _HostRead:
    """A variable's value as written to the file (``_saved``), read by ``save_canonical``'s ``host`` when it writes
    the variable's layer; its ``shape`` and ``dtype`` plan the files before."""

    def __init__(self, layer: keras.Layer, name: str, variable: Any) -> None:
        self.layer, self.name, self.variable = layer, name, variable
        self.shape = tuple(int(d) for d in variable.shape)
        dtype = numpy_dtype(dtype_name(variable.dtype))
        self.dtype = np.dtype(np.int64) if _backend_int(layer, name) and dtype == np.int32 else dtype

    @staticmethod
    def host(value: Any) -> np.ndarray[Any, Any]:
        """``value``, a group's tensor to save: read where it is a :class:`_HostRead`."""
        return _saved(value.layer, value.name, value.variable) if isinstance(value, _HostRead) else value


_INT_WIDTHS = frozenset({"I32", "I64"})
_BACKEND_INTS: tuple[tuple[type[keras.Layer], str], ...] = ((keras.layers.Normalization, "count"),)
"""Keras' own variables declared ``dtype="int"``, which Keras makes int64 on TensorFlow and int32 on the other
backends: written as I64 (PyTorch's width) and loaded from either width, so that the files do not depend on the
backend."""


def _backend_int(layer: keras.Layer, name: str) -> bool:
    return any(isinstance(layer, kind) and name == variable for kind, variable in _BACKEND_INTS)


def _saved(layer: keras.Layer, name: str, variable: Any) -> np.ndarray[Any, Any]:
    """A variable's value as written to the file: one of ``_BACKEND_INTS`` as int64."""
    array = _numpy(variable)
    return array.astype(np.int64) if _backend_int(layer, name) and array.dtype == np.int32 else array


def _expected(group: LayerTensors[Any], name: str, checkpoint: Checkpoint) -> TensorInfo:
    """The shape and dtype variable ``name`` of ``group`` loads in: one of ``_BACKEND_INTS`` takes the file's
    width, I32 or I64 (its values are checked to fit by ``_check_fits``)."""
    info = _info(group.tensors[name])
    if not _backend_int(group.layer, name) or info.dtype not in _INT_WIDTHS:
        return info
    try:
        (local,) = LAYOUTS.find(group.layer).to_canonical(group.layer, group.path, {name: info})
    except Exception:  # an adapter that maps only its whole set of tensors: the variable's own dtype
        return info
    found = checkpoint.infos.get(group.full_name(local))
    return TensorInfo(info.shape, found.dtype) if found is not None and found.dtype in _INT_WIDTHS else info


_NARROWER = {"I64": "I32", "U64": "U32", "F64": "F32"}
"""The 32-bit dtype a 64-bit tensor may be given to: an int32 variable, or a 64-bit one on JAX without x64 (Keras'
default there), which holds 32 bits."""


def _held_dtype(variable: Any) -> str:
    """The dtype ``variable`` holds its values in: on JAX without ``jax_enable_x64`` an ``int64`` (``float64``)
    variable reports its declared dtype but holds int32 (float32)."""
    declared = dtype_name(variable.dtype)
    if declared not in _NARROWER or keras.backend.backend() != "jax":
        return declared
    import jax  # (the backend's own: installed)

    return dtype_name(jax.dtypes.canonicalize_dtype(numpy_dtype(declared)))


def _check_fits(variable: Any, tensor: LazyTensor) -> None:
    """Refuse a 64-bit tensor whose values the 32-bit dtype ``variable`` holds them in cannot represent (an I64
    one in an int32 variable, or in an int64 one on JAX without x64), rather than wrap them around (or, an F64 one
    in a float64 variable JAX holds in 32 bits, make them infinite; a float32 variable's are rounded, as every
    framework's copy does)."""
    held = _held_dtype(variable)
    stored = tensor.checkpoint.infos[tensor.key].dtype if tensor.key is not None else tensor.info.dtype
    if _NARROWER.get(stored) != held:
        return
    if stored.startswith("F") and held == dtype_name(variable.dtype):  # (a float32 variable given float64: rounded,
        return  # as every framework's copy does, infinite beyond float32's range; not read twice to check)
    array = np.asarray(tensor.read_stored() if tensor.key is not None else tensor.read())  # (the stored values)
    if not _exceeds(array, numpy_dtype(held)):
        return
    source = tensor.checkpoint.source(tensor.key) if tensor.key else tensor.checkpoint.description
    detail = f"its values exceed {numpy_dtype(held).name}'s range"
    if held != dtype_name(variable.dtype):
        detail += (
            f": JAX holds this {variable.dtype} variable in {numpy_dtype(held).name}, unless "
            "jax.config.update('jax_enable_x64', True) runs first"
        )
    raise WeightsDtypeError(source, tensor.key or tensor.name, held, stored, detail=detail)


def _exceeds(array: np.ndarray[Any, Any], narrow: np.dtype[Any]) -> bool:
    """Whether a value of ``array`` is out of ``narrow``'s range (a finite one that would become infinite)."""
    if not array.size:
        return False
    if np.issubdtype(narrow, np.integer):
        bounds = np.iinfo(narrow)
        return bool(array.min() < bounds.min or array.max() > bounds.max)
    finite = np.abs(array[np.isfinite(array)])
    return bool(finite.size and finite.max() > np.finfo(narrow).max)


def _layers(
    walked: list[tuple[str, keras.Layer, dict[str, Any]]], *, arrays: bool, held: Collection[str] = ()
) -> list[LayerTensors[Any]]:
    """Each layer of ``walked`` (:func:`layer_variables`' groups) holding variables: as arrays with LoRA updates
    merged (to save, as Keras' ``save_weights`` writes them; a layer holding a JAX array that reading copies, and
    no LoRA, as :class:`_HostRead` values, read as it is written), or the variables themselves without the LoRA factors
    but those of a quantized base that the file (its keys ``held``) holds (to load into); see ``_lora``."""
    found = []
    for path, layer, variables in walked:  # a tied variable in its owner's group only
        if not variables:
            continue
        tensors: dict[str, Any]  # (arrays, _HostRead values, or variables)
        if arrays and any(map(_read_later, variables.values())) and not lora_names(layer, variables, ()):
            tensors = {name: _HostRead(layer, name, v) for name, v in variables.items()}
        elif arrays:
            tensors = merge_lora(layer, {name: _saved(layer, name, v) for name, v in variables.items()})
        else:
            in_file = {name for name in variables if (f"{path}.{name}" if path else name) in held}
            factors = lora_names(layer, variables, in_file)  # a factor's canonical key is its own name
            tensors = {name: v for name, v in variables.items() if name not in factors}
        found.append(LayerTensors(path, layer, tensors))
    return found


_GRAPH_ARGUMENTS = frozenset({"inputs", "outputs", "*args"})
"""The arguments a functional model takes its graph in (``Model(inputs, outputs)``, by name or position)."""


def _refuse_given_graph(model: keras.Layer) -> None:
    """Refuse to save a functional model built from a graph given to it (``FS(inputs=..., outputs=...)``, the
    class adding no ``__init__`` that builds one): config.json cannot hold the graph, so no load could build it."""
    given = sorted(_GRAPH_ARGUMENTS & get_unsaved(model).keys())
    if not isinstance(model, Functional) or not given:
        return
    name = type(model).__qualname__
    raise ConfigError(
        f"{name} is a functional model built from the graph given to it ({', '.join(given)}): config.json holds "
        "only JSON arguments, so from_pretrained could not build it again, and it is not saved. Build the graph "
        f"in {name}.__init__ from such arguments, then pass it on: `def __init__(self, units: int = 2, **kwargs): "
        "inputs = keras.Input((8,)); outputs = keras.layers.Dense(units)(inputs); "
        "super().__init__(inputs=inputs, outputs=outputs, **kwargs)`; or save this model with Keras' own "
        "model.save('model.keras')"
    )


def _warn_unbuilt(model: keras.Layer) -> None:
    """Name the layers that would hold variables but are not built (never called): they are not saved."""
    unbuilt = [path for path, layer in named_layers(model) if not layer.built and _makes_variables(layer)]
    if unbuilt:
        warn_user(
            f"{type(model).__qualname__}: layers {format_names(unbuilt)} are not built (never called), so they hold "
            "no variables and are not saved: from_pretrained(strict=True) will report them missing, or Keras builds "
            "them at their first call with new weights; call the model on an input that reaches them before saving",
            UserWarning,
        )


def _makes_variables(layer: keras.Layer) -> bool:
    """Whether ``layer``, unbuilt, would hold variables once built: as its adapter says (``Dense``), or, where it
    does not say (``Embedding``, ``EinsumDense``, a custom layer), as its own ``build`` suggests: one holding
    sub-layers is named by them instead, and Keras' merge layers (``Add``) make none."""
    keys = shape_keys_of(layer)
    if keys is not None:
        return bool(keys)
    return has_own_build(layer) and not isinstance(layer, Merge) and len(named_layers(layer)) == 1


def _tied_metadata(model: keras.Layer, layers: list[LayerTensors[Any]], ties: list[Tie]) -> dict[str, str]:
    """``{name: kept}`` for the tensors of layers reachable under several paths, each stored once under its first
    path, and for variables held by several layers, each stored once by its owner (``_shared``): recorded as
    PyTorch's tied weights are, so a model that names them by another path loads them too."""
    by_path = {group.path: group for group in layers}
    tied: dict[str, str] = {}
    for tie in ties:
        info = _info(tie.variable)
        try:
            name = LAYOUTS.find(tie.layer).to_canonical(tie.layer, tie.path, {tie.name: info})
            kept = LAYOUTS.find(tie.owner).to_canonical(tie.owner, tie.owner_path, {tie.owner_name: info})
        except Exception:  # an adapter that maps only its whole set of tensors: the tie is not recorded
            continue
        if len(name) == len(kept) == 1 and next(iter(name.values())) == next(iter(kept.values())):
            other = LayerTensors(tie.path, tie.layer, {}).full_name(next(iter(name)))
            tied[other] = LayerTensors(tie.owner_path, tie.owner, {}).full_name(next(iter(kept)))
    for other, first in other_paths(model).items():
        group = by_path.get(first)
        if group is None:  # a layer holding no variables of its own
            continue
        infos = {name: _info(value) for name, value in group.tensors.items()}
        for local in LAYOUTS.find(group.layer).to_canonical(group.layer, first, infos):
            tied[LayerTensors(other, group.layer, {}).full_name(local)] = group.full_name(local)
    return tied


class _CrossLayoutCopies:
    """The variables several layers save, each in its own layout (see ``_shared``): the first copy read is
    loaded; another holding other values (a port holding them apart) is raised (``strict``) or logged."""

    def __init__(self, layers: list[LayerTensors[Any]], owner: str, source: str, *, strict: bool) -> None:
        counts = Counter(id(variable) for group in layers for variable in group.tensors.values())
        self.shared = {key for key, count in counts.items() if count > 1}
        self.read: dict[int, tuple[str, np.ndarray[Any, Any]]] = {}
        self.owner, self.source, self.strict = owner, source, strict

    def first(self, variable: Any, key: str, tensor: LazyTensor) -> bool:
        """Whether to assign ``tensor`` (the checkpoint's ``key``) to ``variable``: it is its first copy."""
        if id(variable) not in self.shared:
            return True
        value = np.asarray(tensor.read())
        if id(variable) not in self.read:
            self.read[id(variable)] = key, value
            return True
        kept, held = self.read[id(variable)]
        if held.shape != value.shape or not np.array_equal(held, value, equal_nan=True):
            report_held_apart(
                self.owner, kept, [key], self.source, strict=self.strict, logger=logger, other_layout=True
            )
        return False


def _value(tensor: LazyTensor) -> Any:
    """A tensor to give a variable: transposed by the backend (multi-threaded), not by numpy, where needed."""
    if tensor.key is None or tensor.to_framework is None:  # (read once: not read_stored() as well)
        # A safetensors file's tensor is read into fresh memory of its own; a reader's (a PyTorch .bin's) may be
        # the tensor it holds, which a tied weight's other variable reads too.
        return _backend_tensor(tensor.read(), fresh=tensor.key is not None and tensor.checkpoint.reader is None)
    stored = tensor.read_stored()
    transposed = keras.ops.transpose(keras.ops.convert_to_tensor(stored), tensor.to_framework)
    contiguous = getattr(transposed, "contiguous", None)  # torch transposes as a view: kernels would differ
    return contiguous() if callable(contiguous) else transposed


_TORCH_NUMPY_KINDS = frozenset("biuf")
"""numpy dtype kinds ``torch.from_numpy`` takes (not ml_dtypes' bfloat16 or float8: Keras converts those)."""


def _backend_tensor(value: np.ndarray[Any, Any], *, fresh: bool = False) -> Any:
    """``value`` as the backend takes it. On PyTorch's, a torch tensor of its own, 64-byte aligned (Keras would copy
    it into numpy's memory, aligned to 16 bytes only, and outputs could then differ): ``value``'s memory where it
    is ``fresh`` (no other array or variable holds it), aligned, writable and not a file's mapping; else a copy."""
    if keras.backend.backend() != "torch":
        return value
    import torch  # (the backend's own: installed)

    if value.dtype.name.startswith("float8") and value.dtype.itemsize == 1:  # (Keras converts no float8 array)
        kind = getattr(torch, value.dtype.name, None)
        if kind is not None:
            return torch.from_numpy(np.ascontiguousarray(value).view(np.uint8).copy()).view(kind)
    if value.dtype.kind not in _TORCH_NUMPY_KINDS or value.dtype.isbuiltin != 1:
        return value

    if fresh and _shareable(value):
        return torch.from_numpy(value)  # no second copy alive while the variable takes it
    return torch.tensor(value)


def _shareable(value: np.ndarray[Any, Any]) -> bool:
    """Whether ``value`` is C-contiguous, writable, 64-byte aligned and no view of a memory-mapped file."""
    if not (value.flags.c_contiguous and value.flags.writeable) or value.ctypes.data % 64:
        return False
    base: Any = value
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap):
            return False
        base = base.base
    return True


def _info(variable: Any) -> TensorInfo:
    return TensorInfo(tuple(int(d) for d in variable.shape), dtype_name(variable.dtype))


def _open(model_id: str, download: DownloadOptions) -> Checkpoint:
    """The checkpoint of ``model_id``; a repository written by Keras' own saving is named as such."""
    try:
        return open_checkpoint(model_id, download)
    except WeightsNotFoundError as missing:
        found = _keras_format(model_id, download)
        if found is None:
            raise
        raise weights_not_found(f"{model_id}: {found}", missing) from missing


def _keras_format(model_id: str, download: DownloadOptions) -> str | None:
    """What ``model_id`` holds that Keras' own saving wrote, and the call that loads it; ``None``: none of it."""
    metadata = locate_file(model_id, _KERAS_HUB_METADATA, download)
    held = "" if metadata is None else metadata.read_text(encoding="utf-8", errors="replace")
    saved_to = model_id if Path(model_id).is_dir() else f"hf://{model_id}"  # as Keras and keras-hub name it
    preset = next((name for version, name in _PRESET_VERSIONS if f'"{version}"' in held), None)
    if preset is not None:
        return (
            f"this is a {preset} preset, not a hubmixin checkpoint: load it with "
            f'keras_hub.models.<Class>.from_preset("{saved_to}")'
            + _PRESET_OLD_CALLS.get(preset, "").format(saved_to=saved_to)
        )
    if locate_file(model_id, _KERAS_FILE, download) is not None:
        return (
            f"holds {_KERAS_FILE}, a Keras model file, not safetensors: load it with "
            f"keras.saving.load_model({_file_of(model_id, _KERAS_FILE, download)})"
        )
    if locate_file(model_id, _KERAS_WEIGHTS, download) is not None:
        if '"keras_version"' in held:  # model.save("hf://...") or model.save(directory, zipped=False)
            return (
                f"holds {_KERAS_WEIGHTS}, {_KERAS_HUB_METADATA} and a config.json written by Keras' own model "
                f'saving, not safetensors: load it with keras.saving.load_model("{saved_to}")'
            )
        return (
            f"holds {_KERAS_WEIGHTS}, written by Keras' own saving, not safetensors: build the model, then "
            f"model.load_weights({_file_of(model_id, _KERAS_WEIGHTS, download)})"
        )
    index = locate_file(model_id, _KERAS_SHARDED, download)
    shards = [] if index is None else keras_shard_names(index)
    if index is not None and shards:
        return f"holds {keras_sharded_steps(index, shards, _sharded_file_of(model_id, download))}"
    if locate_file(model_id, _SAVED_MODEL, download) is not None:
        return (
            f"holds {_SAVED_MODEL}, a TensorFlow SavedModel of Keras 2 (as huggingface_hub's Keras mixin, removed "
            "in huggingface_hub 1.0, pushed them), not safetensors: load it with tf_keras.models.load_model (or, "
            "for inference, keras.layers.TFSMLayer); to convert it, copy its weights into this model, then "
            "save_pretrained"
        )
    return None


def _file_of(model_id: str, filename: str, download: DownloadOptions) -> str:
    """The expression of the local path of ``filename`` of ``model_id`` (a directory, or a repo id at the
    revision ``download`` asks for)."""
    if Path(model_id).is_dir():
        return repr(str(Path(model_id) / filename))
    return f'huggingface_hub.hf_hub_download("{model_id}", "{filename}"{_revision(download)})'


def _sharded_file_of(model_id: str, download: DownloadOptions) -> str:
    """The expression of the local path of ``model_id``'s Keras sharded weights index, its shards beside it."""
    if Path(model_id).is_dir():
        return repr(str(Path(model_id) / _KERAS_SHARDED))
    shards = f"{_KERAS_SHARDED.removesuffix('.weights.json')}_*.weights.h5"
    return (
        f'os.path.join(huggingface_hub.snapshot_download("{model_id}", allow_patterns=["{_KERAS_SHARDED}", '
        f'"{shards}"]{_revision(download)}), "{_KERAS_SHARDED}")'
    )


def _revision(download: DownloadOptions) -> str:
    """The ``revision=`` keyword of a download call, for a revision other than the default branch."""
    return "" if download.revision is None else f", revision={download.revision!r}"


def _keras_config(raw: Mapping[str, Any]) -> bool:
    """Whether ``raw`` (a config.json) is a Keras object's serialization, not a class's arguments."""
    return isinstance(raw.get("class_name"), str) and "module" in raw  # (None for a registered class)


def _one_dtype(dtype: Any, model_kwargs: dict[str, Any]) -> None:
    """``dtype=`` over Keras' own ``dtype`` keyword in ``model_kwargs`` (the caller's, or config.json's: a PyTorch
    port's config may hold one): the model reports the policy its layers are built under, hold and compute in."""
    if dtype is not None and model_kwargs.get("dtype") is not None:
        model_kwargs["dtype"] = dtype


_LAYER_KEYWORDS = frozenset(
    name for name, p in inspect.signature(keras.Layer.__init__).parameters.items() if p.kind is p.KEYWORD_ONLY
) | {"input_shape", "input_dim"}  # (Layer takes these two from its **kwargs, with a warning)
"""The keywords ``keras.Layer.__init__`` takes: a Keras model's ``**kwargs`` reach it."""


class KerasHubMixinBase(ModelHubMixin):
    """Hand-written core of :class:`hubmixin_keras.KerasModelHubMixin`; use that class, not this one."""

    _hub_builds_from_arguments = True  # _from_pretrained calls cls(**model_kwargs): core checks them first
    _hub_mixin_framework = "keras"

    _hub_mixin_config_to_kwargs = False  # a Keras model's **kwargs are Layer's (name, dtype, trainable)
    _hub_mixin_kwargs_names = _LAYER_KEYWORDS

    @classmethod
    def _hub_keras_init_subclass(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        keep_keras_saving(cls)  # keras.saving.load_model rebuilds what from_pretrained built

    if TYPE_CHECKING:  # the class keywords, typed for mypy

        def __init_subclass__(cls, **kwargs: Unpack[ClassKeywords]) -> None: ...

    else:
        __init_subclass__ = _hub_keras_init_subclass

    @classmethod
    def _hub_check_model_class(cls) -> None:
        """Refuse a class that is no ``keras.Layer`` (the mixin itself: it cannot build a model).

        Raises:
            HubMixinTypeError: ``cls`` is not a ``keras.Layer`` subclass.
        """
        if not issubclass(cls, keras.Layer):
            raise _not_keras(cls, "from_pretrained")

    @classmethod
    def _hub_read_config_for(cls, model_id: str, download: DownloadOptions) -> tuple[dict[str, Any], Path] | None:
        """The config of ``model_id``; where Keras' own saving wrote it (no arguments of this class), the weights
        are opened first: without safetensors, the load is refused naming the Keras call that loads it."""
        read = super()._hub_read_config_for(model_id, download)
        if read is not None and _keras_config(read[0]):
            _open(model_id, download)
        return read

    def _hub_write_weights(
        self,
        save_directory: Path,
        *,
        max_shard_size: int | str | None = EXTRAS.defaults["max_shard_size"],
        dtype: DTypeLike | None = EXTRAS.defaults["dtype"],
    ) -> None:
        """Write every variable of the model's layers in the canonical layout (one file, or shards)."""
        _refuse_given_graph(_as_layer(self))
        walked, ties = layer_variables(_as_layer(self))
        layers = _layers(walked, arrays=True)
        unreached = unreached_variables(_as_layer(self))
        raw = torch_tensors(_as_layer(self))
        held = []
        if unreached:
            held.append(
                f"variables {format_names(unreached)} are held by layers hubmixin does not walk ({_NOT_WALKED})"
            )
        if raw:
            held.append(f"torch tensors {format_names(raw)} {_NOT_VARIABLES}")
        if tf_raw := tf_variables(_as_layer(self)):
            held.append(
                f"tf.Variables {format_names(tf_raw)} are set on layers as TensorFlow variables, not Keras variables "
                "(make them with self.add_weight)"
            )
        if held:
            warn_user(f"{type(self).__qualname__}: {'; '.join(held)}: they are not saved", UserWarning)
        if not layers and not unreached and not _as_layer(self).built:
            warn_user(
                f"{type(self).__qualname__} has no variables yet (never called): the checkpoint is empty, and "
                "from_pretrained gives the model new weights; call it once on an input before saving",
                UserWarning,
            )
        else:
            _warn_unbuilt(_as_layer(self))
        adapted = unsaved_state(_as_layer(self))
        if adapted:
            warn_user(
                f"{type(self).__qualname__}: layers {', '.join(adapted)} hold state that is no Keras variable (set "
                "by adapt() or set_vocabulary, or kept by their own save_own_variables): it is not saved, and "
                "from_pretrained builds them from the model's __init__ arguments only, without it. Give it as an "
                "__init__ argument (StringLookup(vocabulary=...), Discretization(bin_boundaries=...)), make it a "
                "Keras variable (self.add_weight), or save the model with Keras' own model.save('model.keras')",
                UserWarning,
            )
        save_canonical(
            layers,
            LAYOUTS,
            save_directory,
            max_shard_size=max_shard_size,
            dtype=file_dtype_name(dtype),
            framework=f"keras-{keras.backend.backend()}",
            host=_HostRead.host,
            metadata={
                **build_metadata(_as_layer(self)),
                **_tied_metadata(_as_layer(self), layers, ties),
                **settings_metadata(model_settings(((g.path, g.layer) for g in layers), _as_layer(self))),
            },
        )

    if TYPE_CHECKING:  # huggingface_hub's signature, so that a library's override written for it type-checks

        def _save_pretrained(self, save_directory: Path) -> None: ...

    else:  # the save extras arrive as keywords: an override forwards them with **kwargs
        _save_pretrained = _hub_write_weights

    @classmethod
    @takes_hub_keywords
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        download: DownloadOptions,
        model_kwargs: dict[str, Any],
        strict: bool = EXTRAS.defaults["strict"],  # the spec's: a changed one reaches an override leaving
        key_mapping: Mapping[str, str] | None = EXTRAS.defaults["key_mapping"],  # them to super()._from_pretrained
        dtype: DTypeLike | None = EXTRAS.defaults["dtype"],
    ) -> Self:
        """Build the model from the checkpoint's shapes with its variables deferred, then give each its value.

        The checkpoint is opened first (a repository without weights fails before the model is built); no
        initialiser runs for a variable the checkpoint holds.

        Also takes huggingface_hub's signature (``revision``, ``token``, ... and the ``__init__`` arguments as
        keywords), so an override written for huggingface_hub forwards to ``super()._from_pretrained`` unchanged.
        """
        if not issubclass(cls, keras.Layer):  # (before the build reads what only a Layer has)
            raise _not_keras(cls, "from_pretrained")
        _one_dtype(dtype, model_kwargs)
        dtype = dtype_policy_name(dtype)  # any Keras dtype policy; variables keep the dtype it gives them
        checkpoint = _open(model_id, download).renamed(key_mapping)
        arguments = ArgumentsAsGiven(model_kwargs, kept=_held_as_given)  # (constructed again if deferring fails)
        with pending_cleared_on_error():
            tied = {name: checkpoint.infos[kept] for name, kept in tied_names(checkpoint).items()}
            model, unbuilt, deferred = construct_deferred(
                lambda: cls(**arguments()),
                {**checkpoint.infos, **tied},  # a tied tensor's dropped name builds its layer too
                dtype,
                source=checkpoint.description,
                built_as=recorded_builds(checkpoint.metadata, checkpoint.description),
            )
            record_dtype_policy(model, dtype)  # for Keras' own saving: load_model builds it under it again
            if strict and unbuilt:  # their shape-giving tensors are missing: they cannot be loaded
                raise unbuilt_error(model, unbuilt, checkpoint.description, checkpoint.infos)
            layer = _as_layer(model)
            checkpoint = checkpoint.renamed(shared_path_renames(layer, checkpoint.infos))
            builders = unbuilt_builders(layer, checkpoint.infos, unbuilt)
            if builders:  # their sub-layers or own variables do not exist: their tensors cannot be loaded
                written_here = checkpoint.metadata.get(FRAMEWORK_KEY, "").startswith("keras")
                error = builders_error(builders, checkpoint.description, strict, written_here=written_here)
                if strict:
                    raise error
                logger.warning("%s", error)
            unreached = unreached_variables(layer) + unreached_layers(layer)
            if unreached:  # no checkpoint can hold them: they keep their initialisation
                detail = f"{cls.__qualname__}: variables held by layers hubmixin does not walk ({_NOT_WALKED})"
                if strict:
                    raise WeightsKeyError(checkpoint.description, missing=unreached, detail=detail)
                logger.warning("%s, not loaded: %s", detail, format_names(unreached))
            layers = _layers(layer_variables(layer)[0], arrays=False, held=checkpoint.infos)
            variables = {group.path: group.tensors for group in layers}
            ours = model_settings(((group.path, group.layer) for group in layers), layer)
            warn_settings(checkpoint.metadata, ours, cls.__qualname__, checkpoint.description, checkpoint.infos)
            infos = [LayerTensors(g.path, g.layer, {n: _expected(g, n, checkpoint) for n in g.tensors}) for g in layers]
            load = load_canonical(infos, checkpoint, LAYOUTS, strict=strict, convert_floating=dtype is not None)
            copies = _CrossLayoutCopies(layers, cls.__qualname__, checkpoint.description, strict=strict)
            for group, tensors in load.lazily():
                for name, tensor in tensors.items():
                    _check_fits(variables[group.path][name], tensor)
                    if copies.first(variables[group.path][name], tensor.key or group.full_name(name), tensor):
                        assign(variables[group.path][name], _value(tensor))
                        deferred.loaded(variables[group.path][name])  # (what __init__ assigned it is not kept)
            initialize_rest(layer, deferred)
            for group in layers:
                reset_lora(group.layer, own_variables(group.layer), group.tensors)
            run_own_loaders(layer)
            register_torch_params(layer)  # (last: a failed load registers nothing)
        for warning in unbuilt_warnings(model, unbuilt, checkpoint.description, checkpoint.infos):
            logger.warning("%s: %s", cls.__qualname__, warning)
        named = unbuilt_held_keys(unbuilt, checkpoint.infos).union(*builders.values())  # (not listed again as unused)
        report = dataclasses.replace(load.report, unexpected=[k for k in load.report.unexpected if k not in named])
        report.log(logger, cls.__qualname__, checkpoint.description)
        return model
