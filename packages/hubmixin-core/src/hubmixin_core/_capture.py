"""Where a model's captured configuration lives, and the ``__init__`` wrapper that captures it.

The configuration is captured when ``__init__`` is entered (not in ``__new__``: Keras' ``Operation.__new__``
drops the constructor arguments) and stored straight into the instance's ``__dict__`` (not through the model's
own ``__setattr__``: Flax NNX guards it until its state is set up, Keras tracks what it is given). It is held in
a :class:`ConfigSlot`, hashable and compared by configuration, so that frameworks which keep instance attributes
as static data (NNX graph definitions) can hash and compare it, and ``copy.deepcopy`` and pickling carry it
along.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

__all__ = [
    "LOADING",
    "ConfigSlot",
    "get_received",
    "init_parameters",
    "get_config",
    "get_unsaved",
    "has_config",
    "loader_values",
    "loaders_own",
    "recording_builds",
    "set_config",
    "wrap_init",
]

LOADING: ContextVar[bool] = ContextVar("hubmixin_loading", default=False)
"""Whether ``from_pretrained`` is building a model (its arguments come back by keyword, from config.json)."""

_FORWARDED: ContextVar[tuple[tuple[str, Any], ...]] = ContextVar("hubmixin_forwarded_options", default=())
"""While ``from_pretrained`` calls ``_from_pretrained``: the loader's options (name, value) that this method takes
through its ``**kwargs`` (huggingface_hub's contract passes them all, named or not)."""
_SECRETS: ContextVar[frozenset[str]] = ContextVar("hubmixin_secrets", default=frozenset())
"""While ``from_pretrained`` builds a model: the secret values (a token) it was given."""

_GIVEN_SECRETS: set[str] = set()
"""Every secret value (a token) given to a ``from_pretrained`` of this process: never captured, on whichever
thread the model is built (a loader may build it in a pool, where the context variables above are unset)."""
_GIVEN_SECRETS_LOCK = threading.Lock()

_BUILDS: ContextVar[list[tuple[type, frozenset[str]]] | None] = ContextVar("hubmixin_builds", default=None)
"""While a class's own ``_from_pretrained`` runs: each instance's class and the arguments its outermost
``__init__`` was given (see :attr:`ConfigSlot.received`), in the order they were built."""

_SLOT = "_hub_mixin_config_slot"
_WRAPPED = "_hub_mixin_wraps_init"


class ConfigSlot:
    """The captured configuration of one instance (a dict, a dataclass instance or ``None``).

    Attributes:
        config: The configuration.
        unsaved: ``__init__`` arguments given but left out of it (JSON cannot hold them): name to type name
            (``"*args"`` for the positional values ``*args`` took).
        beside: Arguments given beside a dataclass ``config`` (not at what loading gives them), which config.json
            leaves out as huggingface_hub does.
        received: The arguments the outermost ``__init__`` call was given a value for (neither ``None`` nor the
            parameter's default; positional ones by their parameter's name, values ``*args`` took as ``"*args"``);
            ``None`` where unknown (a configuration set, or pickled before it was kept). Not part of the
            configuration, but kept by copies and pickles.
        before_init: Whether it was set before any ``__init__`` of the instance ran, on a class with huggingface_hub's
            mixin among its bases (whose ``__new__`` sets one by its own rules): the outermost ``__init__`` replaces
            it.
    """

    __slots__ = ("before_init", "beside", "config", "received", "unsaved")

    def __init__(self, config: Any, unsaved: dict[str, str] | None = None, beside: list[str] | None = None) -> None:
        self.config = config
        self.unsaved = unsaved or {}
        self.beside = beside or []
        self.received: frozenset[str] | None = None
        self.before_init = False

    def __repr__(self) -> str:
        return f"ConfigSlot({self.config!r})"

    def __eq__(self, other: object) -> bool:
        """Equal configurations are equal slots: a framework comparing models' static structure (a Flax NNX
        ``GraphDef``, the key of ``nnx.jit``'s cache) sees two models built alike as alike."""
        if not isinstance(other, ConfigSlot):
            return NotImplemented
        if other is self:
            return True
        try:
            return bool((self.config, self.unsaved, self.beside) == (other.config, other.unsaved, other.beside))
        except Exception:  # values without a truth (arrays): only the slot itself is equal
            return False

    def __hash__(self) -> int:
        return hash(ConfigSlot)  # (configurations are dicts: unhashable; equal slots hash alike)

    def __getstate__(self) -> Any:
        # (``received`` kept: a class's own loader may return a copy, or a model pickled back from a process pool)
        return (self.config, self.unsaved, self.beside, self.received)

    def __setstate__(self, state: Any) -> None:
        self.config, self.unsaved, *rest = state  # (pickled before `beside`, `received` existed: fewer items)
        self.beside = rest[0] if rest else []
        self.received = rest[1] if len(rest) > 1 else None
        self.before_init = False


def has_config(instance: object) -> bool:
    """Whether a configuration was captured (or set) for ``instance``."""
    return _SLOT in getattr(instance, "__dict__", {})


def _beside_huggingface_hub(cls: type) -> bool:
    """Whether huggingface_hub's own ``ModelHubMixin`` is among ``cls``'s bases (its ``__new__`` sets a configuration
    by its own rules, before any ``__init__``)."""
    from huggingface_hub import ModelHubMixin as HfModelHubMixin

    return issubclass(cls, HfModelHubMixin)


def _captured(instance: object) -> bool:
    """Whether an ``__init__`` of ``instance`` captured its configuration, or one was set since."""
    slot = getattr(instance, "__dict__", {}).get(_SLOT)
    return isinstance(slot, ConfigSlot) and not slot.before_init


def get_config(instance: object) -> Any:
    """The configuration of ``instance``, or ``None``."""
    slot = getattr(instance, "__dict__", {}).get(_SLOT)
    return slot.config if isinstance(slot, ConfigSlot) else None


def get_unsaved(instance: object) -> dict[str, str]:
    """The ``__init__`` arguments of ``instance`` left out of its configuration: name to type name."""
    slot = getattr(instance, "__dict__", {}).get(_SLOT)
    return dict(slot.unsaved) if isinstance(slot, ConfigSlot) else {}


def get_received(instance: object) -> frozenset[str] | None:
    """The arguments the outermost ``__init__`` of ``instance`` was given a value for (see
    :attr:`ConfigSlot.received`); ``None`` where unknown."""
    slot = getattr(instance, "__dict__", {}).get(_SLOT)
    return slot.received if isinstance(slot, ConfigSlot) else None


@contextlib.contextmanager
def recording_builds() -> Iterator[list[tuple[type, frozenset[str]]]]:
    """Record, while it is open, the class of each instance built on this thread and the arguments its outermost
    ``__init__`` was given (see :attr:`ConfigSlot.received`): a class's own ``_from_pretrained`` that fails is
    told apart from one that built the model without an argument config.json could not hold."""
    builds: list[tuple[type, frozenset[str]]] = []
    token = _BUILDS.set(builds)
    try:
        yield builds
    finally:
        _BUILDS.reset(token)


def get_beside(instance: object) -> list[str]:
    """The arguments of ``instance`` given beside a dataclass ``config``, which its configuration leaves out."""
    slot = getattr(instance, "__dict__", {}).get(_SLOT)
    return list(slot.beside) if isinstance(slot, ConfigSlot) else []


def set_config(instance: object, config: Any, unsaved: dict[str, str] | None = None) -> None:
    """Store ``config`` on ``instance`` without going through its class's ``__setattr__``; set before any
    ``__init__`` of it ran (see :attr:`ConfigSlot.before_init`), it is replaced by the capture."""
    if hasattr(instance, "__dict__"):
        slot = ConfigSlot(config, unsaved)
        slot.before_init = not has_config(instance) and _beside_huggingface_hub(type(instance))
        object.__setattr__(instance, _SLOT, slot)


@contextlib.contextmanager
def loader_values(
    *, forwarded: Mapping[str, Any] | None = None, secrets: Iterable[str] | None = None
) -> Iterator[None]:
    """While ``from_pretrained`` builds a model: the loader's options ``_from_pretrained`` takes through its
    ``**kwargs`` (``forwarded``), and the secret values it was given (``secrets``); ``None`` keeps the outer ones."""
    options = None if forwarded is None else _FORWARDED.set(tuple(forwarded.items()))
    given = frozenset(s for s in secrets or () if s)
    with _GIVEN_SECRETS_LOCK:
        _GIVEN_SECRETS.update(given)
    values = None if secrets is None else _SECRETS.set(given)
    try:
        yield
    finally:
        if values is not None:
            _SECRETS.reset(values)
        if options is not None:
            _FORWARDED.reset(options)


def loaders_own(passed: Mapping[str, Any], takes: Callable[[str], bool]) -> list[str]:
    """The arguments of ``passed`` that are the loader's, not the model's, while ``from_pretrained`` builds it: its
    options that reached them through ``_from_pretrained``'s ``**kwargs`` (those ``__init__`` does not name, per
    ``takes``), and strings holding a secret given to any ``from_pretrained`` of this process (a token; one of
    under 8 characters only as the whole string): never captured, so never saved."""
    forwarded = dict(_FORWARDED.get()) if LOADING.get() else {}
    with _GIVEN_SECRETS_LOCK:
        secrets = _SECRETS.get() | _GIVEN_SECRETS
    return [
        name
        for name, value in passed.items()
        if (name in forwarded and value is forwarded[name] and not takes(name))
        or (isinstance(value, str) and any(_holds(value, secret) for secret in secrets))
    ]


def _holds(value: str, secret: str) -> bool:
    return secret in value if len(secret) >= 8 else value == secret  # (a short "token" would match too much)


def init_parameters(init: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The parameters of the ``__init__`` ``init`` after ``self``, by name: ``self`` is the first where that is
    positional; an ``(*args, **kwargs)`` wrapper (a decorator without ``functools.wraps``) takes it in ``*args``.

    Raises:
        TypeError, ValueError: ``init`` has no signature (as :func:`inspect.signature` raises).
    """
    parameters = dict(inspect.signature(init).parameters)
    first = next(iter(parameters.values()), None)
    if first is not None and first.kind in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD):
        del parameters[first.name]
    return parameters


@functools.cache
def _positional_only(init: Callable[..., Any]) -> tuple[tuple[str, Any], ...]:
    """The positional-only parameters of ``init`` (after ``self``), each with its default."""
    try:
        parameters = list(init_parameters(init).values())
    except (TypeError, ValueError):
        return ()
    return tuple((p.name, p.default) for p in parameters if p.kind is inspect.Parameter.POSITIONAL_ONLY)


def _by_position(init: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """``args`` extended with the positional-only parameters ``kwargs`` names (taken out of it), and the defaults
    of those before them."""
    rest = _positional_only(init)[len(args) :]
    last = max((i for i, (name, _) in enumerate(rest) if name in kwargs), default=-1)
    if any(default is inspect.Parameter.empty and name not in kwargs for name, default in rest[: last + 1]):
        return args  # a required one is missing: Python says so
    return (*args, *(kwargs.pop(name) if name in kwargs else default for name, default in rest[: last + 1]))


@functools.cache
def _parameters(init: Callable[..., Any]) -> tuple[tuple[str, ...], dict[str, Any], str | None]:
    """The positional parameters of ``init`` (after ``self``), the defaults of its named ones, and its ``*args``'s
    name."""
    try:
        parameters = list(init_parameters(init).values())
    except (TypeError, ValueError):
        return (), {}, None
    positional = tuple(p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    defaults = {p.name: p.default for p in parameters if p.default is not p.empty}
    star = next((p.name for p in parameters if p.kind is p.VAR_POSITIONAL), None)
    return positional, defaults, star


def _received(init: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> frozenset[str]:
    """The arguments ``init`` is given a value for by ``args`` and ``kwargs``: neither ``None`` nor the
    parameter's default (what a loader passes on from what it was given, lacking the argument)."""
    positional, defaults, star = _parameters(init)
    given = {**dict(zip(positional, args, strict=False)), **kwargs}
    names = {n for n, v in given.items() if v is not None and v is not defaults.get(n, inspect.Parameter.empty)}
    if star is not None and len(args) > len(positional):
        names.add(f"*{star}")
    return frozenset(names)


def wrap_init(
    cls: type, capture: Callable[[type, tuple[Any, ...], dict[str, Any]], ConfigSlot], *, inherited: bool = True
) -> None:
    """Make ``cls.__init__`` (its own, or the one it inherits, wrapped on ``cls``) capture its arguments on entry.

    Nothing is wrapped where the ``__init__`` is ``object.__init__`` (it takes no arguments) or already wraps,
    nor, without ``inherited``, where ``cls`` inherits it: at class creation, a wrapper in the class's namespace
    would stop ``@dataclass`` from adding the ``__init__`` it makes (it wraps at the first instance instead).

    The outermost ``__init__`` of an instance captures (``super().__init__(...)`` calls do not): its arguments
    are those the caller gave. ``capture(type(self), args, kwargs)`` returns the configuration's slot.
    """
    init: Callable[..., None] = cls.__init__  # type: ignore[misc]
    if init is object.__init__ or getattr(init, _WRAPPED, False):
        return
    own = "__init__" in cls.__dict__
    if not own and not inherited:
        return

    @functools.wraps(init)
    def __init__(self: Any, /, *args: Any, **kwargs: Any) -> None:  # (``__init__`` may take a keyword ``self``)
        if not _captured(self) and hasattr(self, "__dict__"):
            received = _received(init, args, kwargs)
            builds = _BUILDS.get()
            if builds is not None:
                builds.append((type(self), received))
            if LOADING.get():  # config.json names every argument: positional-only ones go by position
                args = _by_position(init, args, kwargs)
            slot = capture(type(self), args, kwargs)
            slot.received = received
            object.__setattr__(self, _SLOT, slot)
        if own:
            init(self, *args, **kwargs)
        else:  # inherited: the next ``__init__`` in the instance's MRO, as if this wrapper were not there
            super(cls, self).__init__(*args, **kwargs)  # type: ignore[arg-type]

    # For introspection that does not follow __wrapped__ (Keras' auto-config uses getfullargspec).
    with contextlib.suppress(TypeError, ValueError):
        __init__.__signature__ = inspect.signature(init)  # type: ignore[attr-defined]
    setattr(__init__, _WRAPPED, True)
    cls.__init__ = __init__  # type: ignore[misc]
