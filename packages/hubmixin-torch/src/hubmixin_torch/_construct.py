"""Construction without weights: a module built with its parameters on the meta device.

A global parameter-registration hook, active only in the thread constructing, puts each parameter on the meta
device (nothing allocated, nothing initialised). See :func:`construct_without_weights`.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import operator
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
from torch.overrides import TorchFunctionMode

from hubmixin_core._held import CONTAINERS, find_held, held_by

__all__ = [
    "construct_without_weights",
    "on_kept_memory",
    "parameters_as_given",
    "rng_state",
    "set_rng_state",
]

logger = logging.getLogger("hubmixin_torch")

M = TypeVar("M")

_local = threading.local()
_hook_lock = threading.Lock()
_hook_installed = False

_OWN_CODE = tuple(f"{Path(m.__file__).parent}{os.sep}" for m in (torch, sys.modules[__name__]) if m.__file__)
"""The folders of the code a meta copy's ``is_cpu``... answer truly (torch's, this package's): see _MetaInitsSkipped."""


@dataclass(eq=False)
class _Moved:
    """A Parameter ``__init__`` registered and the meta copy registered in its place, which shares its attributes and
    hooks (one ``__dict__``, one dict of hooks). The real one is held until the construction ends, or until nothing
    else holds it (``None`` then: :meth:`_Memo.settle`)."""

    real: torch.nn.Parameter | None
    meta: torch.nn.Parameter
    device: torch.device
    """The real one's."""
    requires_grad: bool
    """At registration: a later change, through either object, is the one ``__init__`` made."""
    memory: _Memory | None = None
    """Where the real one's values lie, once let go of while something else may hold that memory."""

    @classmethod
    def of(cls, real: torch.nn.Parameter) -> _Moved | None:
        """``real`` and its meta copy; ``None`` where ``real`` is on the meta device already."""
        with torch._C.DisableTorchFunction():  # (reads of a real Parameter: nothing for _MetaInitsSkipped)
            if real.is_meta:
                return None
            state = _State.of(real)
            meta = torch.nn.Parameter(torch.empty_like(real, device="meta"), requires_grad=state.requires_grad)
            meta.__dict__ = state.attributes  # one dict: attributes set through either name are the other's too
            if state.hooks is not None:  # one dict of hooks, registered on the meta copy too
                meta._backward_hooks = state.hooks
            if state.accumulate_hooks is not None:
                meta._post_accumulate_grad_hooks = state.accumulate_hooks
            return cls(real, meta, real.device, state.requires_grad)


@dataclass(frozen=True)
class _Memory:
    """The memory a real Parameter's values lie on (held), and where in it."""

    storage: torch.UntypedStorage
    offset: int
    stride: tuple[int, ...]

    @classmethod
    def of(cls, tensor: torch.Tensor) -> _Memory:
        return cls(tensor.untyped_storage(), int(tensor.storage_offset()), tuple(tensor.stride()))

    def shared(self) -> bool:
        """Whether something besides this hold keeps the memory (a tensor ``__init__`` kept): torch gives a memory
        one storage object, so all our holds of it count once."""
        return bool(torch._C._storage_Use_Count(self.storage._cdata) > 1)

    def tensor(self, like: torch.Tensor) -> torch.Tensor:
        """A tensor of ``like``'s shape and dtype on this memory, where the real Parameter lay."""
        empty = torch.empty(0, dtype=like.dtype, device=self.storage.device)
        return empty.set_(self.storage, self.offset, like.shape, self.stride)


@dataclass(frozen=True)
class _State:
    """What ``__init__`` can give a Parameter besides its values: ``requires_grad``, attributes, gradient hooks."""

    requires_grad: bool
    attributes: dict[str, Any]
    hooks: dict[int, Any] | None
    accumulate_hooks: dict[int, Any] | None

    @classmethod
    def of(cls, param: torch.nn.Parameter) -> _State:
        return cls(param.requires_grad, param.__dict__, param._backward_hooks, param._post_accumulate_grad_hooks)

    def apply(self, param: torch.nn.Parameter, *, since: bool) -> None:
        """Give ``param`` this state (``since``: the ``requires_grad`` both had at registration)."""
        if self.requires_grad != since:
            param.requires_grad_(self.requires_grad)
        if self.attributes is not param.__dict__:
            param.__dict__.update(self.attributes)
        # Autograd holds hooks on the tensor, not on the Python object: the dict is registered on this one too.
        if self.hooks is not None and self.hooks is not param._backward_hooks:
            param._backward_hooks = _merged(param._backward_hooks, self.hooks)
        if self.accumulate_hooks is not None and self.accumulate_hooks is not param._post_accumulate_grad_hooks:
            param._post_accumulate_grad_hooks = _merged(param._post_accumulate_grad_hooks, self.accumulate_hooks)


def _merged(own: dict[int, Any] | None, other: dict[int, Any]) -> dict[int, Any]:
    if own is None:
        return other
    own.update(other)  # hooks registered through both objects (a handle removes its own object's only)
    return own


_HELD_BYTES = 64 << 20
"""How much more memory than the real Parameters held elsewhere those only the construction holds may take before
it lets them go (an untouched ``torch.empty`` commits no memory on Linux, but does on Windows)."""


class _Memo:
    """The Parameters a construction without weights moved to the meta device, by ``id`` of each object."""

    def __init__(self) -> None:
        self.by_real: dict[int, _Moved] = {}
        """Those whose real Parameter is still held (``__init__`` may still change it through a name of its own)."""
        self.by_meta: dict[int, _Moved] = {}
        self.on_kept_memory: list[_Moved] = []
        """Those let go of whose memory a tensor still held kept (a flat tensor ``__init__`` keeps, which the real
        one viewed): :func:`_keep_what_init_made` puts the meta copy there if it is still held then."""
        self.rehomed: dict[int, tuple[torch.UntypedStorage, int, torch.UntypedStorage]] = {}
        """By meta storage a meta copy left for a shared one (:func:`_share_meta_memory`): that storage (held), the
        byte offset the copy took in the shared one, and the shared one."""
        self._held = 0
        self._limit = _HELD_BYTES

    def meta_of(self, real: torch.nn.Parameter) -> torch.nn.Parameter | None:
        """The meta copy registered in place of ``real`` (one for a Parameter registered twice, tied); ``None``
        for one on the meta device already."""
        moved = self.by_real.get(id(real))
        if moved is None:
            moved = _Moved.of(real)
            if moved is None:
                return None
            self.by_real[id(real)] = self.by_meta[id(moved.meta)] = moved
            self._held += _nbytes(moved.meta)
            if self._held > self._limit:
                self.settle()
                self._limit = self._held + _HELD_BYTES
        return moved.meta

    def settle(self) -> list[tuple[_Moved, torch.nn.Parameter]]:
        """Let go of the real Parameters nothing else holds, giving each meta copy what ``__init__`` did through
        the real one (freed then); returns the others (held elsewhere), still held, each with its pair."""
        moved, self.by_real = list(self.by_real.values()), {}
        checks = [(m, *_let_go(m)) for m in moved]
        kept, let_go = [], []
        for m, ref, state in checks:
            m.real = ref()
            if m.real is None:
                state.apply(m.meta, since=m.requires_grad)
                let_go.append(m)
            else:
                m.memory = None
                self.by_real[id(m.real)] = m
                kept.append((m, m.real))
        self.rehomed.update(_share_meta_memory([*self.on_kept_memory, *let_go]))
        self.on_kept_memory = self._on_kept_memory()  # (a local of an __init__ that has returned: freed now)
        for m in let_go:
            if m.memory is not None and m.memory.shared():
                self.on_kept_memory.append(m)
            else:
                m.memory = None  # (freed now)
        self._held = sum(_nbytes(m.meta) for m in [*(m for m, _ in kept), *self.on_kept_memory])
        return kept

    def _on_kept_memory(self) -> list[_Moved]:
        """Those of :attr:`on_kept_memory` whose memory something else still holds, the others let go of."""
        still = []
        for moved in self.on_kept_memory:
            if moved.memory is not None and moved.memory.shared():
                still.append(moved)
            else:
                moved.memory = None
        return still

    def clear(self) -> None:
        self.by_real, self.by_meta, self.on_kept_memory, self._held = {}, {}, [], 0
        self.rehomed = {}


def _share_meta_memory(let_go: list[_Moved]) -> dict[int, tuple[torch.UntypedStorage, int, torch.UntypedStorage]]:
    """Give the meta copies of Parameters let go of that lay on one memory nothing else holds one meta memory, each
    where its real one lay (``self.b = nn.Parameter(a.data[:2])``): loading then sees ``b`` views ``a`` and makes
    it a view of the loaded ``a`` again, as torch's ``load_state_dict`` leaves it (a file recording ``b`` as ``a``
    loads it so too). Returns what :attr:`_Memo.rehomed` keeps, for the views taken of a meta copy moved so."""
    rehomed = {}
    by_memory: dict[int, list[_Moved]] = {}
    for moved in let_go:
        if moved.memory is not None and moved.memory.storage.device.type != "meta":
            by_memory.setdefault(moved.memory.storage._cdata, []).append(moved)
    for group in by_memory.values():
        real = group[0].memory
        assert real is not None  # (grouped by it)
        if len(group) < 2 or real.shared():  # (memory held elsewhere too: _keep_what_init_made's case)
            continue
        meta = torch.empty(real.storage.nbytes(), dtype=torch.uint8, device="meta").untyped_storage()
        for moved in group:
            assert moved.memory is not None
            old = moved.meta.untyped_storage()
            rehomed[old._cdata] = (old, moved.memory.offset * moved.meta.element_size(), meta)
            _put_on(moved.meta, _Memory(meta, moved.memory.offset, moved.memory.stride))
    return rehomed


class _ChangedAfterRegistering(Exception):
    """``__init__`` gave a registered Parameter other data through its own name (``p.data = ...``): the meta copy
    no longer matches it, so the module is constructed normally."""


def _let_go(moved: _Moved) -> tuple[weakref.ref[torch.nn.Parameter], _State]:
    """Stop holding ``moved``'s real Parameter: a weak reference to it, and its state."""
    real, moved.real = moved.real, None
    assert real is not None, "a Parameter let go of twice"  # (only held ones are in by_real)
    with torch._C.DisableTorchFunction():
        if real.shape != moved.meta.shape or real.dtype != moved.meta.dtype:
            raise _ChangedAfterRegistering(f"a Parameter became {real.dtype} {tuple(real.shape)} after registering")
        if moved.memory is None and real.layout == torch.strided:
            moved.memory = _Memory.of(real)
    return weakref.ref(real), _State.of(real)


def _nbytes(tensor: torch.Tensor) -> int:
    with torch._C.DisableTorchFunction():
        return tensor.nelement() * tensor.element_size()


def _meta_parameter_hook(module: torch.nn.Module, name: str, param: torch.nn.Parameter) -> torch.nn.Parameter | None:
    """Global parameter-registration hook: on a meta copy while this thread constructs without weights."""
    memo: _Memo | None = getattr(_local, "memo", None)
    if memo is None or type(param) is not torch.nn.Parameter:
        return None  # not constructing, or a Parameter subclass (lazy, quantized...)
    return memo.meta_of(param)


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
def _parameters_on_meta(active: bool) -> Iterator[_Memo]:
    """Within this block (this thread only), parameters registered on a module are put on the meta device; yields
    the memo of what was moved."""
    if active:
        _install_hook()
    previous = getattr(_local, "memo", None)
    memo = _Memo()
    _local.memo = memo if active else None
    try:
        with _MetaInitsSkipped(memo) if active else contextlib.nullcontext():
            yield memo
    finally:
        _local.memo = previous


_RANDOM_FILLS = frozenset(
    {"normal_", "uniform_", "bernoulli_", "exponential_", "geometric_", "log_normal_", "cauchy_", "random_"}
    | {"trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"}
    | {"sparse_"}
)
"""In-place random fills (tensor methods and ``torch.nn.init``'s), which on a meta tensor do nothing."""


_DEVICE_FLAGS = {f"is_{kind}": kind for kind in ("cpu", "cuda", "mps", "xpu", "xla", "ipu", "mtia", "maia")}
"""A tensor's ``is_cpu``... properties, by the device type each tells (``is_meta`` is told as it is: code asking it
knows of the meta device, and skips what it cannot do there)."""


class _MetaInitsSkipped(TorchFunctionMode):
    """Random fills of meta tensors return at once (this thread only): on the meta device they do nothing, but
    torch runs them through its Python references, whose first use imports ``torch._dynamo`` (half a second).

    ``__init__``'s own reads of a moved Parameter's ``is_cpu``, ``is_cuda``... answer as the Parameter it made
    would (``self.use_cpu_path = self.fc.weight.is_cpu``): they are plain values, which no check could tell apart.
    """

    def __init__(self, memo: _Memo) -> None:
        super().__init__()
        self.memo = memo

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        target = args[0] if args else kwargs.get("tensor", kwargs.get("input"))
        name = getattr(func, "__name__", "")
        if name in _RANDOM_FILLS and isinstance(target, torch.Tensor) and target.is_meta:
            return target
        if name == "__get__" and (moved := self.memo.by_meta.get(id(target))) is not None:
            kind = _DEVICE_FLAGS.get(getattr(getattr(func, "__self__", None), "__name__", ""))
            if kind is not None and not sys._getframe(1).f_code.co_filename.startswith(_OWN_CODE):
                return moved.device.type == kind
        return func(*args, **kwargs)


def parameters_as_given() -> contextlib.AbstractContextManager[_Memo]:
    """Within this block (this thread only), parameters are registered as they are, even inside a construction
    without weights (a model loading a pretrained part of itself in its ``__init__``)."""
    return _parameters_on_meta(False)


def construct_without_weights(factory: Callable[[], M]) -> M:
    """Call ``factory`` (a module's constructor) with every parameter it registers moved to the meta device.

    Parameters made the usual way (``torch.empty`` then ``reset_parameters()``, as every ``torch.nn`` layer does)
    are never initialised, and the empty tensor they start from is freed untouched (no memory is committed) when
    the construction ends; a parameter ``__init__`` fills itself (``nn.Parameter(torch.randn(...))``) is computed
    once and dropped then. Each meta copy shares the attributes and hooks of the Parameter ``__init__`` made, and
    takes the ``requires_grad`` ``__init__`` gave it through that object, also after registering it. Buffers and
    plain tensor attributes are built on the CPU as usual, so non-persistent buffers get their values from
    ``__init__``. A Parameter registered twice (tied) stays one Parameter, and so does one that existed before
    (of a module given to ``__init__`` or kept elsewhere, a head tied to its embedding). One on memory that a
    buffer or tensor attribute of the module holds too (a view of a flat buffer) is put back on it, so that loading
    copies the values in, as torch's ``load_state_dict`` does. Only this thread is affected.

    If ``__init__`` cannot run that way (it reads a parameter's values, keeps its device or device type, or
    something holds one weakly), the
    module is constructed normally: :func:`load_checkpoint` then replaces the initialised parameters, at the
    reference's cost.
    """
    rng = rng_state()
    try:
        with _parameters_on_meta(True) as memo:
            module = factory()
        _keep_what_init_made(module, memo)
    except Exception as error:  # data-dependent code in __init__: fall back to a normal construction below
        failure: BaseException | str = error
    else:
        derived = _meta_attributes(module) + _meta_buffers(module) + _weakly_held(module)
        if not derived:
            return module
        failure = f"{derived} were computed from parameters or hold them weakly"  # would stay on the meta device
    memo.clear()  # (what __init__ made, freed before it runs again)
    set_rng_state(rng)  # the construction below draws what a construction from the caller's state draws
    if _out_of_memory(failure):  # __init__ asks for more than this machine holds (a config asking for a huge model)
        logger.info("constructing allocated too much (%r); constructing on the meta device", failure)
        with torch.device("meta"):  # nothing allocated: the checkpoint's shapes are checked before anything is
            return factory()
    logger.info("constructing with parameters on the meta device failed (%r); constructing normally", failure)
    with _parameters_on_meta(False):
        return factory()


def rng_state() -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    """torch's generators' states (CPU, and CUDA's where initialised)."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None  # type: ignore[no-untyped-call]
    return torch.random.get_rng_state(), cuda


def set_rng_state(state: tuple[torch.Tensor, list[torch.Tensor] | None]) -> None:
    cpu, cuda = state
    torch.random.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def _keep_what_init_made(module: object, memo: _Memo) -> None:
    """Once the construction is over, give each meta copy what ``__init__`` did to its Parameter through the object
    it made (``requires_grad_(False)``, attributes, hooks, also after registering it), or put back the Parameters
    still held elsewhere (of a module given to ``__init__`` or kept aside) where their meta copies were registered,
    given what was done through the module: a head tied to a given embedding stays tied to it, as one Parameter.
    A meta copy whose real Parameter lay on memory the module holds too (a flat buffer it viewed) is put on that
    memory."""
    real_of: dict[int, torch.nn.Parameter] = {}
    for moved, real in memo.settle():
        _State.of(moved.meta).apply(real, since=moved.requires_grad)
        real_of[id(moved.meta)] = real
    if memo.rehomed and isinstance(module, torch.nn.Module):  # views __init__ took of a re-homed meta copy
        for view in list(torch.nn.Module.parameters(module)):
            found = memo.rehomed.get(view.untyped_storage()._cdata) if view.is_meta else None
            if found is not None:
                _, shift, meta = found
                offset = int(view.storage_offset()) + shift // view.element_size()
                _put_on(view, _Memory(meta, offset, tuple(view.stride())))
    own_memory = _module_memory(module) if memo.on_kept_memory else set()
    put_on = set()
    for moved in memo.on_kept_memory:  # (settle kept only those whose memory is still held elsewhere)
        if moved.memory is not None and moved.memory.storage.data_ptr() in own_memory:
            _put_on(moved.meta, moved.memory)
            put_on.add(id(moved.meta))
    if put_on and isinstance(module, torch.nn.Module):  # (no weak reference to a Parameter: torch swaps none then)
        _ON_KEPT_MEMORY[module] = frozenset(put_on)
    memo.clear()
    if not isinstance(module, torch.nn.Module) or not real_of:
        return
    for sub in module.modules():
        for name, param in sub._parameters.items():
            kept = real_of.get(id(param))
            if kept is not None:
                sub._parameters[name] = kept


_ON_KEPT_MEMORY: weakref.WeakKeyDictionary[torch.nn.Module, frozenset[int]] = weakref.WeakKeyDictionary()
"""By constructed module, the ``id`` of the Parameters :func:`_put_on` put on memory of the module's own."""


def on_kept_memory(tensor: torch.Tensor) -> bool:
    """Whether the construction put ``tensor`` (a Parameter) on memory a buffer or tensor attribute of the module
    holds too (a view of a flat buffer): loading copies values into it, rather than giving it the file's."""
    return any(id(tensor) in ids for ids in list(_ON_KEPT_MEMORY.values()))


def _module_memory(module: object) -> set[int]:
    """Where the real memory of the tensors ``module`` holds other than its Parameters lies (buffers, attributes, in
    containers and objects it holds too): only a Parameter on such memory is put back on it (one on a tensor held
    elsewhere, a caller's or a module-level default, is loaded by assignment and leaves that tensor as it was)."""
    if not isinstance(module, torch.nn.Module):
        return set()
    found: set[int] = set()

    def collect(value: object) -> bool:
        if isinstance(value, torch.Tensor) and not isinstance(value, torch.nn.Parameter) and not value.is_meta:
            found.add(value.untyped_storage().data_ptr())
        return False  # (every object looked into)

    find_held(module, collect, set())
    return found


def _put_on(meta: torch.nn.Parameter, memory: _Memory) -> None:
    """Give the meta copy ``meta`` the memory its real Parameter lay on, which a tensor the module keeps holds
    too (``self.register_buffer("flat", w, persistent=False); self.a = nn.Parameter(w[:10])``): loading copies the
    values into it, as torch's ``load_state_dict`` does, so that tensor shows them. Raises ``RuntimeError`` where
    torch cannot swap it (weakly referenced): the module is constructed normally then."""
    attributes, hooks, accumulate_hooks = meta.__dict__, meta._backward_hooks, meta._post_accumulate_grad_hooks
    real = torch.nn.Parameter(memory.tensor(meta), requires_grad=meta.requires_grad)
    torch.utils.swap_tensors(meta, real)  # type: ignore[no-untyped-call]  # (swaps attributes too: put back below)
    meta.__dict__ = attributes
    # Autograd holds hooks on the tensor, not on the Python object: register them on the one now held.
    if hooks is not None:
        meta._backward_hooks = hooks
    if accumulate_hooks is not None:
        meta._post_accumulate_grad_hooks = accumulate_hooks


_MODULE_TABLES = frozenset({"_parameters", "_buffers", "_modules"})


def _meta_attributes(module: object) -> list[str]:
    """Plain attributes (not parameters, buffers or sub-modules; maybe in a list, tuple, set or dict) left on the
    meta device: a tensor ``__init__`` computed from a parameter (``self.cache = self.fc.weight.clone()``), a device
    taken from one (``self.device = self.fc.weight.device``), or a module kept out of the tree (``self._frozen =
    [helper]``, never loaded) whose parameters were put there."""
    if not isinstance(module, torch.nn.Module):
        return []
    registered = {id(sub) for sub in module.modules()}
    registered |= {id(t) for sub in module.modules() for t in (*sub._parameters.values(), *sub._buffers.values())}
    return _meta_in(module, registered, set())


def _meta_buffers(module: object) -> list[str]:
    """Buffers on the meta device (``__init__`` computed them from a parameter) that loading would not make what
    ``__init__`` made: one a checkpoint never holds (non-persistent), or a view of a parameter
    (``self.register_buffer("flat", self.fc.weight.view(-1))``), which loaded apart would no longer view it."""
    if not isinstance(module, torch.nn.Module):
        return []
    parameters = {p.untyped_storage()._cdata for p in torch.nn.Module.parameters(module) if p.is_meta}
    return [
        f"{prefix}.{name}" if prefix else name
        for prefix, sub in module.named_modules()
        for name, buffer in sub._buffers.items()
        if buffer is not None
        and buffer.is_meta
        and (name in sub._non_persistent_buffers_set or buffer.untyped_storage()._cdata in parameters)
    ]


def _weakly_held(module: object) -> list[str]:
    """Parameters on the meta device that something holds a weak reference to (a registry of parameters): torch
    swaps no weakly referenced tensor, so the loaded one could not take its place there. An RNN's references to
    its own weights are left out (it follows the assignments)."""
    if not isinstance(module, torch.nn.Module):
        return []
    rnns = [sub for sub in module.modules() if isinstance(sub, torch.nn.RNNBase)]
    own = {id(ref) for rnn in rnns for ref in getattr(rnn, "_flat_weight_refs", ()) if ref is not None}
    return [
        name
        for name, param in torch.nn.Module.named_parameters(module)
        if param.is_meta and any(id(ref) not in own for ref in weakref.getweakrefs(param))
    ]


def _meta_in(module: torch.nn.Module, registered: set[int], seen: set[int]) -> list[str]:
    found = []
    for prefix, sub in module.named_modules():
        for name, value in vars(sub).items():
            if name in _MODULE_TABLES or (name == "_flat_weights" and isinstance(sub, torch.nn.RNNBase)):
                continue  # an RNN's list of its own parameters, which it keeps in step as they are assigned
            if type(value) in _NOT_META or (type(value) in _EMPTY_ABLE and not value):
                continue  # (most of a module's attributes: flags, sizes, empty tables of hooks)
            if _holds_meta(value, registered, seen):
                found.append(f"{prefix}.{name}" if prefix else name)
    return found


def _holds_meta(value: object, registered: set[int], seen: set[int]) -> bool:
    """Whether ``value`` is or holds something on the meta device that loading does not replace (``registered``:
    the model's modules, loaded; ``seen``: containers already looked into)."""
    if id(value) in registered or id(value) in seen:  # (the model's own parameters in a list: loaded in place)
        return False
    if isinstance(value, torch.Tensor):
        return value.is_meta
    if isinstance(value, torch.device):
        return value.type == "meta"
    if isinstance(value, str):  # a device's type (``self.fc.weight.device.type``), as torch.autocast takes it
        return value == "meta"
    if isinstance(value, torch.nn.Module):
        seen.add(id(value))
        own = [sub for sub in value.modules() if id(sub) not in registered]  # (a model's module it holds: loaded)
        tensors = itertools.chain.from_iterable(
            itertools.chain(m._parameters.values(), m._buffers.values()) for m in own
        )
        return any(t is not None and t.is_meta for t in tensors) or bool(_meta_in(value, registered, seen))
    if not isinstance(value, CONTAINERS):
        seen.add(id(value))
        return _holds_meta(held_by(value), registered, seen)
    # Containers level by level (at most _DEPTH), their items sorted out in C: a vocabulary or a list of merges
    # of a million entries is no slower to pass than the model's construction.
    seen.add(id(value))
    level: list[Any] = [value]
    for _ in range(_DEPTH):
        if set(map(type, level)) <= _SEQUENCES:
            items = list(itertools.chain.from_iterable(level))
        else:
            items = list(itertools.chain.from_iterable(c.values() if isinstance(c, dict) else c for c in level))
        types = list(map(type, items))
        if str in types and "meta" in itertools.compress(items, map(operator.is_, types, itertools.repeat(str))):
            return True
        others = list(itertools.compress(items, map(operator.not_, map(_PLAIN.__contains__, types))))
        if set(map(type, others)) <= _SEQUENCES | {dict}:
            unseen = {id(item): item for item in others if id(item) not in seen}  # (a graph's: once each)
            seen.update(unseen)
            level = list(unseen.values())
        else:
            level = []
            for item in others:
                if isinstance(item, CONTAINERS):
                    if id(item) not in seen:
                        seen.add(id(item))
                        level.append(item)
                elif _holds_meta(item, registered, seen):
                    return True
        if not level:
            return False
    return False


_PLAIN = frozenset({str, int, float, bool, bytes, type(None)})
"""Types of values that cannot be or hold anything on the meta device (a ``str`` is only looked at for ``"meta"``)."""

_SEQUENCES = frozenset({list, tuple, set, frozenset})
_NOT_META = _PLAIN - {str}
"""Types of values that cannot be or hold anything on the meta device."""
_EMPTY_ABLE = frozenset({dict, collections.OrderedDict, list, tuple, set, frozenset})
"""Built-in containers an empty one of which holds nothing."""
_DEPTH = 8  # levels of containers looked into (a list holding itself ends there)


def _out_of_memory(error: BaseException | str) -> bool:
    """Whether ``error`` is an allocation's failure (torch raises a plain ``RuntimeError`` on the CPU)."""
    if isinstance(error, MemoryError | torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)
