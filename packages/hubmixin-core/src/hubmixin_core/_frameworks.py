"""Which framework a model class is built on, told by the names of its bases (no framework is imported): a
framework package's mixin on another framework's module is refused when the class is defined."""

from __future__ import annotations

from typing import NamedTuple

from hubmixin_core.errors import HubMixinTypeError

__all__ = ["check_framework_base"]


class _Framework(NamedTuple):
    module: str
    """Where the framework's model base class is defined, and its name."""
    name: str
    public: str
    """How users spell that base class."""
    mixin: str


_FRAMEWORKS = {
    "torch": _Framework("torch.nn.modules.module", "Module", "torch.nn.Module", "hubmixin_torch.PyTorchModelHubMixin"),
    "flax": _Framework("flax.nnx.module", "Module", "flax.nnx.Module", "hubmixin_flax.FlaxModelHubMixin"),
    "keras": _Framework("keras.src.layers.layer", "Layer", "keras.Model", "hubmixin_keras.KerasModelHubMixin"),
}


def _frameworks_of(cls: type) -> list[str]:
    """The frameworks whose model base class ``cls`` derives from, nearest first (Keras on PyTorch: both)."""
    by_base = {(fw.module, fw.name): name for name, fw in _FRAMEWORKS.items()}
    return [by_base[key] for base in cls.__mro__ if (key := (base.__module__, base.__qualname__)) in by_base]


def check_framework_base(cls: type, framework: str | None) -> None:
    """Refuse ``cls``, using the mixin of ``framework``, where it derives from another framework's model class and
    not from its own (``class Net(nn.Module, FlaxModelHubMixin)``). A class deriving from none (a library's own
    intermediate mixin) is accepted: the model classes deriving from it are checked in turn.

    Raises:
        HubMixinTypeError: naming the framework found and the mixin to use.
    """
    found = _frameworks_of(cls)
    if framework is None or framework not in _FRAMEWORKS or not found or framework in found:
        return
    own, other = _FRAMEWORKS[framework], _FRAMEWORKS[found[0]]
    mixin = other.mixin.rpartition(".")[2]
    raise HubMixinTypeError(
        f"{cls.__qualname__} is a {other.public} subclass, but {own.mixin.rpartition('.')[2]} is for "
        f"{own.public} subclasses: use {other.mixin} (class {cls.__name__}({other.public}, {mixin}))"
    )
