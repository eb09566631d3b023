"""Whether an ``__init__`` argument comes back from ``config.json`` as the type it was given, where nothing in
its annotation says that type (no annotation, ``Any``, or inside a ``dict[str, Any]``); and a value decoded as its
default's type where that is all that says it."""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import enum
import inspect
import re
import types
import typing
from typing import Any

from hubmixin_core._checks import same_value
from hubmixin_core._forwarding import literal
from hubmixin_core._type_aliases import without_aliases

__all__ = [
    "decoded_as_default",
    "enum_module_base",
    "is_mapping",
    "json_native",
    "key_annotation",
    "read_only_sequence",
    "sentinel_default",
    "type_change",
]

_JSON_SCALARS = (str, int, float, bool, type(None))
_SEQUENCES = (list, collections.abc.Sequence, collections.abc.MutableSequence)


def json_native(value: Any) -> bool:
    """Whether ``value`` is JSON as it is (scalars, lists, dicts with string keys): it comes back unchanged."""
    if isinstance(value, _JSON_SCALARS):
        return type(value) in _JSON_SCALARS
    if type(value) is list:
        return all(json_native(item) for item in value)
    if type(value) is dict:
        return all(isinstance(k, str) and json_native(v) for k, v in value.items())
    return False


def is_mapping(origin: Any) -> bool:
    """Whether ``origin`` (an annotation's, ``typing.get_origin``) is a mapping class (``dict``, ``OrderedDict``)."""
    return isinstance(origin, type) and issubclass(origin, collections.abc.Mapping)


def enum_module_base(annotation: Any) -> bool:
    """Whether ``annotation`` is ``enum.Enum`` itself or another of the ``enum`` module's bases (``IntEnum``,
    ``StrEnum``, ``Flag``): it names no members, so says no more than ``Any``."""
    return isinstance(annotation, type) and issubclass(annotation, enum.Enum) and annotation.__module__ == "enum"


def _loose(annotation: Any) -> bool:
    """Whether ``annotation`` says nothing of a value's type (``enum.Enum`` itself: no member, no subclass named)."""
    return annotation in (Any, object, inspect.Parameter.empty) or enum_module_base(annotation)


def _member_for(annotation: Any, value: Any) -> Any:
    """The member of a union ``annotation`` that ``value`` is an instance of (its class or generic origin), or
    ``Any`` if a member is ``Any``; ``None`` if no member says."""
    members = typing.get_args(annotation)
    if any(_loose(m) for m in members):
        return Any
    for member in members:
        origin = typing.get_origin(member) or member
        with contextlib.suppress(TypeError):  # a Protocol not checkable at run time says nothing
            if isinstance(origin, type) and isinstance(value, origin):
                return member
    return None


Change = tuple[str, str, str] | None
"""Where a value comes back as another type, and both types' names; ``None`` where it does not."""


def type_change(before: Any, after: Any, where: str, annotation: Any = Any) -> Change:
    """The first place (``where``: an argument, then its keys) where ``after`` (the value decoded from
    ``config.json``) holds another type than ``before`` (the value given) and ``annotation`` does not say the
    type, with both types' names; ``None`` if there is none.

    A subclass is the same type (a ``PurePath`` given back as a ``Path``), and so is an equal value that is no
    enum (``jnp.bfloat16`` given back as ``dtype("bfloat16")``); an enum given back as its value is a change.
    """
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = _member_for(annotation, before)
        if annotation is None:  # the annotation says the type (the decoder took it into account)
            return None
    origin = typing.get_origin(annotation) or annotation
    args = typing.get_args(annotation)
    if not _loose(annotation):
        if is_mapping(origin) and isinstance(before, dict) and isinstance(after, dict):
            return _items_change(before, after, where, args[1] if len(args) == 2 else Any)  # (bare ``dict``: Any)
        if origin in (*_SEQUENCES, tuple) and isinstance(before, list | tuple) and isinstance(after, list | tuple):
            return _sequence_change(before, after, where, _item_annotation(args))
        if dataclasses.is_dataclass(before) and type(after) is type(before):
            return _fields_change(before, after, where)
        if dataclasses.is_dataclass(before) and dataclasses.is_dataclass(after) and isinstance(before, type(after)):
            return where, type(before).__qualname__, base_dataclass_change(before, after)
        return None  # annotated: the decoder gave what the annotation says
    if not isinstance(after, type(before)):
        if same_value(after, before) and not isinstance(before, enum.Enum):
            return None
        return where, type(before).__qualname__, type(after).__qualname__
    if isinstance(before, dict):
        return _items_change(before, after, where, Any)
    if isinstance(before, list | tuple):
        return _sequence_change(before, after, where, Any)
    if dataclasses.is_dataclass(before):
        return _fields_change(before, after, where)
    return None


ANNOTATED_BASE = "the annotated dataclass"
"""Marks the type name :func:`type_change` gives for a dataclass subclass's instance given back as its base."""


def base_dataclass_change(before: Any, after: Any) -> str:
    """``after``'s class named as :data:`ANNOTATED_BASE`, with the fields of ``before`` (an instance of a subclass of
    that dataclass) that it drops."""
    kept = {f.name for f in dataclasses.fields(after)}
    dropped = [f.name for f in dataclasses.fields(before) if f.init and f.name not in kept]
    fields = f", without its fields {dropped}" if dropped else ""
    return f"{type(after).__qualname__} ({ANNOTATED_BASE}{fields})"


def _item_annotation(args: tuple[Any, ...]) -> Any:
    """What a sequence annotation's arguments say of each item: ``list[X]`` and ``tuple[X, ...]`` say ``X``; a bare
    ``list`` or ``Sequence``, and a fixed ``tuple[A, B]`` (checked item by item by its decoder), nothing more."""
    if len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis):
        return args[0]
    return Any


def _items_change(before: dict[Any, Any], after: dict[Any, Any], where: str, annotation: Any) -> Change:
    for key, item in before.items():
        if key not in after:  # JSON keys are strings: an integer key comes back one unless annotated
            return f"{where}[{key!r}]", f"{type(key).__qualname__} key", "str key"
        found = type_change(item, after[key], f"{where}[{key!r}]", annotation)
        if found is not None:
            return found
    return None


def _sequence_change(before: Any, after: list[Any] | tuple[Any, ...], where: str, annotation: Any) -> Change:
    for i, (item, other) in enumerate(zip(before, after, strict=False)):
        found = type_change(item, other, f"{where}[{i}]", annotation)
        if found is not None:
            return found
    return None


def _abstract_sequence(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (collections.abc.Sequence, collections.abc.MutableSequence)


_READ_ONLY = (collections.abc.Sequence, collections.abc.Collection, collections.abc.Iterable)


def read_only_sequence(annotation: Any) -> bool:
    """Whether ``annotation`` is a read-only abstract sequence (``Sequence[int]``, ``Collection``, ``Iterable``, or
    a union holding one and no ``list``): a tuple given to it, its default too, may come back a tuple."""
    members = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    origins = [typing.get_origin(m) or m for m in (members or (annotation,))]
    return any(o in _READ_ONLY for o in origins) and not any(
        o in (list, collections.abc.MutableSequence) for o in origins
    )


def _fields_change(before: Any, after: Any, where: str) -> Change:
    try:
        hints = {name: without_aliases(hint) for name, hint in typing.get_type_hints(type(before)).items()}
    except Exception:  # unresolvable annotations: trust them
        return None
    for field in dataclasses.fields(before):
        name = field.name
        value, back = getattr(before, name), getattr(after, name)
        if isinstance(value, tuple) and type(back) is list and _abstract_sequence(hints.get(name)):
            return f"{where}.{name}", type(value).__qualname__, "list"  # a frozen config's hash and equality break
        found = type_change(value, back, f"{where}.{name}", hints.get(name, Any))
        if found is not None:
            return found
    return None


def sentinel_default(default: Any, annotation: Any = Any) -> bool:
    """Whether ``default`` is an Enum member standing for "not given" (attrs' ``NOTHING``, a PEP 661-style
    ``_Missing.MISSING``): its annotation admits no value of its type (``int = NOTHING``), or its enum has that one
    member and the annotation names other types too (``list[int] | _Missing = MISSING``). Such a default is left
    out of config.json (huggingface_hub cannot hold it either), so it applies at load. An ordinary enum default is a
    value (``Act | str = Act.GELU``, a ``str`` enum's member for a ``str``); without an annotation (or ``Any``) it
    says the argument's type."""
    if not isinstance(default, enum.Enum) or _loose(annotation):
        return False
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    named = [a for a in typing.get_args(annotation) if a is not type(None)] if union else [annotation]
    if any(_enum_class_of(a, default) for a in named):
        return len(type(default)) == 1 and not all(_enum_class_of(a, default) for a in named)
    return not any(_admits(a, default) for a in named)


def _enum_class_of(annotation: Any, member: enum.Enum) -> bool:
    """Whether ``annotation`` is an enum class ``member`` belongs to."""
    return isinstance(annotation, type) and issubclass(annotation, enum.Enum) and isinstance(member, annotation)


def _admits(annotation: Any, value: Any) -> bool:
    """Whether ``annotation`` (a class, a generic of one, a ``Literal``) takes ``value``; ``False`` where it cannot
    be told (a Protocol not checkable at run time)."""
    if typing.get_origin(annotation) is typing.Literal:
        return any(value == a for a in typing.get_args(annotation))
    origin = typing.get_origin(annotation) or annotation
    with contextlib.suppress(TypeError):
        return isinstance(origin, type) and isinstance(value, origin)
    return False


def decoded_as_default(default: Any, value: Any) -> Any:
    """The JSON ``value`` of an argument with no annotation, as the type of its ``default`` where that is a tuple
    or an enum (``image_shape=(224, 224, 3)``: a list comes back a tuple); unchanged otherwise, and where that type
    refuses the value (a string that names no member of the enum). Not a path: such an argument may be given a
    URL, which a path would mangle."""
    if value is None:
        return value
    if isinstance(default, enum.Enum):
        try:
            return type(default)(value)
        except (ValueError, TypeError):
            return value
    if type(default) is tuple and type(value) is list:
        if len(default) == len(value):
            return tuple(decoded_as_default(d, v) for d, v in zip(default, value, strict=True))
        alike = default and all(type(item) is type(default[0]) for item in default)
        return tuple(decoded_as_default(default[0], v) for v in value) if alike else tuple(value)
    return value


_INDEX = re.compile(r"\[((?:'[^']*'|\"[^\"]*\"|[^\]])*)\]")


def key_annotation(value: Any, path: str, key_type: str) -> str | None:
    """An annotation for ``value`` saying the key type ``key_type`` of the dict at ``path`` (``['cls'][0]``, the
    last index being that dict's key): ``dict[str, dict[int, ...]]``, ``list[dict[int, ...]]``; ``None`` where the
    path cannot be followed."""
    try:
        keys = [literal(part) for part in _INDEX.findall(path)]
        outer: list[tuple[str, str]] = []
        for key in keys[:-1]:
            if isinstance(value, dict):
                outer.append((f"dict[{type(key).__name__}, ", "]"))
            elif isinstance(value, list | tuple):
                outer.append((f"{type(value).__name__}[", ", ...]" if isinstance(value, tuple) else "]"))
            else:
                return None
            value = value[key]
    except (ValueError, SyntaxError, KeyError, IndexError, TypeError):
        return None
    return "".join(o for o, _ in outer) + f"dict[{key_type}, ...]" + "".join(c for _, c in reversed(outer))
