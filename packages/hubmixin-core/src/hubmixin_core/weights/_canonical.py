"""Saving and loading a framework's layers in the canonical layout: the neutral half of every framework package.

A framework package lists its model's layers as :class:`~hubmixin_core.weights.LayerTensors` (numpy arrays to
save; shapes and target dtypes to load) and keeps only what is its own: walking its models, construction
without initialisation, and turning numpy arrays into its arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hubmixin_core.errors import HubMixinTypeError, LayoutError, WeightsError
from hubmixin_core.weights._checkpoint import Checkpoint
from hubmixin_core.weights._dtypes import converted_by_dtype, dtype_name, is_floating, numpy_dtype
from hubmixin_core.weights._header import TensorInfo
from hubmixin_core.weights._layout import LayerTensors, LayoutAdapter, LayoutRegistry, collision
from hubmixin_core.weights._metadata import CANONICAL_METADATA, FRAMEWORK_KEY
from hubmixin_core.weights._read import Index
from hubmixin_core.weights._report import MIXIN_CONVERT_HINT, LoadReport, check_checkpoint
from hubmixin_core.weights._settings import settings_metadata
from hubmixin_core.weights._write import write_safetensors
from hubmixin_core.weights.transforms import inverse_axes, transpose

__all__ = ["CanonicalLoad", "LazyTensor", "load_canonical", "save_canonical"]

Array = NDArray[Any]


def _dtype_name(group: LayerTensors[Any], name: str, array: Any) -> str:
    try:
        return dtype_name(array.dtype)
    except KeyError:
        raise WeightsError(
            f"variable {group.full_name(name)!r} has dtype {array.dtype}, which hubmixin does not store"
        ) from None


def save_canonical(
    layers: Iterable[LayerTensors[Array]],
    registry: LayoutRegistry,
    directory: str | Path,
    *,
    max_shard_size: int | str | None = None,
    dtype: str | None = None,
    metadata: Mapping[str, str] | None = None,
    framework: str | None = None,
    settings: Callable[[Any], Mapping[str, Any]] | None = None,
    host: Callable[[Any], Array] | None = None,
) -> list[str]:
    """Write layers' numpy tensors in the canonical layout: ``model.safetensors``, or shards plus the index.

    The layout is planned from shapes first; each layer is then converted (transposed, cast) only when its
    tensors are written, so saving costs about one layer of memory beyond the model. Tensors are laid out
    64-byte aligned (see :func:`write_safetensors`).

    Args:
        layers: Each layer's own tensors, as numpy arrays.
        registry: The framework's layout adapters.
        directory: An existing, empty directory.
        max_shard_size: Largest file, in bytes or as ``"5GB"``; ``None`` writes one file.
        dtype: Safetensors name of a floating dtype (``"BF16"``) to save floating tensors as; ``None`` keeps each.
        metadata: Header metadata added to :data:`CANONICAL_METADATA`.
        framework: Recorded as the framework that wrote the files (:data:`FRAMEWORK_KEY`).
        settings: Each layer's settings that change results (see :func:`warn_settings`), recorded.
        host: Reads one of the layers' values into a numpy array when its layer is written: the layers may then
            hold any values with a ``shape`` and a ``dtype`` (device arrays), and only one layer's are on the host
            at a time. ``None``: the layers hold numpy arrays.

    Returns:
        The names of the files written, index last.

    Raises:
        LayoutError: two layers write the same key, or an adapter's arrays disagree with its shapes.
        WeightsError: a variable's dtype is one hubmixin does not store (named; nothing is written).
    """
    if dtype is not None and not is_floating(dtype):
        raise HubMixinTypeError(f"dtype must name a floating dtype (F16, BF16, F32, ...), got {dtype!r}")
    groups = list(layers)

    def saved_as(info: TensorInfo) -> TensorInfo:
        return TensorInfo(info.shape, dtype) if dtype is not None and converted_by_dtype(info.dtype) else info

    plan: dict[str, TensorInfo] = {}
    owner: dict[str, tuple[int, str]] = {}
    for index, group in enumerate(groups):
        infos = {name: TensorInfo(tuple(a.shape), _dtype_name(group, name, a)) for name, a in group.tensors.items()}
        for local, info in _planned_layer(registry, group, infos).items():
            key = group.full_name(local)
            if key in plan:
                raise LayoutError(f"{registry.name}: two layers write the tensor {key!r}")
            plan[key], owner[key] = saved_as(info), (index, local)

    converted: dict[int, dict[str, Array]] = {}  # layers converted and not yet fully written

    def data(key: str) -> Array:
        index, local = owner[key]
        if index not in converted:
            group = groups[index]
            tensors = group.tensors if host is None else {name: host(a) for name, a in group.tensors.items()}
            converted[index] = registry.find(group.layer).to_canonical(group.layer, group.path, tensors)
        array = converted[index].pop(local)
        if not converted[index]:
            del converted[index]
        info = plan[key]
        if tuple(array.shape) != info.shape:
            raise LayoutError(f"{key}: the layout adapter made shape {tuple(array.shape)}, planned {info.shape}")
        array = np.require(array, dtype=numpy_dtype(info.dtype), requirements="C")
        return array.reshape(-1).view(np.uint8)

    header = {**CANONICAL_METADATA, **(metadata or {})}
    if framework is not None:
        header[FRAMEWORK_KEY] = framework
    if settings is not None:
        header.update(settings_metadata({group.path: settings(group.layer) for group in groups}))
    return write_safetensors(directory, plan, data, max_shard_size=max_shard_size, metadata=header)


def _planned_layer(
    registry: LayoutRegistry, group: LayerTensors[Any], infos: Mapping[str, TensorInfo]
) -> dict[str, TensorInfo]:
    """The canonical tensors of one layer, checked to map back to the layer's own shapes (a file that saves but
    cannot load, as for a layer stacked by ``nnx.vmap`` whose tensors carry an extra axis, is refused here).

    Raises:
        LayoutError: naming the layer, its type and the adapter's complaint or the shapes that do not map back.
    """
    where = registry.where(group)
    canonical, back = _round_trip(registry, group, infos)
    changed = sorted(n for n, info in infos.items() if n in back and tuple(back[n].shape) != tuple(info.shape))
    if changed:
        shapes = ", ".join(f"{n} {tuple(infos[n].shape)} -> {tuple(back[n].shape)}" for n in changed)
        raise LayoutError(
            f"{where}: its tensors do not map to the canonical layout and back ({shapes}); a layer "
            "stacked by a transform (nnx.vmap, scan) is not supported"
        )
    return canonical


def _round_trip(
    registry: LayoutRegistry, group: LayerTensors[Any], infos: Mapping[str, TensorInfo]
) -> tuple[dict[str, TensorInfo], dict[str, TensorInfo]]:
    """A layer's canonical tensors, and the framework tensors made back from them, each of the layer's included.

    Raises:
        LayoutError: the adapter's complaint, or two tensors of the layer stored under one canonical name (one
            would not come back): named with the layer.
    """
    adapter = registry.find(group.layer)
    try:
        canonical = adapter.to_canonical(group.layer, group.path, infos)
        back = adapter.from_canonical(group.layer, group.path, canonical)
    except LayoutError as error:
        raise LayoutError(f"{registry.where(group)}: {error}") from None
    lost = [name for name in infos if name not in back]  # (an adapter may give some back by other names: a cell's)
    if lost and (clash := _collision(adapter, group, infos, lost)) is not None:
        raise LayoutError(f"{registry.where(group)}: {clash}")
    return canonical, back


def _collision(
    adapter: LayoutAdapter, group: LayerTensors[Any], infos: Mapping[str, TensorInfo], lost: list[str]
) -> str | None:
    """Why tensors ``lost`` of a layer do not come back from its canonical tensors, where two of its tensors are
    stored under one name (each maps alone to that canonical tensor: a rename, a transpose); ``None`` where none
    is (an adapter giving a tensor back under another name, as an RNN's gives its cell's)."""

    def alone(name: str) -> str | None:
        try:
            made = adapter.to_canonical(group.layer, group.path, {name: infos[name]})
        except Exception:  # (an adapter that needs its tensors together: not one of a pair told apart here)
            return None
        return next(iter(made)) if len(made) == 1 else None

    stored = {name: alone(name) for name in infos}
    for name in lost:
        partner = next((n for n in infos if n != name and stored[n] is not None and stored[n] == stored[name]), None)
        if partner is not None:
            first, second = sorted((name, partner))
            return collision(first, second, str(stored[name]))
    return None


@dataclass(frozen=True)
class _Planned:
    group: LayerTensors[TensorInfo]
    keys: dict[str, str]  # canonical local name -> checkpoint key


@dataclass(frozen=True)
class CanonicalLoad:
    """A load checked against the checkpoint's headers; iterate it to read each layer's tensors.

    Attributes:
        report: The model tensors the checkpoint lacks and the checkpoint tensors the model does not use, by
            checkpoint key (with those that go only into a framework tensor the checkpoint lacks another part of).
    """

    report: LoadReport
    checkpoint: Checkpoint
    registry: LayoutRegistry
    planned: Sequence[_Planned] = field(repr=False)

    def __iter__(self) -> Iterator[tuple[LayerTensors[TensorInfo], dict[str, Array]]]:
        """Each layer with its framework tensors read from the checkpoint (local names, the model's dtypes).

        Tensors are read one layer at a time, so the caller can place each layer before the next is read.
        """
        for plan in self.planned:
            present = {local: key for local, key in plan.keys.items() if key in self.checkpoint.infos}
            if not present:
                continue
            read = self.checkpoint.read(list(present.values()))
            canonical = {local: read[key] for local, key in present.items()}
            tensors = self.registry.from_canonical(plan.group, canonical)
            yield plan.group, {name: _fit(plan.group, name, array) for name, array in tensors.items()}

    def lazily(self) -> Iterator[tuple[LayerTensors[TensorInfo], dict[str, LazyTensor]]]:
        """Each layer with its loadable framework tensors, not read yet: read each whole or by slices.

        A tensor its adapter stores as one canonical tensor (see :meth:`LayoutAdapter.rule_for`) is read by
        slice straight from the file; one made from several canonical tensors is made whole once, then sliced.
        """
        for plan in self.planned:
            present = {local: key for local, key in plan.keys.items() if key in self.checkpoint.infos}
            if not present:
                continue
            adapter = self.registry.find(plan.group.layer)
            whole = _WholeLayer(self, plan, present)
            lazy: dict[str, LazyTensor] = {}
            for name, info in plan.group.tensors.items():
                rule = adapter.rule_for(plan.group.layer, name)
                if rule is not None and rule.axes is not None and len(rule.axes) != len(info.shape):
                    rule = None  # the adapter saw another rank (a stacked layer's variable): made whole instead
                key = None if rule is None else present.get(rule.canonical)
                if rule is not None and key is not None:
                    lazy[name] = LazyTensor(name, info, self.checkpoint, key, rule.axes, None)
                elif whole.provides(name):
                    lazy[name] = LazyTensor(name, info, self.checkpoint, None, None, whole)
            yield plan.group, lazy


class _WholeLayer:
    """A layer's framework tensors made from its canonical ones on first use (for fused or split layouts)."""

    def __init__(self, load: CanonicalLoad, plan: _Planned, present: dict[str, str]) -> None:
        self._load, self._plan, self._present = load, plan, present
        self._tensors: dict[str, Array] | None = None

    def provides(self, name: str) -> bool:
        infos = {local: self._load.checkpoint.infos[key] for local, key in self._present.items()}
        return name in self._load.registry.from_canonical(self._plan.group, infos)

    def get(self, name: str) -> Array:
        if self._tensors is None:
            read = self._load.checkpoint.read(list(self._present.values()))
            canonical = {local: read[key] for local, key in self._present.items()}
            self._tensors = self._load.registry.from_canonical(self._plan.group, canonical)
        return _fit(self._plan.group, name, self._tensors[name])


@dataclass(frozen=True)
class LazyTensor:
    """One framework tensor of a checkpoint, not read yet.

    Attributes:
        name: Its local name in the layer.
        info: Its shape in the framework's layout and the dtype it is loaded in.
    """

    name: str
    info: TensorInfo
    checkpoint: Checkpoint = field(repr=False)
    key: str | None = field(repr=False)
    axes: tuple[int, ...] | None = field(repr=False)
    whole: _WholeLayer | None = field(repr=False)

    def read(self) -> Array:
        """The whole tensor, in the framework's layout and the model's dtype."""
        return self.read_slice(tuple(slice(None) for _ in self.info.shape))

    @property
    def to_framework(self) -> tuple[int, ...] | None:
        """The transpose from the stored (canonical) layout to the framework's, for :meth:`read_stored`."""
        return None if self.axes is None else inverse_axes(self.axes)

    def read_stored(self) -> Array | None:
        """The tensor as the file stores it (canonical layout and dtype, 64-byte aligned), or ``None``.

        For frameworks that transpose and cast faster themselves (on their devices): apply
        :attr:`to_framework`, then cast to ``info.dtype``. ``None`` for a tensor made from several stored ones.
        """
        if self.key is None:
            return None
        return self.checkpoint.read([self.key])[self.key]  # type: ignore[no-any-return]

    def read_slice(self, index: Index) -> Array:
        """``tensor[index]`` (contiguous slices, framework layout): only the slice is read from the file."""
        if self.key is None:
            assert self.whole is not None
            return self.whole.get(self.name)[index]
        if self.axes is None:
            return self._cast(self.checkpoint.read_slice(self.key, index))
        canonical = tuple(index[axis] for axis in self.axes)
        return self._cast(transpose(self.checkpoint.read_slice(self.key, canonical), inverse_axes(self.axes)))

    def _cast(self, array: Array) -> Array:
        dtype = numpy_dtype(self.info.dtype)
        return array if array.dtype == dtype else array.astype(dtype)


def _fit(group: LayerTensors[TensorInfo], name: str, array: Array) -> Array:
    """``array`` in the dtype the model expects for tensor ``name``, after checking its shape."""
    info = group.tensors.get(name)
    if info is None:
        raise LayoutError(f"{group.full_name(name)}: the layout adapter made a tensor the layer does not have")
    if tuple(array.shape) != info.shape:
        raise LayoutError(
            f"{group.full_name(name)}: the layout adapter made shape {tuple(array.shape)}, the layer has {info.shape}"
        )
    dtype = numpy_dtype(info.dtype)
    return array if array.dtype == dtype else array.astype(dtype)


def load_canonical(
    layers: Sequence[LayerTensors[TensorInfo]],
    checkpoint: Checkpoint,
    registry: LayoutRegistry,
    *,
    strict: bool,
    convert_floating: bool = False,
    convert_hint: str | None = MIXIN_CONVERT_HINT,
) -> CanonicalLoad:
    """Plan loading ``checkpoint`` into layers: map their shapes to canonical keys, check them, report.

    Nothing is read here: shape, dtype and key mismatches are raised (or reported) from the headers alone.

    Args:
        layers: Each layer's own tensors: local name to the shape and the dtype it is loaded in.
        checkpoint: The opened checkpoint.
        registry: The framework's layout adapters.
        strict: Whether the checkpoint must match the model exactly (see :func:`check_checkpoint`).
        convert_floating: Whether floating tensors are converted to another dtype on purpose.
        convert_hint: How the user asks for that, as :func:`check_checkpoint` takes it (by default the framework
            mixins' ``dtype=``/``strict=False``; ``None`` for a loader of one's own that offers neither).

    Raises:
        WeightsShapeError, WeightsDtypeError, WeightsKeyError: as :func:`check_checkpoint` raises them.
        LayoutError: two layers map to one key, or two tensors of a layer to one (see
            :class:`~hubmixin_core.weights.MappedAdapter`).
    """
    expected: dict[str, TensorInfo] = {}
    ignored: set[str] = set()
    planned: list[_Planned] = []
    for group in layers:
        adapter = registry.find(group.layer)
        keys: dict[str, str] = {}
        canonical, _ = _round_trip(registry, group, group.tensors)
        for local, info in canonical.items():
            key = group.full_name(local)
            if key in expected:
                raise LayoutError(f"{registry.name}: two layers read the tensor {key!r}")
            expected[key], keys[local] = info, key
        ignored.update(group.full_name(name) for name in adapter.ignored)
        planned.append(_Planned(group, keys))
    tied = tied_names(checkpoint, expected)
    checkpoint = checkpoint.aliased(tied)
    ignored.update(kept for name, kept in tied.items() if kept not in expected)  # read under the tied name
    report = check_checkpoint(
        expected,
        checkpoint,
        strict=strict,
        convert_floating=convert_floating,
        ignore_unexpected=ignored,
        convert_hint=convert_hint,
    )
    if report.missing:  # (never with strict: missing keys raised)
        unused = _unused_parts(planned, expected, checkpoint.infos, registry)
        if unused:
            report = LoadReport(report.missing, sorted({*report.unexpected, *unused})).knowing_loaded(report.loaded)
    return CanonicalLoad(report, checkpoint, registry, planned)


def _unused_parts(
    planned: Sequence[_Planned],
    expected: Mapping[str, TensorInfo],
    found: Mapping[str, TensorInfo],
    registry: LayoutRegistry,
) -> list[str]:
    """The checkpoint keys that go only into framework tensors the checkpoint cannot make, for lack of another
    part (torch's ``bias_ih_l0`` of an LSTM whose fused gate bias also needs the missing ``bias_hh_l0``): they are
    not loaded, so they are reported unused beside the missing part, not silently dropped.

    Run on the headers: a key is a part of a framework tensor if the layer's adapter cannot make that tensor
    without it (from the model's canonical tensors less that key; an adapter that raises there cannot make any).
    A scan only: where the adapter raises on what the model or the checkpoint holds, nothing is reported, and the
    load goes on as it would without it.
    """
    unused: list[str] = []
    for plan in planned:
        present = [local for local, key in plan.keys.items() if key in found]
        if not present or len(present) == len(plan.keys):
            continue
        full = {local: expected[key] for local, key in plan.keys.items()}
        everything = _made(registry, plan.group, full, full)
        loaded = _made(registry, plan.group, full, present)
        if everything is None or loaded is None or not (not_made := everything - loaded):
            continue
        for local in present:
            without = _made(registry, plan.group, full, [name for name in full if name != local])
            needed_by = everything - (without or set())
            if needed_by and needed_by <= not_made:
                unused.append(plan.keys[local])
    return unused


def _made(
    registry: LayoutRegistry, group: LayerTensors[TensorInfo], infos: Mapping[str, TensorInfo], names: Iterable[str]
) -> set[str] | None:
    """The framework tensors of ``group`` its adapter makes from the canonical tensors ``names`` (of ``infos``);
    ``None`` where it raises (a user's adapter reading ``tensors["weight"]`` unconditionally)."""
    try:
        return set(registry.from_canonical(group, {name: infos[name] for name in names}))
    except Exception:  # (any adapter's error: this is a diagnostic scan, never a reason for a load to fail)
        return None


def tied_names(checkpoint: Checkpoint, expected: Mapping[str, TensorInfo] | None = None) -> dict[str, str]:
    """``{name: kept}`` of the tensors (of ``expected``, if given) that ``checkpoint`` stores once under another
    name, as its metadata records (safetensors' ``save_model`` and hubmixin-torch drop a tied tensor's second name
    and record ``{dropped: kept}``): a model holding the two apart (a Flax or Keras port of a tied PyTorch model)
    reads both."""
    infos = checkpoint.infos
    return {
        name: kept
        for name, kept in checkpoint.metadata.items()
        if name not in infos
        and kept in infos
        and (expected is None or (name in expected and infos[kept].shape == expected[name].shape))
    }
