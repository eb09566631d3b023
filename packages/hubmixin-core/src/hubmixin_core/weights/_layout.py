"""Layout adapters: how a framework's layers map their tensors to the canonical (PyTorch) layout and back.

Checkpoints store tensors under PyTorch names and layouts. A framework package keeps one
:class:`LayoutRegistry`, which maps each layer type to a :class:`LayoutAdapter`; the weights layer calls the
adapter of each layer, chosen by the layer's type (never by guessing from names or shapes), when saving and when
loading. An adapter gets the layer and its path, may map several tensors to several (fused projections,
gates), and is run on shapes and dtypes (:class:`~hubmixin_core.weights.TensorInfo`) before any data is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic

from hubmixin_core.errors import HubMixinTypeError, LayoutError
from hubmixin_core.weights.transforms import T, inverse_axes, transpose

__all__ = [
    "IDENTITY",
    "BidirectionalAdapter",
    "ConvAdapter",
    "LayerTensors",
    "LayoutAdapter",
    "LayoutRegistry",
    "MappedAdapter",
    "SubLayerAdapter",
    "TensorRule",
]


@dataclass(frozen=True)
class TensorRule:
    """One framework tensor stored as one canonical tensor, renamed and optionally transposed.

    Args:
        framework: The tensor's name in the layer (``"kernel"``).
        canonical: Its canonical name (``"weight"``).
        axes: The transpose from the framework layout to the canonical one (``(1, 0)`` for a dense kernel
            ``[in, out]`` stored ``[out, in]``); ``None`` keeps the layout.
    """

    framework: str
    canonical: str
    axes: tuple[int, ...] | None = None


class LayoutAdapter:
    """Maps one layer's tensors between its framework's layout and the canonical layout.

    Subclass it for a layer type and implement both directions with the functions of
    :mod:`hubmixin_core.weights.transforms`, so that each runs on arrays and on shapes alike. Names are local
    to the layer (``"kernel"``, ``"weight"``); the weights layer prefixes the layer's path.

    Attributes:
        ignored: Canonical tensor names of the layer that this framework does not hold and drops on load
            without reporting them (``num_batches_tracked`` for a batch norm).
    """

    ignored: tuple[str, ...] = ()

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        """The canonical tensors of ``layer`` (at ``path``) from its framework tensors."""
        raise NotImplementedError

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        """The framework tensors of ``layer`` from its canonical tensors.

        ``tensors`` holds those canonical tensors the checkpoint has; a tensor that cannot be made from them
        is left out of the result (and keeps the model's own value; the load reports the canonical tensors it
        is made from that the checkpoint holds as unused).
        """
        raise NotImplementedError

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        """The rule storing framework tensor ``name`` as one canonical tensor, if it is stored so.

        A tensor with a rule can be read by slices (a device's shard, straight from the file); ``None`` (the
        default) means it is made from several canonical tensors, which are then read whole.
        """
        return None


class _Identity(LayoutAdapter):
    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        return dict(tensors)

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        return dict(tensors)

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        return TensorRule(name, name)


IDENTITY: LayoutAdapter = _Identity()
"""The adapter of layers whose tensors are stored as they are."""


class MappedAdapter(LayoutAdapter):
    """An adapter made of one-to-one :class:`TensorRule` s; tensors without a rule keep their name and layout.

    Examples:
        >>> import numpy as np
        >>> dense = MappedAdapter(TensorRule("kernel", "weight", (1, 0)))
        >>> canonical = dense.to_canonical(None, "head", {"kernel": np.zeros((4, 3)), "bias": np.zeros(3)})
        >>> {name: array.shape for name, array in canonical.items()}
        {'weight': (3, 4), 'bias': (3,)}
        >>> dense.from_canonical(None, "head", canonical)["kernel"].shape
        (4, 3)

    Raises:
        LayoutError: two rules name one framework tensor or one canonical name; a layer's tensor without a rule
            is named like another's canonical name (a subclass's own ``weight`` beside ``kernel``): one tensor
            would be lost on save, and one file tensor loaded into two.
    """

    def __init__(self, *rules: TensorRule, ignored: Sequence[str] = ()) -> None:
        self.rules = rules
        self.ignored = tuple(ignored)
        self._by_framework: dict[str, TensorRule] = {}
        self._by_canonical: dict[str, TensorRule] = {}
        for rule in rules:
            for by, name in ((self._by_framework, rule.framework), (self._by_canonical, rule.canonical)):
                if name in by:
                    raise LayoutError(
                        f"MappedAdapter: the rules {by[name]} and {rule} both map {name!r}: give each framework "
                        "tensor one rule, and each rule its own canonical name"
                    )
                by[name] = rule

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out: dict[str, T] = {}
        source: dict[str, str] = {}
        for name, tensor in tensors.items():
            rule = self._by_framework.get(name)
            canonical = name if rule is None else rule.canonical
            if canonical in source:
                raise LayoutError(collision(source[canonical], name, canonical))
            source[canonical] = name
            out[canonical] = tensor if rule is None or rule.axes is None else transpose(tensor, rule.axes)
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out: dict[str, T] = {}
        source: dict[str, str] = {}
        for name, tensor in tensors.items():
            rule = self._by_canonical.get(name)
            framework = name if rule is None else rule.framework
            if framework in source:
                raise LayoutError(
                    f"the canonical tensors {source[framework]!r} and {name!r} would both load into its tensor "
                    f"{framework!r}"
                )
            source[framework] = name
            out[framework] = tensor if rule is None or rule.axes is None else transpose(tensor, inverse_axes(rule.axes))
        return out

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        return self._by_framework.get(name, TensorRule(name, name))

    def __repr__(self) -> str:
        return f"MappedAdapter{self.rules}"


def collision(first: str, second: str, canonical: str) -> str:
    """Why a layer cannot be saved whose tensors ``first`` and ``second`` its adapter stores under one name."""
    return (
        f"its tensors {first!r} and {second!r} are both stored as {canonical!r}: one would be lost on save, and "
        "the other loaded twice. Rename one of them, or register a layout adapter for the layer's class that "
        "stores each under its own name (the package's LAYOUTS.register(cls, MappedAdapter(TensorRule(...), ...)))"
    )


class SubLayerAdapter(LayoutAdapter):
    """A layer whose tensors are those of one sub-layer (an RNN's ``cell``), mapped by that sub-layer's adapter.

    The layer holds them as ``<attribute>.<name>`` (``cell.kernel``); the checkpoint holds the sub-layer's
    canonical tensors at the layer's own path, as torch's ``nn.LSTM`` holds ``weight_ih_l0``. Tensors of the
    layer outside the sub-layer keep their names.

    Args:
        find: The adapter of a layer (the package's registry's ``find``).
        attribute: The sub-layer's attribute on the layer.
    """

    def __init__(self, find: Callable[[Any], LayoutAdapter], attribute: str = "cell") -> None:
        self.find = find
        self.attribute = attribute

    def _inner(self, layer: Any) -> tuple[Any, LayoutAdapter]:
        inner = getattr(layer, self.attribute)
        return inner, self.find(inner)

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        prefix = f"{self.attribute}."
        below = {name.removeprefix(prefix): x for name, x in tensors.items() if name.startswith(prefix)}
        out = {name: x for name, x in tensors.items() if not name.startswith(prefix)}
        inner, adapter = self._inner(layer)
        return {**out, **adapter.to_canonical(inner, path, below)}

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        inner, adapter = self._inner(layer)
        return {f"{self.attribute}.{name}": x for name, x in adapter.from_canonical(inner, path, tensors).items()}

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        prefix = f"{self.attribute}."
        if not name.startswith(prefix):
            return TensorRule(name, name)
        inner, adapter = self._inner(layer)
        rule = adapter.rule_for(inner, name.removeprefix(prefix))
        return None if rule is None else TensorRule(name, rule.canonical, rule.axes)


class BidirectionalAdapter(LayoutAdapter):
    """A bidirectional RNN as torch's ``nn.LSTM(..., bidirectional=True)``: the forward RNN's tensors as its own
    adapter maps them (``weight_ih_l0``), the backward RNN's with torch's ``_reverse`` suffix
    (``weight_ih_l0_reverse``), both at the layer's path.

    The layer holds them as ``<forward>.<name>`` and ``<backward>.<name>``.

    Args:
        find: The adapter of a layer (the package's registry's ``find``).
        forward: The forward RNN's attribute on the layer.
        backward: The backward RNN's attribute on the layer.
    """

    REVERSE = "_reverse"

    def __init__(self, find: Callable[[Any], LayoutAdapter], forward: str, backward: str) -> None:
        self.find = find
        self.forward = forward
        self.backward = backward

    def _sides(self) -> tuple[tuple[str, str], tuple[str, str]]:
        return (self.forward, ""), (self.backward, self.REVERSE)

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out: dict[str, T] = {}
        for side, suffix in self._sides():
            inner, prefix = getattr(layer, side), f"{side}."
            own = {name.removeprefix(prefix): x for name, x in tensors.items() if name.startswith(prefix)}
            out.update((name + suffix, x) for name, x in self.find(inner).to_canonical(inner, path, own).items())
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out: dict[str, T] = {}
        for side, suffix in self._sides():
            inner = getattr(layer, side)
            if suffix:
                own = {name.removesuffix(suffix): x for name, x in tensors.items() if name.endswith(suffix)}
            else:
                own = {name: x for name, x in tensors.items() if not name.endswith(self.REVERSE)}
            out.update((f"{side}.{name}", x) for name, x in self.find(inner).from_canonical(inner, path, own).items())
        return out

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        side, _, own = name.partition(".")
        inner = getattr(layer, side)
        rule = self.find(inner).rule_for(inner, own)
        suffix = self.REVERSE if side == self.backward else ""
        return None if rule is None else TensorRule(name, rule.canonical + suffix, rule.axes)


class ConvAdapter(LayoutAdapter):
    """A channels-last convolution: kernel ``(*k, in/groups, out)`` stored as ``weight`` ``(out, in/groups, *k)``.

    Any number of spatial dimensions (1-D to 3-D convolutions); other tensors (``bias``) keep their name.

    Examples:
        >>> from hubmixin_core.weights import TensorInfo
        >>> ConvAdapter().to_canonical(None, "conv", {"kernel": TensorInfo((3, 5, 2, 8), "F32")})
        {'weight': TensorInfo(shape=(8, 2, 3, 5), dtype='F32')}
    """

    def __init__(self, framework: str = "kernel", canonical: str = "weight") -> None:
        self.framework, self.canonical = framework, canonical

    @staticmethod
    def axes(ndim: int) -> tuple[int, ...]:
        """The transpose from a channels-last kernel of ``ndim`` dimensions to PyTorch's layout."""
        return (ndim - 1, ndim - 2, *range(ndim - 2))

    def rule_for(self, layer: Any, name: str) -> TensorRule | None:
        if name != self.framework:
            return TensorRule(name, name)
        kernel_size = getattr(layer, "kernel_size", None)
        if isinstance(kernel_size, tuple | list):  # one layer's rank, also when layers are stacked on a new axis
            return TensorRule(name, self.canonical, self.axes(len(kernel_size) + 2))
        kernel = getattr(layer, self.framework, None)
        shape = getattr(kernel, "shape", None)
        if shape is None and kernel is not None and hasattr(kernel, "get_value"):
            shape = kernel.get_value().shape  # an NNX variable
        return None if shape is None else TensorRule(name, self.canonical, self.axes(len(shape)))

    def to_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = dict(tensors)
        if self.framework in out:
            kernel = out.pop(self.framework)
            out[self.canonical] = transpose(kernel, self.axes(len(kernel.shape)))
        return out

    def from_canonical(self, layer: Any, path: str, tensors: Mapping[str, T]) -> dict[str, T]:
        out = dict(tensors)
        if self.canonical in out:
            weight = out.pop(self.canonical)
            out[self.framework] = transpose(weight, inverse_axes(self.axes(len(weight.shape))))
        return out


@dataclass(frozen=True)
class LayerTensors(Generic[T]):
    """The tensors a layer holds directly (not those of its sub-layers), by local name.

    Attributes:
        path: The layer's attribute path in the model (``"encoder.blocks.0.dense"``; ``""`` for the root).
        layer: The layer object: its type chooses the adapter, and the adapter may read its settings.
        tensors: Local name to array (when saving or loading) or to shape and dtype (when planning).
    """

    path: str
    layer: Any
    tensors: dict[str, T]

    def full_name(self, name: str) -> str:
        """The checkpoint key of local tensor ``name``."""
        return f"{self.path}.{name}" if self.path else name


class LayoutRegistry:
    """The layout adapters of one framework package, by layer type.

    Examples:
        >>> class Dense: ...
        >>> registry = LayoutRegistry("example")
        >>> registry.register(Dense, MappedAdapter(TensorRule("kernel", "weight", (1, 0))))
        >>> registry.find(Dense()) is registry.find(type("Sub", (Dense,), {})())
        True
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._adapters: dict[type, LayoutAdapter] = {}

    def register(self, layer_type: type, adapter: LayoutAdapter, *, replace: bool = False) -> None:
        """Use ``adapter`` for layers of ``layer_type`` and of its subclasses (the nearest registered type wins).

        Raises:
            HubMixinTypeError: ``layer_type`` is not a class or ``adapter`` not a :class:`LayoutAdapter` (an
                instance or a name would never be found; a function would fail only at the first save).
            LayoutError: another adapter is already registered for ``layer_type`` and ``replace`` is false.
        """
        if not isinstance(layer_type, type):
            raise HubMixinTypeError(
                f"{self.name}: register() takes a layer class, got {_given(layer_type)} (the adapter is chosen by "
                "the class of each layer)"
            )
        if not isinstance(adapter, LayoutAdapter):
            raise HubMixinTypeError(
                f"{self.name}: the adapter for {layer_type.__qualname__} must be a LayoutAdapter instance "
                f"(MappedAdapter(...), or of a subclass of LayoutAdapter), got {_given(adapter)}"
            )
        current = self._adapters.get(layer_type)
        if current is not None and current is not adapter and not replace:
            raise LayoutError(
                f"{self.name}: {layer_type.__qualname__} already has the layout adapter {current!r}; "
                "pass replace=True to replace it"
            )
        self._adapters[layer_type] = adapter

    def items(self) -> list[tuple[type, LayoutAdapter]]:
        """Every registered layer type with its adapter, in the order they were registered."""
        return list(self._adapters.items())

    def __len__(self) -> int:
        return len(self._adapters)

    def find(self, layer: object) -> LayoutAdapter:
        """The adapter registered for the nearest class in ``type(layer).__mro__``, else :data:`IDENTITY`."""
        for cls in type(layer).__mro__:
            adapter = self._adapters.get(cls)
            if adapter is not None:
                return adapter
        return IDENTITY

    def to_canonical(self, layers: Iterable[LayerTensors[T]]) -> dict[str, T]:
        """Every layer's tensors in the canonical layout, by checkpoint key.

        Raises:
            LayoutError: two layers produce the same key.
        """
        out: dict[str, T] = {}
        for group in layers:
            adapter = self.find(group.layer)
            try:
                canonical = adapter.to_canonical(group.layer, group.path, group.tensors)
            except LayoutError as error:
                raise LayoutError(f"{self.where(group)}: {error}") from None
            for name, tensor in canonical.items():
                key = group.full_name(name)
                if key in out:
                    raise LayoutError(f"{self.name}: two layers write the tensor {key!r}")
                out[key] = tensor
        return out

    def where(self, group: LayerTensors[Any]) -> str:
        """The registry's name, ``group``'s layer path and type, as a layout error names them."""
        return f"{self.name}: layer {group.path or '(the model)'!r} ({type(group.layer).__name__})"

    def from_canonical(self, group: LayerTensors[Any], canonical: Mapping[str, T]) -> dict[str, T]:
        """One layer's framework tensors (local names) from its canonical tensors (local names)."""
        return self.find(group.layer).from_canonical(group.layer, group.path, canonical)

    def __repr__(self) -> str:
        return f"LayoutRegistry({self.name!r}, {len(self._adapters)} adapters)"


def _given(value: object) -> str:
    """``value`` as an error names what was given: its repr and, for an instance, its type."""
    return repr(value) if isinstance(value, type) else f"{value!r} ({type(value).__qualname__})"
