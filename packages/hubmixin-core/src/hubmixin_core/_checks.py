"""First-use checks of ``from_pretrained`` and ``save_pretrained``: errors that say what went wrong and what to do.

Each check runs before any network call or file write: a misspelled keyword, a config key the class does not
take, an ``__init__`` argument that was never saved.
"""

from __future__ import annotations

import builtins
import dataclasses
import difflib
import inspect
import keyword
import logging
import os
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from hubmixin_core.errors import ConfigTypeError, HubMixinTypeError, MissingArgumentError
from hubmixin_core.params import DOWNLOAD_PARAMS

__all__ = [
    "UNSAVED_KEY",
    "check_runtime_args",
    "check_unsaved_marker",
    "check_keywords",
    "check_unsaved",
    "instance_meant",
    "meant_instance",
    "same_value",
    "closest",
    "takes_class",
    "expand_location",
    "takes_any_keyword",
    "unknown_config_keys",
]

logger = logging.getLogger("hubmixin_core")

UNSAVED_KEY = "_hub_mixin_unsaved"
"""Key of ``config.json`` recording the ``__init__`` arguments left out of it (name to type name; ``"*args"`` for
the positional values ``*args`` took).

huggingface_hub's loader ignores keys that ``__init__`` does not name, so the file stays loadable there, except
by a class whose ``__init__`` takes ``**kwargs``: that loader passes it this key too (documented in
docs/differences.md).
"""


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``name`` is most likely a misspelling of, if any is close enough.

    Examples:
        >>> closest("revison", ["revision", "token"])
        'revision'
    """
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def takes_any_keyword(parameters: Mapping[str, inspect.Parameter]) -> bool:
    """Whether a signature's ``parameters`` include ``**kwargs``."""
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def check_keywords(
    method: str,
    given: Iterable[str],
    accepted: Mapping[str, inspect.Parameter],
    options: Collection[str],
    class_keywords: Callable[[], Collection[str]] = tuple,
) -> None:
    """Raise ``TypeError`` for a keyword that is neither an option nor accepted (``__init__``'s parameters).

    Raises:
        TypeError: the first unknown keyword, with the closest option or parameter ("did you mean ...?"), or
            where it is one of ``class_keywords()`` (``strict_config``; asked only then), how to give it to the
            class; for ``from_pretrained``, where ``model_kwargs`` gives one of its options, that it is an option.
    """
    if takes_any_keyword(accepted):
        return
    names = [n for n, p in accepted.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for name in given:
        if name not in accepted and name in class_keywords():
            owner = method.rpartition(".")[0].rpartition(".")[2]  # (``f.<locals>.Net.save_pretrained``: ``Net``)
            raise HubMixinTypeError(
                f"{method}() got an unexpected keyword argument {name!r}: it is a class keyword, given where the "
                f"class is defined: `class {owner or 'MyModel'}(..., {name}=...)`"
            )
        if name not in accepted and name in options and method.endswith(".from_pretrained"):
            # (given as a keyword, an option is the option: only model_kwargs={...} brings its name here)
            raise HubMixinTypeError(_option_in_model_kwargs(method, name, names))
        if name not in accepted:
            known = [n for n in dict.fromkeys([*options, *names]) if n not in ("self", "cls", name)]
            guess = _SYNONYMS.get(name) if _SYNONYMS.get(name) in known else closest(name, known)
            hint = f"; did you mean {guess!r}?" if guess else f"; options and parameters: {sorted(known)}"
            raise HubMixinTypeError(f"{method}() got an unexpected keyword argument {name!r}{hint}")


def _option_in_model_kwargs(method: str, name: str, parameters: Collection[str]) -> str:
    """The message of :func:`check_keywords` for ``model_kwargs`` giving ``name``, an option of ``method``
    (``from_pretrained``) that ``__init__`` (whose ``parameters`` are named) does not take."""
    owner = method.rpartition(".")[0]
    if name == "model_kwargs":
        return (
            f"{method}(): model_kwargs gives 'model_kwargs', which {owner}.__init__ does not take: give the "
            f"arguments of {owner}.__init__ in one model_kwargs={{...}}, not nested"
        )
    guess = closest(name, [n for n in parameters if n not in ("self", "cls")])
    also = f"; if you meant the argument {guess!r} of {owner}.__init__, name it so in model_kwargs" if guess else ""
    return (
        f"{method}(): model_kwargs gives {name!r}, which is not a parameter of {owner}.__init__ but an option of "
        f"from_pretrained itself: give it to from_pretrained directly, not in model_kwargs "
        f"(`{method}(..., {name}=...)`){also}"
    )


_SYNONYMS = {
    "revision": "branch",
    "branch": "revision",
    "map_location": "device",
    "device": "map_location",
    "device_map": "map_location",  # (transformers')
    "use_auth_token": "token",  # (huggingface_hub's former name)
    "torch_dtype": "dtype",
}
"""Keywords of one method given to the other: a push names its branch, a load its revision (and torch's
``map_location`` is a device)."""


def _spelled(kind: str) -> str:
    """A type name config.json records as code names the type: ``function`` is ``types.FunctionType``."""
    if hasattr(builtins, kind):
        return kind
    found = (n for n, t in vars(types).items() if isinstance(t, type) and t.__qualname__ == kind and n[0] != "_")
    name = next(found, None)
    return kind if name is None else f"types.{name}"


def takes_class(annotation: Any, value: type) -> bool | None:
    """Whether ``annotation`` takes the class ``value`` itself (``type[nn.Module]``, a ``Callable`` factory), not
    only an instance (``Cfg``); ``None`` where it does not tell (none, ``Any``, a ``TypeVar``, a string, a class
    refusing ``isinstance``: a ``Protocol``, a ``TypedDict``)."""
    annotation = _unannotated(annotation)
    origin = typing.get_origin(annotation)
    if origin is type or origin is Callable or annotation is Callable:
        return True
    if origin is typing.Union or origin is types.UnionType:
        found = [takes_class(member, value) for member in typing.get_args(annotation) if member is not type(None)]
        return True if True in found else None if None in found else False
    # (``list[int]``, and from Python 3.11 ``Any``, pass for types too)
    if not isinstance(annotation, type) or origin is not None or annotation in (Any, object):
        return None
    try:
        return isinstance(value, annotation)
    except TypeError:  # (a Protocol that is not runtime_checkable, a TypedDict)
        return None


def instance_meant(annotation: Any, value: type) -> bool:
    """Whether the class ``value``, given for an argument annotated ``annotation``, was meant as an instance
    (``Net(config=Cfg)``, the parentheses forgotten): the annotation takes instances of that very class (``Cfg``,
    ``Cfg | None``), or it does not say (none, ``Any``) and ``value`` is a dataclass. A class passed on purpose
    (``act=nn.GELU``, unannotated or annotated anyhow else) is not."""
    annotation = _unannotated(annotation)
    if annotation is None or annotation is Any:
        return dataclasses.is_dataclass(value)
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    return any(member is value for member in members) and takes_class(annotation, value) is False


def meant_instance(annotation: Any, kind: str) -> str | None:
    """The name of the dataclass whose instance ``annotation`` takes (``Cfg``, or ``Cfg | None``'s), where the
    value config.json records as not saved was of type ``kind``, that class's metaclass (``type``): the class
    itself was given, not an instance; ``None`` otherwise."""
    annotation = _unannotated(annotation)
    members = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    for member in members or (annotation,):
        plain = isinstance(member, type) and typing.get_origin(member) is None
        # (a dataclass only: config.json does not say which class was given, and one of another annotated class,
        # ``act_layer: nn.Module`` given ``nn.SiLU``, may be meant; a config dataclass never is)
        classes = plain and dataclasses.is_dataclass(member)
        if classes and type(member).__qualname__ == kind and takes_class(annotation, member) is False:
            return str(member.__qualname__)
    return None


def _unannotated(annotation: Any) -> Any:
    """``annotation`` without its ``Annotated[...]`` metadata."""
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


def check_unsaved(
    owner: str,
    unsaved: Mapping[str, str],
    given: Collection[str],
    runtime: Collection[str] = (),
    runtime_option: str | None = None,
    coded: Collection[str] = (),
    options: Collection[str] = (),
    instances: Callable[[Mapping[str, str]], Mapping[str, str]] | None = None,
    refuser: str | None = None,
    public: Callable[[str, str], str | None] | None = None,
) -> None:
    """Refuse to build a model without the ``__init__`` arguments its ``config.json`` says were not saved
    (``unsaved``: their type names; those in ``runtime`` belong to the run, as a JAX mesh does, and the loader's
    option ``runtime_option``, if any, gives them; those in ``coded`` have a coder now, which an older save lacked).
    ``options`` are the framework's own ``from_pretrained`` options (``dtype``, ``map_location``): an argument so
    named, like one named as a download option, is given in ``model_kwargs`` only. ``instances`` names, of the
    missing ones it is given, those given a class where their annotation takes an instance of one (see
    :func:`meant_instance`), with that class. ``refuser`` names the class's own ``_is_jsonable`` where it overrides
    huggingface_hub's: a value it refused was left out too, whatever a coder would have made of it. ``public``
    gives, for an argument and its recorded type name, the public class to declare a coder for (the annotation's,
    where the value's class is a private subclass of it: ``jax.Array`` for ``ArrayImpl``), or ``None``.

    Raises:
        MissingArgumentError: names each missing argument, why it was not saved, and how to give it.
    """
    missing = {name: kind for name, kind in unsaved.items() if name not in given}
    if not missing:
        return
    meant = {} if instances is None else instances(missing)
    lines = []
    for name, kind in missing.items():
        call = _giving(owner, name, options)
        give = f"give it with {call}"
        if name.startswith("*"):  # values ``*args`` took: no keyword reaches it
            lines.append(_unsaved_varargs(owner, name[1:]))
        elif kind in runtime:
            if runtime_option is not None:
                give = f"give it with {owner}.from_pretrained(..., {runtime_option}=...), or {call}"
            lines.append(f"  - {name!r} (a {kind}): it belongs to the run, so it is never saved; {give}")
        elif kind in _JSON_SCALARS and refuser is not None:  # (JSON holds it: only the hook refused it)
            lines.append(f"  - {name!r} (a {kind}): {refuser} refused it, so it was left out of config.json; {give}")
        elif kind in coded and refuser is not None:  # (an older save, or the hook: config.json does not say)
            lines.append(
                f"  - {name!r} (a {kind}): {refuser} refused it, or config.json was written before a {kind} could "
                f"be saved, so it was left out; {give}"
            )
        elif kind in coded:
            lines.append(
                f"  - {name!r} (a {kind}): config.json was written before a {kind} could be saved, so it was left "
                f"out; {give} once, and save the model again: config.json then holds it"
            )
        elif name in meant:  # (``Net(config=Cfg)``: the parentheses forgotten)
            of = meant[name]
            lines.append(
                f"  - {name!r} (a class): it was given a class, not an instance of {of} (`{of}` for "
                f"`{of}(...)`?), so it was left out of config.json; {give}, and build the model with an "
                f"instance ({of}(...)) before saving it again"
            )
        elif kind == "type":  # a class, where nothing says whether one was meant
            lines.append(
                f"  - {name!r} (a class): JSON cannot hold a class, so it was left out of config.json; {give}; if an "
                "instance was meant, build the model with one before saving it again, or save the class next time "
                "by declaring `coders={type: (encode, decode)}` on the class"
            )
        elif kind in _CONTAINERS:  # (the ConfigEncodingWarning at save named the value and its type)
            lines.append(
                f"  - {name!r} (a {kind}): JSON cannot hold a value inside it, so it was left out of config.json; "
                f"{give}, or save it next time by declaring a coder for that value's type on the class "
                "(`coders={Type: (encode, decode)}`; the ConfigEncodingWarning at save named the value and its type)"
            )
        elif name == "config" and _spelled(kind) == kind and not hasattr(builtins, kind):
            # (a dataclass config is recorded by its type's name alone: which field JSON cannot hold is not)
            lines.append(
                f"  - 'config' (a {kind}): JSON cannot hold it or one of its fields (the ConfigEncodingWarning at "
                f"save named which: config.<field>), so it was left out of config.json; {give}, or save it next "
                f"time by declaring a coder for that field's type on the class (`coders={{FieldType: (encode, "
                f"decode)}}`, or `{{{kind}: ...}}` for the whole config)"
            )
        else:
            coded_as = (public(name, kind) if public is not None else None) or _spelled(kind)
            lines.append(
                f"  - {name!r} (a {kind}): JSON cannot hold it, so it was left out of config.json; {give}, or "
                f"save it next time by declaring `coders={{{coded_as}: (encode, decode)}}` on the class"
            )
    refusable = [name for name, kind in missing.items() if kind not in runtime and not name.startswith("*")]
    if refuser is not None and refusable:  # (config.json does not say which of it or hubmixin's rules left them out)
        lines.append(
            f"  ({refuser} is overridden: a value it refuses is left out of config.json at every save, a coder or "
            "not; give such a value at each load)"
        )
    raise MissingArgumentError(
        f"{owner}: cannot rebuild the saved model without arguments that were not saved:\n" + "\n".join(lines),
        list(missing),
    )


_JSON_SCALARS = frozenset({"str", "int", "float", "bool"})
"""Type names config.json records for values JSON holds as they are."""

_CONTAINERS = frozenset({"dict", "list", "tuple"})
"""Type names config.json records for arguments JSON could hold but for a value inside them (a set it never
holds: it is named as a type of its own)."""


def _giving(owner: str, name: str, options: Collection[str] = ()) -> str:
    """How to give ``__init__`` argument ``name`` to ``owner.from_pretrained``: as a keyword (the form
    huggingface_hub takes) and in ``model_kwargs`` (which type checkers take, and which alone reaches an argument
    named like one of ``from_pretrained``'s options: a download option, or one of the framework's ``options``)."""
    kwargs = f"model_kwargs={{{name!r}: ...}}"
    if not name.isidentifier() or keyword.iskeyword(name) or name in _LOADER_NAMES or name in options:
        return f"{owner}.from_pretrained(..., {kwargs})"
    return f"{owner}.from_pretrained(..., {name}=...) (or {kwargs})"


_LOADER_NAMES = frozenset({"pretrained_model_name_or_path", "model_kwargs", *(p.name for p in DOWNLOAD_PARAMS)})
"""``from_pretrained``'s own keywords in every framework: an argument of one of these names is given in
``model_kwargs`` only."""


def _unsaved_varargs(owner: str, name: str) -> str:
    """The line of :func:`check_unsaved` for the values ``*name`` took."""
    return (
        f"  - the positional values given through *{name}: no parameter names them, so they were left out of "
        f"config.json, and from_pretrained gives arguments by keyword, which *{name} cannot take; make "
        f"{owner}.__init__ take them as one named argument (`{name}: list[...]`), then give them with "
        f"{owner}.from_pretrained(..., model_kwargs={{{name!r}: [...]}}) (saved in config.json from then on)"
    )


def check_runtime_args(
    owner: str, runtime_args: Collection[str], parameters: Mapping[str, inspect.Parameter], given: Collection[str]
) -> None:
    """Refuse to build a model without a required ``__init__`` argument the class declares ``runtime_args``.

    Raises:
        MissingArgumentError: names each one, why it is not in config.json, and how to give it.
    """
    missing = [
        name
        for name in sorted(runtime_args)
        if name in parameters and _required(parameters[name]) and name not in given
    ]
    if missing:
        how = ", ".join(f"{name!r}: ..." for name in missing)
        raise MissingArgumentError(
            f"{owner}: cannot build the model without {missing}: the class declares them runtime_args, so they are "
            f"never saved in config.json; give them with {owner}.from_pretrained(..., model_kwargs={{{how}}})",
            missing,
        )


def _required(parameter: inspect.Parameter) -> bool:
    """Whether ``__init__`` cannot be called without ``parameter`` (no default, not ``*args``/``**kwargs``)."""
    return parameter.default is inspect.Parameter.empty and parameter.kind not in (
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD,
    )


def check_required_args(
    owner: str,
    parameters: Mapping[str, inspect.Parameter],
    given: Collection[str],
    *,
    supplied: Collection[str],
    config: Mapping[str, object] | None,
    source: str,
) -> None:
    """Refuse to build a model without a required ``__init__`` argument that neither ``config.json`` (``config``,
    read from ``source``; ``None`` where there is none) nor the caller gives (``given``: the arguments the
    model will be called with; ``supplied``: the ones the framework gives itself).

    Raises:
        MissingArgumentError: names each one, the config (or its absence), keys of the config that may be
            misspelled forms of them, and how to give them.
    """
    missing = [
        name
        for name, parameter in parameters.items()
        if _required(parameter) and name not in given and name not in supplied
    ]
    if not missing:
        return
    where = f"{source} does not hold them" if config is not None else f"there is no config.json in {source}"
    hint = misspelt_keys(missing, [k for k in config or {} if k not in parameters])
    how = ", ".join(f"{name!r}: ..." for name in missing)
    raise MissingArgumentError(
        f"{owner}: cannot build the model without {missing}{hint}: {where}; give them with "
        f"{owner}.from_pretrained(..., model_kwargs={{{how}}})",
        missing,
    )


def misspelt_keys(missing: Iterable[str], keys: Iterable[str]) -> str:
    """`` (did you mean: ...?)`` naming, for each of ``missing``, the config key (of ``keys``) that may be a
    misspelt form of it; ``""`` where none may be."""
    candidates = list(keys)
    hints = [f"{name!r} (config.json has {close!r})" for name in missing if (close := closest(name, candidates))]
    return f" (did you mean: {', '.join(hints)}?)" if hints else ""


def check_unsaved_marker(config: Mapping[str, object], source: str) -> None:
    """Refuse a config whose :data:`UNSAVED_KEY` entry (where it has one) is no JSON object of argument names to
    type names, as the mixin writes it: one edited by hand, or another tool's key of that name, is not silently
    ignored, nor read wrong.

    Raises:
        ConfigTypeError: names ``source`` (the config file) and the key at fault.
    """
    if UNSAVED_KEY not in config:
        return
    marker = config[UNSAVED_KEY]
    expected = "an object of argument names to type names"
    if not isinstance(marker, dict):
        raise ConfigTypeError(source, UNSAVED_KEY, expected, marker)
    for name, kind in marker.items():
        if not isinstance(kind, str):
            raise ConfigTypeError(source, f"{UNSAVED_KEY}.{name}", "a type name (str)", kind)


def unknown_config_keys(config: Mapping[str, object], parameters: Mapping[str, inspect.Parameter]) -> list[str]:
    """Keys of a loaded ``config.json`` that ``__init__`` does not take (usually: the wrong class)."""
    if takes_any_keyword(parameters) or "config" in parameters:
        return []  # **kwargs takes them all; a `config` parameter takes the merged config dict
    return sorted(k for k in config if k not in parameters and k != UNSAVED_KEY)


def expand_location(location: str | Path) -> str | Path:
    """``~`` expanded in a local path (a ``Path`` or another ``os.PathLike``, or a string starting with ``~``) as
    ``os.path.expanduser`` and shells expand it: ``~name`` of no user is left as it is (a folder may have that
    name); anything else unchanged."""
    if isinstance(location, str) and not location.startswith("~"):
        return location
    expanded = os.path.expanduser(location)  # noqa: PTH111 (pathlib's raises RuntimeError for a ~name of no user)
    return expanded if isinstance(location, str) else Path(expanded)


def same_value(value: Any, default: Any) -> bool:
    """Whether ``value`` is ``default`` (a value whose ``==`` is not a plain bool, as an array's, is not; nor is
    one equal to ``None`` without being it: numpy's ``np.dtype("float64") == None`` holds)."""
    if value is None or default is None:
        return value is default
    try:
        return value is default or bool(value == default)
    except Exception:  # an array's ambiguous truth value, a failing __eq__
        return False
