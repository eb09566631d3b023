"""Construction without weights: a module built with its parameters on the meta device.

A global parameter-registration hook, active only in the thread constructing, puts each parameter on the meta
device (nothing allocated, nothing initialised). See :func:`construct_without_weights`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar, cast

import torch

__all__ = ["construct_without_weights", "parameters_as_given"]

logger = logging.getLogger("hubmixin_torch")

M = TypeVar("M")

_local = threading.local()
_hook_lock = threading.Lock()
_hook_installed = False
_Memo = dict[int, tuple[weakref.ref[torch.nn.Parameter], torch.nn.Parameter]]


def _meta_parameter_hook(module: torch.nn.Module, name: str, param: torch.nn.Parameter) -> torch.nn.Parameter | None:
    """Global parameter-registration hook: on a meta copy while this thread constructs without weights."""
    memo: _Memo | None = getattr(_local, "memo", None)
    if memo is None or type(param) is not torch.nn.Parameter or param.is_meta:
        return None  # not constructing, a Parameter subclass (lazy, quantized...) or already meta
    hit = memo.get(id(param))
    if hit is not None and hit[0]() is param:  # the same Parameter registered twice: keep the tie
        return hit[1]
    meta = torch.nn.Parameter(torch.empty_like(param, device="meta"), requires_grad=param.requires_grad)
    memo[id(param)] = (weakref.ref(param), meta)
    return meta


def _install_hook() -> None:
    # Installed once and never removed: adding or removing a global hook while another thread registers a
    # parameter would mutate the dict torch is iterating. Outside a construction the hook returns at once.
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            hook = cast("Callable[..., None]", _meta_parameter_hook)  # torch's annotation omits the return
            torch.nn.modules.module.register_module_parameter_registration_hook(hook)
            _hook_installed = True


@contextmanager
def _parameters_on_meta(active: bool) -> Iterator[None]:
    """Within this block (this thread only), parameters registered on a module are put on the meta device."""
    if active:
        _install_hook()
    previous = getattr(_local, "memo", None)
    _local.memo = {} if active else None
    try:
        yield
    finally:
        _local.memo = previous


def parameters_as_given() -> contextlib.AbstractContextManager[None]:
    """Within this block (this thread only), parameters are registered as they are, even inside a construction
    without weights (a model loading a pretrained part of itself in its ``__init__``)."""
    return _parameters_on_meta(False)


def construct_without_weights(factory: Callable[[], M]) -> M:
    """Call ``factory`` (a module's constructor) with every parameter it registers moved to the meta device.

    Parameters made the usual way (``torch.empty`` then ``reset_parameters()``, as every ``torch.nn`` layer does)
    are never initialised, and the empty tensor they start from is freed untouched (no memory is committed); a
    parameter ``__init__`` fills itself (``nn.Parameter(torch.randn(...))``) is computed once and dropped. Buffers
    and plain tensor attributes are built on the CPU as usual, so non-persistent buffers get their values from
    ``__init__``. A Parameter registered twice (tied) stays one Parameter. Only this thread is affected.

    If ``__init__`` cannot run that way (it reads a parameter's values), the module is constructed normally:
    :func:`load_checkpoint` then replaces the initialised parameters, at the reference's cost.
    """
    try:
        with _parameters_on_meta(True):
            module = factory()
    except Exception as error:  # data-dependent code in __init__: fall back to a normal construction below
        failure: BaseException | str = error
    else:
        derived = _meta_attributes(module)
        if not derived:
            return module
        failure = f"attributes {derived} were computed from parameters"  # they would stay on the meta device
    if _out_of_memory(failure):  # __init__ asks for more than this machine holds (a config asking for a huge model)
        logger.info("constructing allocated too much (%r); constructing on the meta device", failure)
        with torch.device("meta"):  # nothing allocated: the checkpoint's shapes are checked before anything is
            return factory()
    logger.info("constructing with parameters on the meta device failed (%r); constructing normally", failure)
    with _parameters_on_meta(False):
        return factory()


_MODULE_TABLES = frozenset({"_parameters", "_buffers", "_modules"})


def _meta_attributes(module: object) -> list[str]:
    """Tensors held as plain attributes (not parameters or buffers, maybe in a list, tuple or dict) that are on
    the meta device: ``__init__`` computed them from a parameter (``self.cache = self.fc.weight.clone()``)."""
    if not isinstance(module, torch.nn.Module):
        return []
    found = []
    for prefix, sub in module.named_modules():
        for name, value in vars(sub).items():
            if name in _MODULE_TABLES or (name == "_flat_weights" and isinstance(sub, torch.nn.RNNBase)):
                continue  # an RNN's list of its own parameters, which it keeps in step as they are assigned
            values = (
                value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else [value]
            )
            if any(isinstance(v, torch.Tensor) and v.is_meta for v in values):
                found.append(f"{prefix}.{name}" if prefix else name)
    return found


def _out_of_memory(error: BaseException | str) -> bool:
    """Whether ``error`` is an allocation's failure (torch raises a plain ``RuntimeError`` on the CPU)."""
    if isinstance(error, MemoryError | torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)
