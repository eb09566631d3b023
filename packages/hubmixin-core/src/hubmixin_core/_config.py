"""Encoding `__init__` arguments into JSON config values and decoding them back by annotation."""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import enum
import inspect
import json
import os
import types
import typing
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any, NamedTuple

import numpy as np

from hubmixin_core._roundtrip import decoded_as_default, enum_module_base, is_mapping
from hubmixin_core._type_aliases import without_aliases
from hubmixin_core.errors import HubMixinValueError
from hubmixin_core.typing import Coders

__all__ = [
    "BUILTIN_CODERS",
    "UNENCODABLE",
    "decode_value",
    "decoded_like_default",
    "describe_type",
    "encode_config",
    "encode_value",
    "init_type_hints",
    "is_field_default",
    "is_json_of",
    "json_type_mismatch",
    "loads_config",
    "Mismatch",
    "unencodable_part",
    "unknown_fields",
    "NonStringKey",
    "json_key",
    "coder_output_fault",
    "all_subclasses",
]


class _Unencodable:
    """Marker returned by :func:`encode_value` for a value JSON cannot hold."""

    def __repr__(self) -> str:
        return "<unencodable>"


UNENCODABLE: Any = _Unencodable()

BUILTIN_CODERS: Coders = {
    PurePath: (PurePath.as_posix, Path),
}
"""Coders every mixin has: paths are stored as strings with ``/`` separators (a ``config.json`` saved on Windows
loads elsewhere; Windows reads ``/`` too), and read back as ``Path``. Enums are handled by value."""


def encode_value(value: Any, coders: Coders, _above: frozenset[int] = frozenset()) -> Any:
    """JSON data for ``value``, or :data:`UNENCODABLE`.

    Custom coders win over the built-in rules, for JSON's own types too (a ``tuple`` coder writing ``"224x224"``);
    dataclasses become dicts (recursively), enums their value, tuples lists. A value holding itself (a tree with
    parent links) is unencodable.
    """
    if value is None:
        return value
    for type_, (encoder, _) in coders.items():
        if isinstance(value, type_):
            encoded = encoder(value)
            return encoded if coder_output_fault(encoded) is None else UNENCODABLE
    if type(value) in (bool, int, str, float):  # inf and nan as Python's json writes them
        return value
    if isinstance(value, enum.Enum):  # a StrEnum or IntEnum too: its plain value (the enum decodes it, no coder)
        plain = value.value
        return plain if type(plain) in (bool, int, str, float) else encode_value(plain, coders)
    for scalar in (bool, int, str, float):  # other subclasses (numpy.float64): as the plain type
        if isinstance(value, scalar):
            return encode_value(scalar(value), coders)
    if isinstance(value, np.generic) and type(value.item()) in (bool, int, float):  # numpy.int64, float32, bool_
        return value.item()
    if id(value) in _above:
        return UNENCODABLE
    above = _above | {id(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_items({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, coders, above)
    if isinstance(value, list | tuple):
        items = [encode_value(v, coders, above) for v in value]
        return UNENCODABLE if any(v is UNENCODABLE for v in items) else items
    if isinstance(value, dict):
        keys = [key for key in map(json_key, value) if key is not None]
        if len(set(keys)) < len(value):  # a key JSON cannot hold, or two alike (``{1: .., "1": ..}``)
            return UNENCODABLE
        return _encode_items(dict(zip(keys, value.values(), strict=True)), coders, above)
    return UNENCODABLE


def encode_config(config: Any, coders: Coders) -> Any:
    """The JSON object of a whole config (a dict, or a dataclass's fields), or :data:`UNENCODABLE`: coders apply to
    the values in it, never to the mapping itself (a ``dict`` coder is for dict arguments). Values JSON holds
    already (a captured config is encoded) are kept as they are: a coder for ``str`` or ``list`` is not applied
    twice."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        if any(isinstance(config, type_) for type_ in coders):  # the class's coder for it: a JSON object
            encoded = encode_value(config, coders)
            return encoded if isinstance(encoded, dict) else UNENCODABLE
        return _encode_items({f.name: getattr(config, f.name) for f in dataclasses.fields(config)}, coders)
    if not isinstance(config, dict):
        return UNENCODABLE
    others = {t: c for t, c in coders.items() if not any(issubclass(j, t) for j in _JSON_VALUE_TYPES)}
    return encode_value(config, others)


_JSON_VALUE_TYPES = (type(None), bool, int, float, str, list, dict)


def json_key(key: Any) -> str | None:
    """``key`` as a JSON object key: a string as it is, an integer (``id2label``'s) as its digits, as
    ``json.dumps`` and so huggingface_hub write it (``dict[int, str]`` annotations decode it back); else None."""
    if isinstance(key, str):
        return str.__str__(key)  # its characters: a ``(str, Enum)`` member's value, as json.dumps writes it
    if isinstance(key, int | np.integer) and not isinstance(key, bool | np.bool_):
        return str(int(key))
    return None


def coder_output_fault(data: Any, where: str = "") -> tuple[str, Any] | None:
    """Where in a coder's output the first part JSON cannot hold is, and that part (``("['words']", {...})``);
    ``None`` when the output is JSON data (``None``, booleans, numbers, strings, lists, string-keyed dicts)."""
    if data is None or type(data) in (bool, int, float, str):
        return None
    if type(data) in (list, tuple):
        parts: list[tuple[str, Any]] = [(f"{where}[{i}]", item) for i, item in enumerate(data)]
    elif type(data) is dict:
        for key in data:
            if not isinstance(key, str):
                return f"{where}[{key!r}]", NonStringKey(key)
        parts = [(f"{where}[{k!r}]", item) for k, item in data.items()]
    else:
        return where, data
    for at, part in parts:
        found = coder_output_fault(part, at)
        if found is not None:
            return found
    return None


class NonStringKey(NamedTuple):
    """A dict key that is not a string (``unencodable_part``'s part): JSON object keys are strings."""

    key: Any


def unencodable_part(value: Any, coders: Coders, _above: frozenset[int] = frozenset()) -> tuple[str, Any] | None:
    """Where inside ``value`` (a dataclass, list or dict that :func:`encode_value` refuses) the first part JSON
    cannot hold is, and that part (``(".shd.emb", PartitionSpec(...))``, a :class:`NonStringKey` for a dict's
    key; a part holding a value it is inside of); ``None`` when it is ``value`` itself."""
    above = _above | {id(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts: list[tuple[str, Any]] = [(f".{f.name}", getattr(value, f.name)) for f in dataclasses.fields(value)]
    elif isinstance(value, list | tuple):
        parts = [(f"[{i}]", item) for i, item in enumerate(value)]
    elif isinstance(value, dict):
        for key in value:
            if json_key(key) is None:
                return f"[{key!r}]", NonStringKey(key)
        parts = [(f"[{k!r}]", item) for k, item in value.items()]
    else:
        return None
    for where, part in parts:
        if id(part) in above:
            return where, part
        if encode_value(part, coders, above) is UNENCODABLE:
            inner = unencodable_part(part, coders, above)
            return (where, part) if inner is None else (where + inner[0], inner[1])
    return None


def _encode_items(items: dict[str, Any], coders: Coders, above: frozenset[int] = frozenset()) -> Any:
    encoded = {k: encode_value(v, coders, above) for k, v in items.items()}
    return UNENCODABLE if any(v is UNENCODABLE for v in encoded.values()) else encoded


def decode_value(annotation: Any, value: Any, coders: Coders) -> Any:
    """Turn JSON data back into a value of type ``annotation`` where the annotation says how.

    Handles ``X | None``, dataclasses (nested ones too), enums, ``NamedTuple`` s, custom coders (for a
    ``Callable`` or Protocol, those of types of that kind), ``tuple``/``list``/``dict`` generics; anything else is
    returned unchanged.
    """
    if annotation is inspect.Parameter.empty or annotation is Any or isinstance(annotation, str):
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return decode_value(members[0], value, coders)
        return _decode_union(members, value, coders)
    if origin is typing.Annotated:
        return decode_value(args[0], value, coders)
    if origin is typing.Literal:  # ``Literal[Act.RELU, Act.GELU]``: an enum member, saved as its value
        if any(type(value) is type(a) and value == a for a in args):
            return value
        return next((a for a in args if isinstance(a, enum.Enum) and _literal_match(a, value, coders)), value)
    if _url_for_pathlike(annotation, value):  # (a Path would collapse its "//")
        return value
    coder = _coder_for(annotation, coders)
    if coder is not None:  # a declared coder wins, for a JSON type too (``tuple`` written as ``"224x224"``)
        base, decoder = coder
        return value if value is None else _decode_by_coder(base, decoder, value, coders)
    if _coders_under(annotation, coders) and value is not None:
        return _decode_under(annotation, value, coders)
    if origin in (collections.abc.Sequence, collections.abc.MutableSequence) and isinstance(value, list):
        return [decode_value(args[0] if args else Any, v, coders) for v in value]
    if origin in (tuple, list) and isinstance(value, list):
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode_value(args[0], v, coders) for v in value)
        if origin is tuple and len(args) == 1:  # ``Tuple[int]``, also written for any length
            return tuple(decode_value(args[0], v, coders) for v in value)
        if origin is tuple and args:
            return tuple(decode_value(a, v, coders) for a, v in zip(args, value, strict=False))
        item = args[0] if args else Any
        decoded = [decode_value(item, v, coders) for v in value]
        return tuple(decoded) if origin is tuple else decoded
    if is_mapping(origin) and isinstance(value, dict) and len(args) == 2:
        items = {_decode_key(args[0], k): decode_value(args[1], v, coders) for k, v in value.items()}
        if origin in _MAPPINGS:
            return items
        try:
            return origin(items)  # ``OrderedDict[int, str]``
        except TypeError:  # ``defaultdict``: its factory is not saved
            return items
    if not isinstance(annotation, type):
        return value
    if _integral_float(annotation, value):
        return int(value)
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        return _decode_dataclass(typing.cast(type, annotation), value, coders)
    if issubclass(annotation, enum.Enum) and not isinstance(value, annotation):
        return _decode_enum(annotation, value, coders)
    if _is_namedtuple(annotation) and isinstance(value, list):
        return _decode_namedtuple(annotation, value, coders)
    if annotation is tuple and isinstance(value, list):
        return tuple(value)
    return value


_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _literal_match(arg: Any, value: Any, coders: Coders) -> bool:
    """Whether JSON ``value`` is the ``Literal`` argument ``arg``: itself, or an enum member's saved value."""
    if isinstance(arg, enum.Enum) and not isinstance(value, enum.Enum):
        arg = encode_value(arg, coders)
    return type(value) is type(arg) and bool(value == arg)


def _decode_enum(annotation: type[enum.Enum], value: Any, coders: Coders) -> Any:
    """The member of ``annotation`` whose value ``value`` is, or whose value JSON holds as ``value`` (a tuple as
    a list, a path as a string, a dataclass as an object). An enum base without members (``class Act(ChoiceEnum)``
    annotated ``act: ChoiceEnum``) decodes as the one member of its subclasses of that value; ``enum.Enum``
    itself (or another of the ``enum`` module's bases) says no more than ``Any``: the value is given as saved.

    Raises:
        ValueError: No member has that value (as the enum raises it), or several of the base's subclasses do.
    """
    if not annotation.__members__:
        if enum_module_base(annotation):
            return value
        enums = [sub for sub in all_subclasses(annotation) if issubclass(sub, enum.Enum)]
        members = (member for sub in enums for member in sub.__members__.values())
        # (by identity: members of a str or int mixin compare and hash equal to their values, so to each other)
        found = list({id(member): member for member in members if _is_member_value(member, value, coders)}.values())
        if len(found) == 1:
            return found[0]
        which = sorted(f"{type(m).__qualname__}.{m.name}" for m in found) or "none of its subclasses' members"
        raise HubMixinValueError(f"{annotation.__qualname__} has no members, and {value!r} is the value of {which}")
    try:
        return annotation(value)
    except (ValueError, TypeError):
        for member in annotation:
            if type(member.value) not in (bool, int, float, str) and _same_json(member, value, coders):
                return member
        raise


def all_subclasses(base: type) -> list[type]:
    """Every subclass of ``base``, at any depth, each once."""
    found: dict[type, None] = {}
    pending = [base]
    sub: type
    while pending:
        with contextlib.suppress(TypeError):  # (``type.__subclasses__`` needs its instance)
            for sub in type.__subclasses__(pending.pop()):
                if sub not in found:
                    found[sub] = None
                    pending.append(sub)
    return list(found)


def _is_member_value(member: enum.Enum, value: Any, coders: Coders) -> bool:
    """Whether JSON ``value`` is what ``member`` is saved as (its value, or the JSON of it)."""
    return (type(member.value) is type(value) and bool(member.value == value)) or _same_json(member, value, coders)


def _same_json(member: enum.Enum, value: Any, coders: Coders) -> bool:
    """Whether enum ``member`` is saved as JSON ``value``."""
    try:
        return bool(encode_value(member, coders) == value)
    except Exception:  # (a value without a truth, or one no rule encodes)
        return False


def _url_for_pathlike(annotation: Any, value: Any) -> bool:
    """Whether ``value`` is a URL (``https://``, ``hf://``, ``s3://``) given to an ``os.PathLike`` argument, which
    stays the string it was (a path comes back a ``Path``)."""
    return (typing.get_origin(annotation) or annotation) is os.PathLike and isinstance(value, str) and "://" in value


def _coder_for(annotation: Any, coders: Coders) -> tuple[type, Any] | None:
    """The class ``annotation`` is (or is a generic of: ``tuple[int, int]``) and the decoder of the first coder
    whose type it is a subclass of; ``None`` where no coder takes it."""
    base = typing.get_origin(annotation) or annotation
    if base is os.PathLike:  # (the usual annotation of a path: the built-in coder encoded it from a PurePath)
        base = PurePath
    if not isinstance(base, type) or base is types.UnionType:
        return None
    return next(((base, decoder) for type_, (_, decoder) in coders.items() if issubclass(base, type_)), None)


def _coders_under(annotation: Any, coders: Coders) -> list[Any]:
    """The decoders of the coders whose types are a kind of ``annotation`` where that is a ``Callable`` or a
    Protocol (``nnx.Initializer``, coded with ``coders={types.FunctionType: ...}``): no JSON value is one, so a JSON
    value there can only be a coder's form. Not the coders of one kind of classes (a metaclass's: Flax's for
    ``jnp.float32``): a class is callable, but such an argument is not meant to be given one by its name; a coder
    the class declares for every class (``coders={type: ...}``, timm's ``act_layer=nn.GELU``) is used."""
    base = typing.get_origin(annotation) or annotation
    if base is not collections.abc.Callable and not getattr(base, "_is_protocol", False):
        return []
    # the latest declared first: the class's own coders before its framework's
    return [
        decoder
        for type_, (_, decoder) in reversed(coders.items())
        if not (issubclass(type_, type) and type_ is not type) and _falls_under(type_, base)
    ]


def _falls_under(type_: type, abstract: type) -> bool:
    """Whether ``type_``'s instances are ``abstract``'s: a subclass of it, or, for a Protocol not checkable at run
    time, a class that defines each of its members."""
    try:
        return issubclass(type_, abstract)
    except TypeError:  # a Protocol without @runtime_checkable
        members = {
            name
            for base in abstract.__mro__
            if getattr(base, "_is_protocol", False) and base is not typing.Protocol
            for name in (*vars(base), *getattr(base, "__annotations__", {}))
            if name not in _PROTOCOL_INTERNALS and not name.startswith("_abc_")
        }
        return all(any(name in vars(k) for k in type_.__mro__) for name in members)


class _EmptyProtocol(typing.Protocol):
    pass


_PROTOCOL_INTERNALS = frozenset(  # what ``class P(Protocol)`` has of its own, whatever it declares
    {*vars(typing.Protocol), *vars(typing.Generic), *vars(_EmptyProtocol), "__annotations__", "__orig_bases__"}
    | {"__protocol_attrs__", "__non_callable_proto_members__", "__static_attributes__", "__firstlineno__"}
)


def _decode_under(annotation: Any, value: Any, coders: Coders) -> Any:
    """JSON ``value`` by the first coder under ``annotation`` that takes it (see :func:`_coders_under`); the first
    refusal raised where none does."""
    refusals: list[Exception] = []
    for decoder in _coders_under(annotation, coders):
        try:
            return decoder(value)
        except Exception as e:  # another coder's form (a dtype's name for a ``Callable``)
            refusals.append(e)
    raise refusals[0]


def _is_namedtuple(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, tuple) and hasattr(annotation, "_fields")


def _decode_namedtuple(annotation: type, value: list[Any], coders: Coders) -> Any:
    """A ``typing.NamedTuple`` from the JSON list it was saved as, each field decoded by its annotation."""
    hints = _type_hints(annotation, coders)
    fields: tuple[str, ...] = getattr(annotation, "_fields")  # noqa: B009
    decoded = [decode_value(hints.get(name, Any), v, coders) for name, v in zip(fields, value, strict=False)]
    return annotation(*decoded, *value[len(fields) :])  # too many: the NamedTuple's own error


def _decode_key(annotation: Any, key: Any) -> Any:
    """A JSON object key as the key type ``annotation`` says: an integer type's from its digits, an enum's member
    of that value."""
    if not isinstance(annotation, type) or not isinstance(key, str):
        return key
    try:
        if issubclass(annotation, int) and not issubclass(annotation, bool) and key.lstrip("-").isdigit():
            return annotation(int(key))
        if issubclass(annotation, enum.Enum):
            return annotation(key)
    except ValueError:  # no member of that value: kept as written, as any value no annotation decodes
        pass
    return key


def _decode_union(members: list[Any], value: Any, coders: Coders) -> Any:
    """``value`` as the first member, in order, whose JSON type it is or that decodes it: a coder that accepts
    it, a dataclass whose fields its keys are, an enum it is a value of. A coder that refuses it (``"auto"`` for
    ``torch.dtype | str``) passes it on; a dict with keys a dataclass lacks is decoded as that dataclass (as a
    dataclass argument's is) only where no member takes it as it is, then by the coders under a ``Callable`` or
    Protocol member. Unchanged where no member takes it."""
    refusals: list[Exception] = []
    for member in members:
        if _is_json_match(member, value):
            return decode_value(member, value, coders)
        if _decodes(member, value, coders):
            try:
                return decode_value(member, value, coders)
            except Exception as e:  # the coder's or the dataclass's own check
                refusals.append(e)
    for member in members:
        if isinstance(member, type) and dataclasses.is_dataclass(member) and isinstance(value, dict):
            return decode_value(member, value, coders)
    for member in members:  # ``nnx.Initializer`` (a Protocol or a ``Callable``) given a coder's JSON form
        if _coders_under(member, coders) and value is not None:
            try:
                return _decode_under(member, value, coders)
            except Exception as e:
                refusals.append(e)
    if refusals:
        raise refusals[0]
    return value


_PLAIN = (Path, PurePath)
"""Path annotations read back as ``Path`` (``os.PathLike`` annotations reach the coder as ``PurePath``)."""


def _decode_by_coder(annotation: type, decoder: Any, value: Any, coders: Coders) -> Any:
    """``decoder(value)``; for a dataclass, a JSON object its coder refuses is read as the dataclass's fields,
    the form huggingface_hub writes (it encodes dataclasses before trying coders). A path comes back as the class
    its annotation names (a ``PureWindowsPath`` keeps its drive), where this system can make one."""
    own_path = isinstance(annotation, type) and issubclass(annotation, PurePath) and annotation not in _PLAIN
    if decoder is Path and own_path:
        with contextlib.suppress(NotImplementedError):  # (a WindowsPath annotation elsewhere: a Path, as before)
            return annotation(value)
    try:
        return decoder(value)
    except Exception:
        if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
            with contextlib.suppress(Exception):  # not that form either: the coder's own error says why
                return _decode_dataclass(annotation, value, coders)
        raise


def _integral_float(annotation: Any, value: Any) -> bool:
    """``3.0`` for an ``int``: JSON has one number type, so it is the int ``3`` (up to 2**53, where floats stop
    holding every integer: ``1e300`` is no size)."""
    return annotation is int and isinstance(value, float) and value.is_integer() and abs(value) <= 2**53


_JSON_TYPES: dict[Any, tuple[type, ...]] = {
    int: (int,),  # a bool only where the default is one (see json_type_mismatch)
    float: (int, float),  # JSON writes 1.0 as 1.0, but a user may write 1
    bool: (bool,),
    str: (str,),
    type(None): (type(None),),
}


def describe_type(annotation: Any) -> str:
    """``annotation`` as written in Python, for messages (``int``, ``list[float]``, ``str | None``)."""
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


class Mismatch(typing.NamedTuple):
    """A JSON value, or a part of it, that does not fit its annotation."""

    where: str
    """Locates the part in the value: ``""`` for the value itself, ``[0]``, ``['key']``, ``.field``."""
    expected: str
    """The type the annotation asks for there."""
    found: Any
    """The part found there."""


def json_type_mismatch(annotation: Any, value: Any, coders: Coders, *, bool_number: bool = False) -> Mismatch | None:
    """The first part of JSON ``value`` that cannot be of type ``annotation``, or ``None`` if it fits.

    Checked: ``int`` (a float of integral value, JSON having one number type: decoded as an int; a ``bool`` only
    with ``bool_number``, where the argument's default is a bool: ``x: int = False``, Python's bool being an int),
    ``float`` (``int`` accepted; a ``bool`` as for ``int``), ``bool``, ``str``,
    ``None``, ``Literal``, unions of those, ``list``/``tuple``/``dict`` and their generics, and the fields of
    dataclasses (a field's own default, in its JSON form, is taken whatever its annotation says, as
    huggingface_hub takes it); types with a coder, enums and other classes are left to their decoding.

    Examples:
        >>> json_type_mismatch(int, "abc", {})
        Mismatch(where='', expected='int', found='abc')
        >>> json_type_mismatch(list[bool], [True, 1], {})
        Mismatch(where='[1]', expected='bool', found=1)
        >>> json_type_mismatch(float | None, 3, {}) is None
        True
    """
    if annotation is inspect.Parameter.empty or annotation is Any or isinstance(annotation, str | typing.TypeVar):
        return None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return json_type_mismatch(args[0], value, coders, bool_number=bool_number)
    if origin is typing.Literal:
        if any(_literal_match(a, value, coders) for a in args):
            return None
        return Mismatch("", describe_type(annotation), value)
    if _coder_for(annotation, coders) is not None:  # the coder's JSON form, whatever its type: the decoder checks it
        return None
    if origin is typing.Union or origin is types.UnionType:
        each = [json_type_mismatch(member, value, coders, bool_number=bool_number) for member in args]
        if any(m is None for m in each):
            return None
        members = [m for m, member in zip(each, args, strict=True) if member is not type(None)]
        if len(members) == 1 and members[0] is not None and value is not None:  # ``X | None``: what X wants
            return members[0]
        return Mismatch("", describe_type(annotation), value)
    if annotation in _JSON_TYPES:
        ok = isinstance(value, _JSON_TYPES[annotation]) or _integral_float(annotation, value)
        if isinstance(value, bool) and annotation in (int, float):  # ``true`` for ``hidden: int = 4`` is a mistake
            ok = bool_number
        return None if ok else Mismatch("", describe_type(annotation), value)
    if origin in (list, tuple) or annotation in (list, tuple):
        if not isinstance(value, list):
            return Mismatch("", describe_type(annotation), value)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if args == ((),):  # tuple[()]
                args = ()
            if len(args) == 1 and len(value) != 1:  # ``Tuple[int]`` written for a tuple of any length (diffusers)
                args = (args[0],) * len(value)
            if len(value) != len(args):
                return Mismatch("", f"{describe_type(annotation)} ({len(args)} items)", value)
            items = list(zip(args, value, strict=True))
        else:
            items = [(args[0], v) for v in value] if args else []
        for i, (item, v) in enumerate(items):
            found = json_type_mismatch(item, v, coders)
            if found is not None:
                return found._replace(where=f"[{i}]{found.where}")
        return None
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            return Mismatch("", describe_type(annotation), value)
        if len(args) == 2:
            for key, v in value.items():
                found = json_type_mismatch(args[1], v, coders)
                if found is not None:
                    return found._replace(where=f"[{key!r}]{found.where}")
        return None
    if not isinstance(annotation, type) or any(issubclass(annotation, t) for t in coders):
        return None
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            return Mismatch("", f"{describe_type(annotation)} (a JSON object)", value)
        hints = _type_hints(annotation, coders)
        for f in dataclasses.fields(annotation):
            if f.init and f.name in value and not is_field_default(f, value[f.name], coders):
                bools = isinstance(f.default, bool)
                found = json_type_mismatch(hints.get(f.name, Any), value[f.name], coders, bool_number=bools)
                if found is not None:
                    return found._replace(where=f".{f.name}{found.where}")
    return None


def is_field_default(field: dataclasses.Field[Any], value: Any, coders: Coders) -> bool:
    """Whether JSON ``value`` is a dataclass ``field``'s own default as saved (``None`` for ``= None``, ``false``
    for ``x: int = False``): the loader takes it as that default, whatever the annotation says, as it takes an
    ``__init__`` argument's."""
    if field.default is dataclasses.MISSING:
        return False
    if field.default is None or value is None:
        return value is field.default
    return is_json_of(value, field.default, coders)


def is_json_of(value: Any, default: Any, coders: Coders) -> bool:
    """Whether the JSON ``value`` is ``default`` encoded (``0`` is not ``False``: JSON texts are compared)."""
    encoded = encode_value(default, coders)
    return encoded is not UNENCODABLE and json.dumps(encoded, sort_keys=True) == json.dumps(value, sort_keys=True)


def decoded_like_default(default: Any, value: Any, coders: Coders) -> Any:
    """``value`` decoded as ``default``'s type, where nothing else says it (no annotation, or a loose one such as
    ``Any`` or ``DTypeLike``): by the coder of that type (``param_dtype=jnp.float32``; not the built-in path
    coder: such an argument may be given a URL), else back into a tuple or an enum; unchanged if none takes it
    or it refuses the value."""
    for type_, coder in coders.items():
        _, decoder = coder
        if isinstance(default, type_) and value is not None and coder is not BUILTIN_CODERS.get(type_):
            try:
                return decoder(value)
            except Exception:  # the annotation allowed this JSON value as it is
                return value
    return decoded_as_default(default, value)


def _decode_dataclass(datacls: type, data: dict[str, Any], coders: Coders) -> Any:
    """An instance of ``datacls`` from ``data``; keys the dataclass does not define are ignored. A field
    annotated ``Any`` is decoded as its default's type (``dtype: Any = jnp.float32``, as Flax's configs write)."""
    hints = _type_hints(datacls, coders)
    kwargs = {}
    for f in dataclasses.fields(datacls):
        if f.init and f.name in data:
            annotation = hints.get(f.name, Any)
            if annotation is not Any and is_field_default(f, data[f.name], coders):
                kwargs[f.name] = f.default  # (``b: bool = 0``: the default as it is, not decoded as a bool)
                continue
            decoded = decode_value(annotation, data[f.name], coders)
            if annotation is Any and f.default is not dataclasses.MISSING:
                decoded = decoded_like_default(f.default, decoded, coders)
            elif type(f.default) is tuple and type(decoded) is list:  # ``Sequence[int] = (4, 8)``: as given
                decoded = tuple(decoded)
            kwargs[f.name] = decoded
    return datacls(**kwargs)


def unknown_fields(annotation: Any, value: Any, coders: Coders, where: str = "") -> list[tuple[str, type]]:
    """The keys of JSON ``value`` that a dataclass ``annotation`` decodes it into has no field for (decoding drops
    them), at any depth, each as its path from ``where`` (``vision.sample_rate``) with that dataclass. Unions
    other than ``X | None`` and types a coder decodes are not looked into."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return unknown_fields(args[0], value, coders, where)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in args if a is not type(None)]
        return unknown_fields(members[0], value, coders, where) if len(members) == 1 else []
    if _coder_for(annotation, coders) is not None:
        return []
    if isinstance(value, list) and origin in (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence):
        fixed = origin is tuple and not (len(args) == 2 and args[1] is Ellipsis) and len(args) > 1
        items = args if fixed else (args[:1] or (Any,)) * len(value)
        return [
            found
            for i, (item, v) in enumerate(zip(items, value, strict=False))
            for found in unknown_fields(item, v, coders, f"{where}[{i}]")
        ]
    if isinstance(value, dict) and is_mapping(origin) and len(args) == 2:
        return [found for k, v in value.items() for found in unknown_fields(args[1], v, coders, f"{where}[{k!r}]")]
    if not (isinstance(annotation, type) and dataclasses.is_dataclass(annotation) and isinstance(value, dict)):
        return []
    fields = {f.name for f in dataclasses.fields(annotation)}
    found = [(f"{where}.{key}", annotation) for key in value if key not in fields]
    hints = _type_hints(annotation, coders)
    for name in fields & value.keys():
        found += unknown_fields(hints.get(name, Any), value[name], coders, f"{where}.{name}")
    return found


def _decodes(annotation: Any, value: Any, coders: Coders) -> bool:
    """Whether a union member would decode ``value`` into something other than itself."""
    if _coder_for(annotation, coders) is not None:
        return True
    if not isinstance(annotation, type):
        return False
    if issubclass(annotation, enum.Enum):  # one of its values (``lax.Precision`` in ``PrecisionLike``)
        # (by value only: an enum of tuples would take ``(224, 224)`` saved for a ``tuple`` member after it)
        return any(type(member.value) is type(value) and member.value == value for member in annotation)
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        return value.keys() <= {f.name for f in dataclasses.fields(annotation) if f.init}
    return _is_namedtuple(annotation) and isinstance(value, list)


def _is_json_match(annotation: Any, value: Any) -> bool:
    """Whether JSON ``value`` is of the JSON type ``annotation`` stands for (a list for a tuple or sequence)."""
    base = typing.get_origin(annotation) or annotation
    if base is typing.Literal:
        return any(_literal_match(a, value, {}) for a in typing.get_args(annotation))
    if base in (tuple, collections.abc.Sequence, collections.abc.MutableSequence):
        return isinstance(value, list)
    json_types: tuple[type, ...] = (bool, int, float, str, list, dict)
    return isinstance(base, type) and base in json_types and isinstance(value, base)


def init_type_hints(cls: type, coders: Iterable[type] = ()) -> dict[str, Any]:
    """Resolved annotations of ``cls.__init__`` (string annotations included); left out where they cannot be.

    A string annotation naming a type of ``coders`` resolves to it where the module does not define that name
    (a class defined in a function, or imported only under ``TYPE_CHECKING``).
    """
    return _type_hints(cls.__init__, coders)  # type: ignore[misc]


def _type_hints(obj: Any, coders: Iterable[type] = ()) -> dict[str, Any]:
    """The annotations of a function or class (a dataclass's fields, its bases' too), resolved, ``type`` aliases
    seen through; where one names what only a type checker sees (imported under ``TYPE_CHECKING``), the others are
    resolved one by one and it is left out, as if unannotated."""
    return {name: without_aliases(hint) for name, hint in _resolved_hints(obj, coders).items()}


def _resolved_hints(obj: Any, coders: Iterable[type]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)
    except Exception:
        coder_names: dict[str, Any] = {t.__name__: t for t in coders}
        hints: dict[str, Any] = {}
        for annotations, namespace, own in _annotation_scopes(obj):
            for name, annotation in annotations.items():
                resolved = _resolved(annotation, namespace, own, coder_names)
                if resolved is _UNRESOLVED:
                    hints.pop(name, None)  # (a base's annotation of the field no longer applies)
                else:
                    hints[name] = resolved
        return hints


_UNRESOLVED = object()


def _annotation_scopes(obj: Any) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """Each ``__annotations__`` of ``obj`` with the namespaces its strings name things in: a function's globals;
    for a class, each class of its MRO (bases first) with its module's names and its own, as
    :func:`typing.get_type_hints` takes them."""
    if not isinstance(obj, type):
        return [(getattr(obj, "__annotations__", {}), getattr(inspect.unwrap(obj), "__globals__", {}), {})]
    scopes = []
    for base in reversed(obj.__mro__):
        annotations = inspect.get_annotations(base)
        if annotations:
            scopes.append((annotations, getattr(inspect.getmodule(base), "__dict__", {}), dict(vars(base))))
    return scopes


def _resolved(annotation: Any, namespace: dict[str, Any], own: dict[str, Any], coder_names: dict[str, Any]) -> Any:
    """A string ``annotation`` evaluated in ``namespace`` (the module's names first, then the class's ``own``, then
    the coders' types by name), or :data:`_UNRESOLVED`; any other annotation as it is."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, namespace, collections.ChainMap(namespace, own, coder_names))  # noqa: S307
    except Exception:  # a name only a type checker sees
        return _UNRESOLVED


MAX_CONFIG_DEPTH = 100
"""Levels of arrays and objects a ``config.json`` may nest: its values are walked by functions calling themselves
per level (encoding, decoding), which a config nested as deep as ``json`` reads (about a thousand) would take past
Python's recursion limit."""


def loads_config(text: str) -> Any:
    """The JSON ``text`` of a ``config.json``; a key given twice in one object is refused (``ValueError``): which
    one a reader takes differs between readers, so the model built could differ from the one reviewed. So is a value
    nested more than :data:`MAX_CONFIG_DEPTH` levels deep."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            counts = collections.Counter(key for key, _ in pairs)
            repeated = sorted(key for key, count in counts.items() if count > 1)
            raise HubMixinValueError(f"keys {repeated} given twice in one object")
        return obj

    loaded = json.loads(text, object_pairs_hook=unique)
    _check_depth(loaded)
    return loaded


def _check_depth(value: Any) -> None:
    """Refuse ``value`` (JSON data) nested more than :data:`MAX_CONFIG_DEPTH` levels deep (``ValueError``)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_CONFIG_DEPTH:
            raise HubMixinValueError(f"arrays or objects nested too deeply (more than {MAX_CONFIG_DEPTH} levels)")
        pending.extend((inner, depth + 1) for inner in (item.values() if isinstance(item, dict) else item))


def dumps_config(config: dict[str, Any]) -> str:
    """``config.json`` text, as huggingface_hub writes it (sorted keys, indent 2)."""
    return json.dumps(config, sort_keys=True, indent=2)
