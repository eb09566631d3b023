"""Exceptions raised by hubmixin.

Every exception derives from :class:`HubMixinError` and from the builtin it refines, so ``except ValueError``
keeps working. Errors of the `huggingface_hub` client (``RepositoryNotFoundError``, ...) are re-raised as they
are. Messages name the file, key, shape or dtype at fault.
"""

from __future__ import annotations

import builtins
import functools
import sys
import types
from collections.abc import Sequence
from typing import Any, Self, cast

from huggingface_hub.errors import EntryNotFoundError, RemoteEntryNotFoundError

__all__ = [
    "ConfigError",
    "ConfigEncodingError",
    "ConfigEncodingWarning",
    "ConfigTypeError",
    "DeviceError",
    "HubMixinError",
    "HubMixinFileExistsError",
    "HubMixinFileNotFoundError",
    "HubMixinIndexError",
    "HubMixinIsADirectoryError",
    "HubMixinKeyError",
    "HubMixinNotADirectoryError",
    "HubMixinOSError",
    "HubMixinPermissionError",
    "HubMixinRuntimeError",
    "HubMixinTypeError",
    "HubMixinValueError",
    "InvalidRepoPathError",
    "LayerSettingsWarning",
    "LoaderOptionWarning",
    "LayoutError",
    "MissingArgumentError",
    "RepoWeightsNotFoundError",
    "SaveLocationError",
    "ShardIndexError",
    "WeightsDtypeError",
    "WeightsError",
    "WeightsFileError",
    "WeightsKeyError",
    "WeightsNotFoundError",
    "WeightsShapeError",
    "format_names",
]


class HubMixinError(Exception):
    """Root of every exception raised by hubmixin."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its message and attributes, not by calling its __init__ again (most take other arguments
        # than the message): an error raised in a worker process reaches the parent whole.
        args = self.args
        if isinstance(self, OSError) and self.filename is not None:  # (not in args, as OSError's own pickling)
            args = (self.errno, self.strerror, self.filename, None, self.filename2)
        return (_rebuilt, (type(self), args, dict(vars(self))))


def _rebuilt(cls: type[HubMixinError], args: tuple[Any, ...], state: dict[str, Any]) -> HubMixinError:
    # The first builtin base's __new__, unless another one lays the instance out (OSError, for WeightsNotFoundError).
    new = OSError.__new__ if issubclass(cls, OSError) else cls.__new__
    error = new(cls, *args)
    BaseException.__init__(error, *args[:2] if len(args) == 5 and issubclass(cls, OSError) else args)
    vars(error).update(state)
    return error


# USAGE ERRORS: a call hubmixin cannot honour (wrong argument, unsupported class); each is also the builtin
# Python itself would raise for it, so callers catching ``TypeError``/``ValueError``/... keep working.


class HubMixinTypeError(HubMixinError, TypeError):
    """An argument or class of the wrong kind (an unexpected keyword, a model class of another framework...)."""


class HubMixinValueError(HubMixinError, ValueError):
    """An argument with a value hubmixin cannot use (a size like ``"5XB"``, an unknown device...)."""


class DeviceError(HubMixinValueError, RuntimeError):
    """A device that is not one, or not on this machine (``map_location="cuda"`` without CUDA).

    Also a ``RuntimeError``, as the framework's own error for it.
    """


class HubMixinKeyError(HubMixinError, KeyError):
    """A name hubmixin does not know (a dtype without a safetensors or numpy equivalent)."""


class HubMixinIndexError(HubMixinError, IndexError):
    """An index or slice outside a tensor, or one that cannot be read from a file."""


class HubMixinOSError(HubMixinError, OSError):
    """A file-system step failed: of a save (the directory keeps its previous content), or a read of a load.

    Made with an errno, it is also the builtin Python raises for that errno, as ``OSError(errno, ...)`` is
    (``PermissionError`` for ``EACCES``, ``FileNotFoundError`` for ``ENOENT``...): ``except PermissionError`` holds.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        if cls is HubMixinOSError and args and isinstance(args[0], int):
            builtin = _BY_ERRNO_CLASS.get(type(OSError(args[0], "")), cls)
            return cast(Self, super().__new__(builtin, *args, **kwargs))
        return super().__new__(cls, *args, **kwargs)


class HubMixinPermissionError(HubMixinOSError, PermissionError):
    """A ``HubMixinOSError`` for ``EACCES``/``EPERM``."""


class HubMixinFileNotFoundError(HubMixinOSError, FileNotFoundError):
    """A ``HubMixinOSError`` for ``ENOENT``."""


class HubMixinFileExistsError(HubMixinOSError, FileExistsError):
    """A ``HubMixinOSError`` for ``EEXIST``."""


class HubMixinIsADirectoryError(HubMixinOSError, IsADirectoryError):
    """A ``HubMixinOSError`` for ``EISDIR``."""


class HubMixinNotADirectoryError(HubMixinOSError, NotADirectoryError):
    """A ``HubMixinOSError`` for ``ENOTDIR``."""


_BY_ERRNO_CLASS: dict[type[OSError], type[HubMixinOSError]] = {
    PermissionError: HubMixinPermissionError,
    FileNotFoundError: HubMixinFileNotFoundError,
    FileExistsError: HubMixinFileExistsError,
    IsADirectoryError: HubMixinIsADirectoryError,
    NotADirectoryError: HubMixinNotADirectoryError,
}


class HubMixinRuntimeError(HubMixinError, RuntimeError):
    """A call at a moment it cannot run (a ``LocalHub`` used before it started, or started twice)."""


class SaveLocationError(HubMixinOSError, FileExistsError, NotADirectoryError):
    """``save_pretrained``'s directory is a file, or lies under one. Also a ``FileExistsError`` and a
    ``NotADirectoryError``, as huggingface_hub's mixin raises (``Path.mkdir``'s) in those two cases."""


# CONFIG ERRORS


class ConfigError(HubMixinError, ValueError):
    """A model configuration cannot be read, written or applied."""


class ConfigEncodingError(ConfigError, TypeError):
    """An `__init__` argument cannot be encoded into ``config.json`` (raised when ``strict_config=True``).

    Attributes:
        parameter: Name of the `__init__` parameter.
        value_type: Type of the value that could not be encoded.
        part: Where inside the value the first part JSON cannot hold is (``".shd.emb"`` of a dataclass,
            ``"[0]"`` of a list), or ``None`` when it is the value itself.
        part_type: That part's type (``value_type`` when ``part`` is ``None``).
        key_type: The type of the dict key at ``part`` that is not a string, or ``None``.
        coder_type: The type whose declared coder returned data JSON cannot hold, or ``None``.
        given_class: The qualified name of the class given as the value where an instance of it was meant
            (``Net(config=Cfg)``), or ``None``.
        refused_by: The class's own hook that refused the value (``"Net._is_jsonable"``, huggingface_hub's hook
            overridden), or ``None``.
    """

    def __init__(
        self,
        parameter: str,
        value_type: type,
        cls_name: str,
        part: str | None = None,
        part_type: type | None = None,
        key_type: type | None = None,
        coder_type: type | None = None,
        coder_fault: tuple[str, type] | None = None,
        *,
        given_class: str | None = None,
        refused_by: str | None = None,
    ) -> None:
        self.parameter = parameter
        self.given_class = given_class
        self.refused_by = refused_by
        self.value_type = value_type
        self.part = part
        self.part_type = part_type or value_type
        self.key_type = key_type
        self.coder_type = coder_type
        if refused_by is not None:  # (whatever JSON or a coder would make of it)
            at = ""
            advice = f"{refused_by} refuses it: give it again at load, or make {refused_by} accept it."
            if refused_by.startswith("huggingface_hub's"):  # (its mixin first in the bases: its loader reads no more)
                advice = f"{refused_by} refuses it: give it again at load, or put hubmixin's mixin first in the bases."
        elif coder_type is not None:  # the class's own coder is at fault
            at = "" if part is None else f" (at {parameter}{part}: {_type_name(self.part_type)})"
            where, found = coder_fault or ("", object)
            advice = (
                f"The encoder of the coder declared for {coder_type.__qualname__} returned a {_type_name(found)}"
                f"{f' at {where}' if where else ''}, which JSON cannot hold: make it return JSON data (None, "
                "booleans, numbers, strings, lists, dicts with string keys)."
            )
        elif key_type is not None:  # the part is a dict's key
            at = f" (at {parameter}{part}: a {_type_name(key_type)} key)"
            advice = "JSON object keys are strings (integers are written as their digits): use such keys, or pairs."
        else:
            at = "" if part is None else f" (at {parameter}{part}: {_type_name(self.part_type)})"
            coder = f"`class {cls_name}(..., coders={{{_spelled_type(self.part_type)}: (encode, decode)}})`"
            advice = f"Pass a JSON-compatible value, a dataclass, or declare a coder for this type with {coder}."
            if given_class is not None:  # (``Net(config=Cfg)``, the parentheses forgotten)
                advice = f"{parameter!r} is the class {given_class} itself, not an instance: pass {given_class}(...)."
            if _is_function_type(self.part_type):
                advice += f" For a function, take its name instead (`{parameter}: str`) and look it up in __init__."
        super().__init__(
            f"{cls_name}: argument {parameter!r} of type {_type_name(value_type)}{at} cannot be encoded into "
            f"config.json. {advice}"
        )


_COMPILING = frozenset({"jax", "jaxlib", "torch", "tensorflow"})
"""Frameworks whose compiled functions have classes of their own (``jaxlib._jax.PjitFunction``)."""


def _is_function_type(type_: type) -> bool:
    """Whether ``type_`` is a function's class, or a framework's compiled function's (``PjitFunction``); not a
    class of the user's that only has ``Function`` in its name (a loss object keeps state a name would lose)."""
    functions = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial)
    compiled = type_.__module__.partition(".")[0] in _COMPILING and "Function" in type_.__name__
    return issubclass(type_, functions) or compiled


def _spelled_type(type_: type) -> str:
    """``type_`` as code names it: ``types.FunctionType`` for a function's class (whose own name, ``function``,
    names nothing), else its qualified name."""
    if type_.__module__ == "builtins" and getattr(builtins, type_.__qualname__, None) is not type_:
        name = next((n for n, t in vars(types).items() if t is type_ and not n.startswith("_")), None)
        if name is not None:
            return f"types.{name}"
    if not _reachable(type_):  # a private module's class not exported (``jaxlib._jax.PjitFunction``)
        base = _public_base(type_)  # (``jax.Array`` for ``jaxlib._jax.ArrayImpl``: a coder for it takes both)
        return _spelled_type(base) if base is not None else f"{type_.__module__}.{type_.__qualname__}"
    short = type_.__qualname__.rpartition(".")[2]
    if short != type_.__qualname__ and _names(type_.__module__, short, type_):
        return f"{type_.__module__}.{short}"  # (``jax.Array``, whose qualified name is a private one's)
    return type_.__qualname__


def _names(module: str, name: str, type_: type) -> bool:
    """Whether ``module``'s ``name`` (dotted: a nested class) is ``type_``."""
    found: Any = sys.modules.get(module)
    for part in name.split("."):
        found = getattr(found, part, None)
    return found is type_


def _public_base(type_: type) -> type | None:
    """The first base class of ``type_`` that code names (see :func:`_reachable`), other than Python's own."""
    for base in type_.__mro__[1:]:
        top = base.__module__.partition(".")[0]
        if top not in sys.stdlib_module_names and top != "builtins" and _reachable(base):
            return base
    return None


def _reachable(type_: type) -> bool:
    """Whether code names ``type_`` by its qualified name: a class of the running script (``__main__``), of a
    public module, or exported by a public package above its private module (``mylib.Block``)."""
    parts = type_.__module__.split(".")
    if parts[0] in ("__main__", "__mp_main__") or not any(part.startswith("_") for part in parts):
        return True
    public = parts[: next(i for i, part in enumerate(parts) if part.startswith("_"))]
    return any(_names(".".join(public[:end]), type_.__qualname__, type_) for end in range(len(public), 0, -1))


def _type_name(type_: type) -> str:
    spelled = _spelled_type(type_)
    if spelled.startswith("types."):
        return spelled
    if not _reachable(type_) and (base := _public_base(type_)) is not None:
        return _type_name(base)  # (a private class: the public one it is)
    return spelled if spelled != type_.__qualname__ else f"{type_.__module__}.{type_.__qualname__}"


class ConfigTypeError(ConfigError, TypeError):
    """A ``config.json`` value has another JSON type than its ``__init__`` annotation asks for.

    Raised before the model is built. Attributes:
        source: The config file.
        key: The key at fault (``key[0]``, ``key.field`` for a nested value).
        expected: The type the annotation asks for, as written in Python (``int``, ``list[float]``, ...).
        value: The value found.
    """

    def __init__(self, source: str, key: str, expected: str, value: object) -> None:
        self.source, self.key, self.expected, self.value = source, key, expected, value
        found = "null" if value is None else type(value).__name__
        super().__init__(f"{source}: key {key!r} must be {expected}, found {found} {value!r:.80}")


class MissingArgumentError(ConfigError, TypeError):
    """A required ``__init__`` argument is neither in ``config.json`` nor given to ``from_pretrained`` (raised
    before the weights are read or downloaded; also a ``TypeError``, as calling ``__init__`` without it is).

    Attributes:
        missing: The arguments' names.
    """

    def __init__(self, message: str, missing: Sequence[str]) -> None:
        self.missing = list(missing)
        super().__init__(message)


# PATH ERRORS


class InvalidRepoPathError(HubMixinError, ValueError):
    """A file name in a repository or index would resolve outside the model directory."""

    def __init__(self, path: str, source: str) -> None:
        self.path = path
        super().__init__(
            f"{source}: refusing file name {path!r}: it names no file inside the model directory (it is empty or "
            "absolute, or has a backslash, a drive, or a '.', '..' or empty part)"
        )


# WEIGHTS ERRORS


class WeightsError(HubMixinError, ValueError):
    """Weights cannot be saved or loaded."""


class WeightsNotFoundError(WeightsError, FileNotFoundError, EntryNotFoundError):
    """No weights file was found where one was expected.

    Also huggingface_hub's ``EntryNotFoundError``, as its mixin raises for a repository without weights.
    """


class RepoWeightsNotFoundError(WeightsNotFoundError, RemoteEntryNotFoundError):
    """No weights in a Hub repository.

    Also the client's ``RemoteEntryNotFoundError`` (an ``HfHubHTTPError``) for the last file asked for, as
    huggingface_hub's mixin raises there: ``except HfHubHTTPError`` keeps working. ``response`` is that 404.
    """

    def __init__(self, message: str, *, response: Any, server_message: str | None = None) -> None:
        RemoteEntryNotFoundError.__init__(self, message, response=response, server_message=server_message)


def weights_not_found(message: str, like: WeightsNotFoundError) -> WeightsNotFoundError:
    """A ``WeightsNotFoundError`` saying ``message``, of the kind of ``like`` (a repository's keeps its 404)."""
    if isinstance(like, RepoWeightsNotFoundError):
        return RepoWeightsNotFoundError(message, response=like.response, server_message=like.server_message)
    return WeightsNotFoundError(message)


class WeightsFileError(WeightsError):
    """A weights file is unreadable or not a valid safetensors file."""


class ShardIndexError(WeightsError):
    """A ``model.safetensors.index.json`` is malformed or inconsistent with its shards."""


class WeightsKeyError(WeightsError, KeyError, RuntimeError):
    """Tensors are missing from, or unexpected in, a checkpoint.

    Also a ``RuntimeError``, as torch's ``load_state_dict`` raises (code catching that keeps working).

    Attributes:
        missing: Names the model expects that the checkpoint lacks.
        unexpected: Names in the checkpoint that the model does not have.
    """

    def __init__(
        self, source: str, missing: Sequence[str] = (), unexpected: Sequence[str] = (), *, detail: str = ""
    ) -> None:
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        parts = [detail] if detail else []
        if self.missing:
            parts.append(f"missing keys [{format_names(self.missing)}]")
        if self.unexpected:
            parts.append(f"unexpected keys [{format_names(self.unexpected)}]")
        self.message = f"{source}: " + "; ".join(parts)
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class _Mismatch(WeightsError):
    """A tensor of another shape or dtype than the model's; one error may name several, as torch's does.

    Attributes:
        source: The checkpoint (or its file) named.
        key, expected, found: The (first) tensor at fault, what the model expects and what the checkpoint holds.
        problem: The message about that tensor, without ``source``.
        others: The other tensors at fault (each an error naming one), in the same message.
        missing, unexpected: The keys missing from and unexpected in the checkpoint, in the same message (a strict
            load's, as torch's ``load_state_dict`` names them beside the mismatches).
    """

    key: str
    expected: tuple[int, ...] | str
    found: tuple[int, ...] | str

    def _set(
        self,
        source: str,
        problem: str,
        others: Sequence[WeightsShapeError | WeightsDtypeError],
        missing: Sequence[str],
        unexpected: Sequence[str],
    ) -> None:
        self.source, self.problem, self.others = source, problem, list(others)
        self.missing, self.unexpected = list(missing), list(unexpected)
        more = [
            other.problem if other.source == source else f"{other.source}: {other.problem}" for other in self.others
        ]
        if self.missing:
            more.append(f"missing keys [{format_names(self.missing)}]")
        if self.unexpected:
            more.append(f"unexpected keys [{format_names(self.unexpected)}]")
        listed = f"; {len(more)} more:" + "".join(f"\n  {line}" for line in more) if more else ""
        super().__init__(f"{source}: {problem}{listed}")

    @property
    def mismatches(self) -> list[WeightsShapeError | WeightsDtypeError]:
        """Every tensor at fault, each as an error naming one (this one first)."""
        return [cast("WeightsShapeError | WeightsDtypeError", self), *self.others]  # (the only subclasses)


class WeightsShapeError(_Mismatch, RuntimeError):
    """A tensor in a checkpoint has another shape than the model's (also a ``RuntimeError``, as torch's).

    ``key``, ``expected`` and ``found`` name the first such tensor, ``mismatches`` every one (dtype mismatches
    found with them too); ``missing`` and ``unexpected`` list a strict load's keys, named in the same message.
    """

    expected: tuple[int, ...]
    found: tuple[int, ...]

    def __init__(
        self,
        source: str,
        key: str,
        expected: Sequence[int],
        found: Sequence[int],
        *,
        others: Sequence[WeightsShapeError | WeightsDtypeError] = (),
        missing: Sequence[str] = (),
        unexpected: Sequence[str] = (),
    ) -> None:
        self.key, self.expected, self.found = key, tuple(expected), tuple(found)
        problem = f"tensor {key!r} has shape {self.found}, the model expects {self.expected}"
        self._set(source, problem, others, missing, unexpected)


class WeightsDtypeError(_Mismatch, TypeError, RuntimeError):
    """A tensor in a checkpoint has another dtype than the model's, and no conversion was asked for.

    Also a ``RuntimeError``, like the other errors of a strict load. ``key``, ``expected`` and ``found`` name the
    first such tensor, ``mismatches`` every one; ``missing`` and ``unexpected`` list a strict load's keys.
    """

    expected: str
    found: str

    def __init__(
        self,
        source: str,
        key: str,
        expected: str,
        found: str,
        *,
        detail: str = "",
        others: Sequence[WeightsShapeError | WeightsDtypeError] = (),
        missing: Sequence[str] = (),
        unexpected: Sequence[str] = (),
    ) -> None:
        self.key, self.expected, self.found, self.detail = key, expected, found, detail
        suffix = f" ({detail})" if detail else ""
        problem = f"tensor {key!r} has dtype {found}, the model expects {expected}{suffix}"
        self._set(source, problem, others, missing, unexpected)


class LayoutError(WeightsError):
    """A layout adapter cannot be registered (another one holds the layer type) or cannot map a layer's tensors."""


def format_names(names: Sequence[str], limit: int = 10) -> str:
    """Tensor or key names for a message: the first ``limit`` quoted, then how many more.

    Examples:
        >>> format_names(["a", "b", "c"], limit=2)
        "'a', 'b' (+1 more)"
    """
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


# WARNINGS


class ConfigEncodingWarning(UserWarning):
    """An ``__init__`` argument is left out of ``config.json``: it cannot be encoded, or it was given beside a
    dataclass ``config`` (which the file then holds alone)."""


class LoaderOptionWarning(UserWarning):
    """A ``from_pretrained`` option was given that the model's ``__init__`` also takes as an argument: the loader
    takes it (huggingface_hub's loader, which lacks that option, gives it to ``__init__``)."""


class LayerSettingsWarning(UserWarning):
    """A layer of the model has a setting that changes results (norm epsilon, padding, strides, heads, ...)
    different from the same layer of the model that saved the checkpoint: the weights load, the outputs differ."""
