"""The hand-written torch side of ``PyTorchModelHubMixin``: ``_save_pretrained`` and ``_from_pretrained``.

The public methods are generated (``_generated/_methods.py``) and reach these through ``hubmixin_core``.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import torch

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core._fresh import ArgumentsAsGiven
from hubmixin_core._override import takes_hub_keywords
from hubmixin_core.errors import DeviceError, HubMixinTypeError
from hubmixin_core.weights import Checkpoint, WeightFiles
from hubmixin_torch._checkpoint import locate_torch_weights, open_torch_file, open_torch_weights
from hubmixin_torch._construct import construct_without_weights, parameters_as_given, rng_state, set_rng_state
from hubmixin_torch._dtypes import DTYPE_CODERS, check_dtype_argument
from hubmixin_torch._extras import EXTRAS
from hubmixin_torch._load import load_checkpoint, named_as_model, named_tensors
from hubmixin_torch._load_as_torch import (
    check_before_building,
    customised_class,
    customised_loading,
    load_like_torch,
)
from hubmixin_torch._save import save_module

logger = logging.getLogger("hubmixin_torch")

__all__ = ["TorchHubMixinBase"]

_Model = TypeVar("_Model")
_HubModel = TypeVar("_HubModel", bound=ModelHubMixin)
"""huggingface_hub's ``T`` of the loading hooks, so that an override copied from its declaration type-checks."""

_WRAPPERS = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
"""Wrappers whose weights are those of the module they wrap (``.module``): saved and loaded under its names."""


def _as_module(obj: object) -> torch.nn.Module:
    if not isinstance(obj, torch.nn.Module):
        raise HubMixinTypeError(
            f"{type(obj).__qualname__} uses PyTorchModelHubMixin but is not a torch.nn.Module subclass"
        )
    return obj


def _as_device(map_location: str | torch.device | None) -> torch.device:
    if map_location is None:  # wrappers pass None for "no preference": huggingface_hub's mixin loads on the CPU
        return torch.device("cpu")
    try:
        device = torch.device(map_location)
    except (RuntimeError, TypeError) as e:
        raise DeviceError(f"map_location={map_location!r} is not a torch device: {e}") from e
    if device.type == "cpu":
        return torch.device("cpu")  # "cpu:0" is the CPU, which torch.load only knows by that name
    # (checked here: safetensors and torch.load would fail deep inside, untyped)
    if (reason := _unusable(device)) is not None:
        raise DeviceError(f"map_location={map_location!r}: {reason}")
    return device


def _unusable(device: torch.device) -> str | None:
    """Why this torch build and machine cannot put tensors on ``device``; ``None`` where they can."""
    if device.type in ("cpu", "meta"):
        return None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "CUDA is not available on this machine"
        if device.index is not None and device.index >= torch.cuda.device_count():
            return f"this machine has {torch.cuda.device_count()} CUDA device(s)"
        return None
    try:  # mps, xpu, ...: torch says whether this build and machine have it
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as e:
        reason = (str(e).splitlines() or [""])[0][:200]  # torch's full message lists every backend it has
        return f"not available in this torch build or machine ({reason})"
    return None


def _check_device_arguments(cls: type, model_kwargs: Mapping[str, Any]) -> None:
    """Refuse a ``torch.device`` argument this machine cannot build on (a model saved on a GPU, loaded on a laptop)
    before ``__init__`` fails on it with torch's bare error.

    Raises:
        DeviceError: naming the argument (config.json's key) and the ``model_kwargs`` to load with instead.
    """
    for key, value in model_kwargs.items():
        if isinstance(value, torch.device) and (reason := _unusable(value)) is not None:
            raise DeviceError(
                f"{cls.__qualname__}: argument {key!r} is {str(value)!r} (config.json: key {key!r}, unless given at "
                f"load), which this machine cannot build on: {reason}. Give the device to build on at load: "
                f"{cls.__qualname__}.from_pretrained(..., model_kwargs={{{key!r}: 'cpu'}})"
            )


def _held_as_given(value: object) -> bool:
    """Arguments a construction holds, never copies of them: modules and tensors (a backbone, an embedding)."""
    return isinstance(value, torch.nn.Module | torch.Tensor)


def _holds_module(value: object, seen: set[int]) -> bool:
    """Whether ``value`` is a module, or a dict, list, tuple or dataclass instance holding one, or an object with one
    among its attributes (a ``SimpleNamespace``, a config object)."""
    if isinstance(value, torch.nn.Module):
        return True
    if id(value) in seen or len(seen) > 10_000:  # (a value holding itself; a huge one: not walked further)
        return False
    seen.add(id(value))
    if type(value) is dict:
        return any(_holds_module(item, seen) for item in list(value.values()))
    if type(value) is list or type(value) is tuple:
        return any(_holds_module(item, seen) for item in list(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_holds_module(getattr(value, f.name, None), seen) for f in dataclasses.fields(value))
    return any(isinstance(item, torch.nn.Module) for item in getattr(value, "__dict__", {}).values())


def _tie_weights(model: object, target: object) -> None:
    """Call the model's ``tie_weights()`` (else that of ``target``, the module a wrapper loads into) where it takes
    no arguments: transformers' ties, made outside ``__init__``, before the weights load."""
    tie_weights = getattr(model, "tie_weights", getattr(target, "tie_weights", None))
    if callable(tie_weights) and _takes_no_arguments(tie_weights):
        tie_weights()


def _takes_no_arguments(method: Callable[..., object]) -> bool:
    """Whether ``method`` can be called without arguments (a ``tie_weights`` of another meaning is left alone)."""
    try:
        inspect.signature(method).bind()
    except (TypeError, ValueError):
        return False
    return True


class TorchHubMixinBase(ModelHubMixin, coders=DTYPE_CODERS):
    """Hand-written core of :class:`hubmixin_torch.PyTorchModelHubMixin`; use that class, not this one."""

    _hub_builds_from_arguments = True  # _from_pretrained calls cls(**model_kwargs): core checks them first
    _hub_mixin_framework = "torch"

    def _hub_write_weights(
        self,
        save_directory: Path,
        *,
        max_shard_size: int | str | None = EXTRAS.defaults["max_shard_size"],
        dtype: torch.dtype | None = EXTRAS.defaults["dtype"],
    ) -> None:
        """Write the module's weights as safetensors: one ``model.safetensors``, or shards and their index."""
        module = _as_module(self)
        if isinstance(module, _WRAPPERS):
            module = module.module  # as huggingface_hub does: save the wrapped model's names
        save_module(module, save_directory, max_shard_size=max_shard_size, dtype=dtype)

    if TYPE_CHECKING:  # huggingface_hub's signature, so that a library's override written for it type-checks

        def _save_pretrained(self, save_directory: Path) -> None: ...

    else:  # the save extras arrive as keywords: an override forwards them with **kwargs
        _save_pretrained = _hub_write_weights

    @classmethod
    def _hub_check_model_class(cls) -> None:
        """Refuse a class that is no ``torch.nn.Module`` (the mixin itself: it cannot build a model).

        Raises:
            HubMixinTypeError: ``cls`` is not a ``torch.nn.Module`` subclass.
        """
        if not issubclass(cls, torch.nn.Module):
            raise HubMixinTypeError(
                f"{cls.__qualname__}.from_pretrained: {cls.__qualname__} is not a torch.nn.Module subclass. Call "
                "from_pretrained on your model class, declared as class Net(nn.Module, PyTorchModelHubMixin), not on "
                "the mixin"
            )

    @classmethod
    @takes_hub_keywords
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        download: DownloadOptions,
        model_kwargs: dict[str, Any],
        map_location: str | torch.device | None = EXTRAS.defaults["map_location"],  # the spec's: a changed one reaches
        strict: bool = EXTRAS.defaults["strict"],  # an override leaving them to super()._from_pretrained(**kwargs)
        key_mapping: Mapping[str, str] | None = EXTRAS.defaults["key_mapping"],
        dtype: torch.dtype | None = EXTRAS.defaults["dtype"],
    ) -> Self:
        """Build the model without initialising its parameters, then assign the checkpoint's tensors to it.

        The weights are located first (downloading shards in parallel), so a repository without weights fails
        before the model is built. The model is returned in eval mode, entirely on ``map_location``.

        Also takes huggingface_hub's signature (``revision``, ``token``, ... and the ``__init__`` arguments as
        keywords), so an override written for huggingface_hub forwards to ``super()._from_pretrained`` unchanged.
        A class overriding ``_load_as_safetensor`` (``_load_as_pickle``) is built normally and loaded through it
        from a single ``model.safetensors`` (a legacy ``pytorch_model.bin``), as huggingface_hub loads it; it
        returns the model its override returns.
        """
        device = _as_device(map_location)
        dtype = check_dtype_argument(dtype)
        _check_device_arguments(cls, model_kwargs)
        weights = locate_torch_weights(model_id, download)
        if (hook := _own_loading_hook(cls, weights)) is not None:
            return cast(Self, _load_through_hook(cls, hook, weights, model_kwargs, device, strict, key_mapping, dtype))
        checkpoint = open_torch_weights(weights, device).renamed(key_mapping)
        rng = rng_state()
        arguments = ArgumentsAsGiven(model_kwargs, kept=_held_as_given)  # (a load may construct more than once)
        if customised_class(cls):
            with parameters_as_given():
                model = cls(**arguments())
        else:
            model = construct_without_weights(lambda: cls(**arguments()))
        module = _as_module(model)
        unwrap = _loads_wrapped(module, checkpoint)
        # A load inside another model's __init__ (a pretrained backbone), itself built without weights: the
        # tensors assigned here are this model's, not parameters of the outer one to put on the meta device.
        with parameters_as_given():
            checkpoint, own = _prepared(_target(module, unwrap), checkpoint)
            if own is not None and any(t.is_meta for t in named_tensors(module).values()):
                logger.info("%s loads itself (%s): built normally, as huggingface_hub builds it", cls.__qualname__, own)
                check_before_building(_target(module, unwrap), checkpoint, dtype)
                set_rng_state(rng)  # drawing in __init__ what a construction from the caller's state draws
                model = cls(**arguments())
                module = _as_module(model)
            _tie_weights(module, _target(module, unwrap))

            def rebuild() -> torch.nn.Module:  # what the checkpoint lacks, as a construction from the caller's state
                set_rng_state(rng)
                return _target(_as_module(cls(**arguments())), unwrap)

            given_modules = any(_holds_module(value, set()) for value in model_kwargs.values())
            target = _target(module, unwrap)
            _load_into(target, checkpoint, own, device, dtype, strict, rebuild=rebuild, given_modules=given_modules)
        module.eval()
        return model

    @classmethod
    def _load_as_safetensor(cls, model: _HubModel, model_file: str, map_location: str, strict: bool) -> _HubModel:
        """Load a safetensors file into ``model`` (built by the caller) and put it in eval mode.

        huggingface_hub's helper, for ``_from_pretrained`` overrides written against it; the load is
        ``from_pretrained``'s: headers checked first, typed errors, tensors on ``map_location`` and aligned. A
        subclass's override is what ``from_pretrained`` loads a single ``model.safetensors`` through.
        """
        device = _as_device(map_location)
        return _load_file_into(model, open_torch_file(model_file, device, pickled=False), device, strict)

    @classmethod
    def _load_as_pickle(cls, model: _HubModel, model_file: str, map_location: str, strict: bool) -> _HubModel:
        """Load a ``torch.save`` state dict (``pytorch_model.bin``) into ``model`` and put it in eval mode.

        huggingface_hub's helper; the file is read with ``torch.load(weights_only=True)``, never unpickled. A
        subclass's override is what ``from_pretrained`` loads a legacy ``pytorch_model.bin`` through.
        """
        device = _as_device(map_location)
        return _load_file_into(model, open_torch_file(model_file, device, pickled=True), device, strict)


_LOADING_HOOKS = ("_load_as_safetensor", "_load_as_pickle")
"""huggingface_hub's classmethods that load one file into a built model: a class overriding one is loaded through it."""


def _own_loading_hook(cls: type, weights: WeightFiles | Path) -> str | None:
    """The loading hook (see :data:`_LOADING_HOOKS`) that ``cls`` overrides for ``weights``, if any:
    ``_load_as_safetensor`` for one safetensors file, ``_load_as_pickle`` for a legacy ``pytorch_model.bin``.

    Shards load through hubmixin's own loader: huggingface_hub's mixin reads no shards, and a hook takes one file.
    """
    if isinstance(weights, WeightFiles) and weights.sharded:
        if _overrides(cls, _LOADING_HOOKS[0]):
            logger.warning(
                "%s overrides %s, which loads one file: the shards of %s load without it",
                cls.__qualname__,
                _LOADING_HOOKS[0],
                weights.index_file,
            )
        return None
    hook = _LOADING_HOOKS[0] if isinstance(weights, WeightFiles) else _LOADING_HOOKS[1]
    return hook if _overrides(cls, hook) else None


def _overrides(cls: type, hook: str) -> bool:
    """Whether ``cls`` defines its own ``hook`` (a classmethod of :class:`TorchHubMixinBase`)."""
    ours: classmethod[Any, Any, Any] = TorchHubMixinBase.__dict__[hook]
    return getattr(getattr(cls, hook), "__func__", None) is not ours.__func__


def _load_through_hook(
    cls: type,
    hook: str,
    weights: WeightFiles | Path,
    model_kwargs: dict[str, Any],
    device: torch.device,
    strict: bool,
    key_mapping: Mapping[str, str] | None,
    dtype: torch.dtype | None,
) -> object:
    """Load as huggingface_hub's ``_from_pretrained`` does for a class overriding ``hook`` (``_load_as_safetensor``
    or ``_load_as_pickle``): build the model normally, then return what ``cls.<hook>(model, file, map_location,
    strict)`` returns, as it returns it (in eval mode only where the override puts it there). The model's
    ``tie_weights()`` is called before, as for any load (the ties then hold in what the override loads).

    Raises:
        HubMixinTypeError: a ``key_mapping`` renaming keys, or ``dtype``, was given: the override reads the file
            itself.
    """
    (file,) = weights.files if isinstance(weights, WeightFiles) else (weights,)
    # (``key_mapping={}``, a wrapper's "no renaming", has nothing to apply)
    given = [name for name, value in (("key_mapping", key_mapping or None), ("dtype", dtype)) if value is not None]
    if given:
        raise HubMixinTypeError(
            f"{cls.__qualname__}.from_pretrained: {' and '.join(given)} cannot apply: {cls.__qualname__} overrides "
            f"{hook}, which reads {file} itself. Rename or convert the tensors in {hook}, or convert the loaded model"
        )
    logger.info("%s loads %s through its own %s, as huggingface_hub's mixin does", cls.__qualname__, file, hook)
    with parameters_as_given():
        model = cls(**ArgumentsAsGiven(model_kwargs, kept=_held_as_given)())
        _tie_weights(model, model.module if isinstance(model, _WRAPPERS) else model)
    return getattr(cls, hook)(model, str(file), str(device), strict)


def _load_file_into(model: _Model, checkpoint: Checkpoint, device: torch.device, strict: bool) -> _Model:
    module = _as_module(model)
    target = _target(module, _loads_wrapped(module, checkpoint))
    checkpoint, own = _prepared(target, checkpoint)
    _load_into(target, checkpoint, own, device, None, strict, rebuild=lambda: target)
    module.eval()
    return model


def _loads_wrapped(module: torch.nn.Module, checkpoint: Checkpoint) -> bool:
    """Whether ``checkpoint`` loads into the module that a ``DataParallel`` or ``DistributedDataParallel``
    ``module`` wraps, whose names a save writes (:meth:`TorchHubMixinBase._hub_write_weights`): unless it holds
    more of the wrapper's own names (``module.``-prefixed: a ``torch.save`` of the wrapper's state dict)."""
    if not isinstance(module, _WRAPPERS):
        return False
    inner = torch.nn.Module.state_dict(module.module, keep_vars=True).keys()
    names = checkpoint.infos.keys()
    if len(names & inner) <= len(names & {f"module.{name}" for name in inner}):
        return False  # (a file of the wrapper's own names, or of neither: loaded into the wrapper, as torch does)
    if any(not name.startswith("module.") for name in torch.nn.Module.state_dict(module, keep_vars=True)):
        return False  # the wrapper holds tensors of its own beside the module it wraps
    found = customised_loading(module)  # the wrapper's own loading code runs only where the load goes through it
    inside = found == customised_loading(_as_module(module.module)) or f"{found}".startswith(_HOOK_INSIDE)
    return found is None or inside


_HOOK_INSIDE = "a state-dict hook of module"
"""How :func:`customised_loading` names a hook of the wrapped module (``module``, ``module.<path>``)."""


def _target(module: torch.nn.Module, unwrap: bool) -> torch.nn.Module:
    """The module the weights load into: the wrapped one where ``unwrap`` (see :func:`_loads_wrapped`)."""
    return _as_module(module.module) if unwrap else module


def _prepared(module: torch.nn.Module, checkpoint: Checkpoint) -> tuple[Checkpoint, str | None]:
    """``checkpoint`` under the names ``module`` has (see :func:`named_as_model`), and what makes the module load
    itself, if anything (:func:`customised_loading`; torch's own load hooks count where the file holds names the
    module's state dict lacks, an older release's)."""
    checkpoint = named_as_model(module, checkpoint)
    unknown = not checkpoint.infos.keys() <= torch.nn.Module.state_dict(module, keep_vars=True).keys()
    return checkpoint, customised_loading(module, unknown_names=unknown)


def _load_into(
    module: torch.nn.Module,
    checkpoint: Checkpoint,
    own: str | None,
    device: torch.device,
    dtype: torch.dtype | None,
    strict: bool,
    *,
    rebuild: Callable[[], torch.nn.Module],
    given_modules: bool = False,
) -> None:
    """Load by assignment, or through the model's own ``load_state_dict`` where it loads itself (``own``);
    ``given_modules``: the model was given modules of the caller's (see ``load_checkpoint``'s ``rebuild_first``)."""
    if own is None:
        load_checkpoint(
            module, checkpoint, device=device, dtype=dtype, strict=strict, rebuild=rebuild, rebuild_first=given_modules
        )
    else:
        load_like_torch(module, checkpoint, device=device, dtype=dtype, strict=strict)
