"""Config capture: the ``__init__`` arguments of each instance, as config.json will hold them.

The layer of ``ModelHubMixinBase`` that runs while a model is built (and saved): what is saved, what is left out
and why (warned about, or refused under ``strict_config``).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import inspect
import types
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any, Self

from hubmixin_core._capture import LOADING, ConfigSlot, get_config, loaders_own, set_config
from hubmixin_core._checks import same_value
from hubmixin_core._config import UNENCODABLE, encode_config, encode_value, json_type_mismatch
from hubmixin_core._init_arguments import VARIADIC, InitArguments, is_default_json
from hubmixin_core._roundtrip import ANNOTATED_BASE, json_native, key_annotation, type_change
from hubmixin_core._warn import warn_user
from hubmixin_core.errors import ConfigEncodingWarning, ConfigError, format_names
from hubmixin_core.errors import _is_function_type as is_function_type
from hubmixin_core.errors import _spelled_type as spelled_type
from hubmixin_core.errors import _type_name as type_name
from hubmixin_core.typing import Coders, DataclassInstance

__all__ = ["ConfigCapture"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class ConfigCapture(InitArguments):
    """Captures each instance's ``__init__`` arguments as config.json's object (a layer of ``ModelHubMixinBase``)."""

    def __new__(cls, /, *args: Any, **kwargs: Any) -> Self:  # (an __init__ may name an argument ``cls``)
        """Create the instance; its configuration is captured when ``__init__`` is entered."""
        cls._hub_mixin_inspect_init()  # wraps an ``__init__`` added after class creation (``@dataclass``)
        base_new = super().__new__
        if base_new is object.__new__ or not _takes_arguments(base_new):  # (a registry's ``__new__(cls)``)
            return base_new(cls)
        return base_new(cls, *args, **kwargs)  # Keras' Operation.__new__(cls, *args, **kwargs)

    @property
    def _hub_mixin_config(self) -> dict[str, Any] | DataclassInstance | None:
        """The configuration captured from ``__init__`` (or set by ``from_pretrained``); ``None`` if none."""
        config: dict[str, Any] | DataclassInstance | None = get_config(self)
        return config

    @_hub_mixin_config.setter
    def _hub_mixin_config(self, config: dict[str, Any] | DataclassInstance | None) -> None:
        set_config(self, config)

    @classmethod
    def _hub_mixin_slot(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ConfigSlot:
        """The configuration of an instance built with ``args`` and ``kwargs``, and what it leaves out."""
        unsaved: dict[str, str] = {}
        beside: list[str] = []
        return ConfigSlot(cls._hub_mixin_capture(args, kwargs, unsaved, beside), unsaved, beside)

    @classmethod
    def _hub_mixin_capture(
        cls,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        unsaved: dict[str, str] | None = None,
        beside: list[str] | None = None,
    ) -> dict[str, Any] | DataclassInstance | None:
        cls._hub_mixin_inspect_init()
        parameters = cls._hub_mixin_init_parameters
        positional = [p.name for p in parameters.values() if p.kind in _POSITIONAL]
        passed = dict(zip(positional, args, strict=False))
        if len(args) > len(positional):
            extra = args[len(positional) :]
            names = cls._hub_varargs_names()  # ``super().__init__(*args, **kwargs)``: the base's parameters
            if len(names) >= len(extra):
                passed.update(zip(names, extra, strict=False))
            else:
                cls._hub_mixin_reject_varargs(extra, names, unsaved)
        passed.update(kwargs)
        for name in (cls._hub_mixin_runtime_args & passed.keys()) | set(loaders_own(passed, cls._hub_init_takes)):
            del passed[name]
        if (encoded := saved_dataclass(passed.get("config"), cls._all_coders())) is not UNENCODABLE:
            given: DataclassInstance = passed["config"]
            init_only = _init_only_fields(type(given))
            if init_only and not LOADING.get():
                warn_user(
                    f"{cls.__qualname__}: the init-only fields {init_only} of {type(given).__qualname__} (InitVar) "
                    "are not saved in config.json: from_pretrained builds the config with their defaults",
                    ConfigEncodingWarning,
                )
            lost = cls._hub_mixin_warn_beside_dataclass(passed, parameters)
            if beside is not None:
                beside.extend(lost)
            if "config" in parameters:
                cls._hub_mixin_warn_changed_type("config", given, encoded)
                cls._hub_mixin_warn_unloadable("config", encoded, cls._all_coders())  # (its fields, as arguments)
            return given
        annotated = cls._hub_runtime_annotated()  # the run's own by their annotation, whatever their value
        # (each instance its own copy of a dict or list default: a change to one is not the class's)
        config = {k: json_copy(v) for k, v in cls._hub_mixin_jsonable_default_values.items() if k not in annotated}
        coders = cls._all_coders()
        for name, value in passed.items():
            if name in parameters and value is parameters[name].default and cls._hub_sentinel_default(parameters[name]):
                continue  # ("not given", passed on as such: its default applies at load)
            if isinstance(value, cls._hub_mixin_runtime_types):  # the run's own: given again (or by default) at load
                config.pop(name, None)
                if unsaved is not None:
                    unsaved[name] = type(value).__qualname__
                continue
            if name in annotated and has_default(parameters[name]):  # (``mesh=None``: the load's mesh, else the
                continue  # default, at load; a required one given ``None`` is saved so, for a load without a mesh)
            merged = name == "config" and isinstance(value, dict)  # its keys join config.json's, coders or not
            encoded = cls._hub_encode_argument(value, coders, merged=merged)
            if encoded is not UNENCODABLE:
                config[name] = encoded
                if name in parameters:
                    cls._hub_mixin_warn_changed_type(name, value, encoded, coders)
                    cls._hub_mixin_warn_unloadable(name, encoded, coders)
                else:
                    cls._hub_mixin_warn_kwargs_type_change(name, value, encoded)
            elif name not in parameters or value is not parameters[name].default:
                config.pop(name, None)  # the default is not what this instance was built with
                cls._hub_mixin_reject(name, value)
                if unsaved is not None:
                    unsaved[name] = type(value).__qualname__
        passed_config = config.pop("config", {})
        if isinstance(passed_config, dict):
            shadowed = sorted(k for k in passed_config.keys() & passed.keys() if config.get(k) != passed_config[k])
            if shadowed and not LOADING.get():  # config.json can hold one value of each: the config's is saved
                warn_user(
                    f"{cls.__qualname__}: arguments {shadowed} are also keys of the config dict given, with other "
                    "values; config.json saves the config's, so from_pretrained gives those",
                    ConfigEncodingWarning,
                )
            config.update(passed_config)
        elif passed_config is not None:  # a preset name, a NamedTuple: saved as any other argument
            config["config"] = passed_config  # (not None: the loader then gives ``config`` all of config.json, as hf)
        return config or None

    @classmethod
    def _hub_mixin_warn_beside_dataclass(
        cls, passed: Mapping[str, Any], parameters: Mapping[str, inspect.Parameter]
    ) -> list[str]:
        """Arguments given beside a dataclass ``config`` are not saved: warn, naming those that would come back
        otherwise (not at their default, or, for one named like a field of the config, not at that field's value:
        config.json's keys reach the ``__init__`` arguments of their names); returns them."""
        fields = {f.name: getattr(passed["config"], f.name) for f in dataclasses.fields(passed["config"])}

        def back(name: str) -> Any:
            return fields[name] if name in fields else parameters[name].default

        known = parameters.keys() | fields.keys()
        lost = sorted(
            name
            for name, value in passed.items()
            if name != "config" and (name not in known or not same_value(value, back(name)))
        )
        if lost and not LOADING.get():
            how = "their defaults" if not fields.keys() & set(lost) else "their defaults (or the config's fields)"
            warn_user(
                f"{cls.__qualname__}: arguments {lost} are not saved: with a dataclass `config`, config.json holds "
                f"the config alone (as with huggingface_hub), so from_pretrained gives them {how}; move them "
                "into the dataclass, or give them again at load (model_kwargs={...})",
                ConfigEncodingWarning,
            )
        return lost

    @classmethod
    def _hub_mixin_warn_unloadable(cls, name: str, encoded: Any, coders: Coders, *, given: str = "") -> None:
        """Warn when the value saved for argument ``name`` is of a JSON type its annotation refuses (``1`` for a
        ``bool``): ``from_pretrained`` would raise ``ConfigTypeError`` on the saved config. Not for the values
        config.json gave a load (checked there), but for those ``given`` elsewhere (``" given to from_pretrained"``),
        which the caller names."""
        annotation = cls._hub_mixin_hints().get(name)
        if annotation is None or type(encoded) is annotation or (LOADING.get() and not given):  # the common case
            return
        if cls._hub_decode_hook(name) is not None or (cls._hub_encodes_alone() and not given):
            return  # (the load checks nothing the class's _decode_arg decodes; gives _encode_arg's form as it is)
        default = cls._hub_mixin_init_parameters[name].default
        found = json_type_mismatch(annotation, encoded, coders, bool_number=isinstance(default, bool))
        # The loader's rule: the JSON of the parameter's own default (``None`` for ``x: int = None``) is taken as
        # that default, whatever the annotation says.
        if found is not None and not is_default_json(encoded, default, coders):
            warn_user(
                f"{cls.__qualname__}: argument {name}{found.where}{given} is {found.found!r:.80}, which its annotation "
                f"{found.expected} does not take: from_pretrained would refuse the saved config.json "
                "(ConfigTypeError); pass a value of the annotated type",
                ConfigEncodingWarning,
            )

    @classmethod
    def _hub_mixin_warn_changed_type(cls, name: str, value: Any, encoded: Any, coders: Coders | None = None) -> None:
        """Warn when ``from_pretrained`` would give argument ``name`` back as another type than it was given (an
        enum, a path, a tuple where nothing says the type: no annotation, or inside ``dict[str, Any]``)."""
        if LOADING.get():
            return
        changed = cls._hub_mixin_type_change(name, value, encoded, coders, trust_unresolved=False)
        if changed is not None and cls._hub_mixin_unresolved(name):
            where, before, after = changed
            annotation = cls._hub_mixin_init_parameters[name].annotation
            warn_user(
                f"{cls.__qualname__}: argument {where} ({before}) is saved as JSON that from_pretrained gives back "
                f"as {after}: its annotation {annotation!r} names a type {cls.__module__} does not define at run "
                "time (imported under TYPE_CHECKING?), so nothing decodes it; import the type at run time, or "
                "declare a coder for it",
                ConfigEncodingWarning,
            )
        elif changed is not None and ANNOTATED_BASE in changed[2]:
            where, before, after = changed
            warn_user(
                f"{cls.__qualname__}: argument {where} is a {before}, which from_pretrained gives back as {after}: "
                f"annotate it `{where.rpartition('.')[2]}: {before}` (in the __init__ of a model subclass taking it)"
                + (", or declare those fields in the annotated dataclass" if "without its fields" in after else ""),
                ConfigEncodingWarning,
            )
        elif changed is not None:
            where, before, after = changed
            example = "MyType"
            if before.endswith(" key"):  # the key type, at the depth of the dict holding it
                example = key_annotation(value, where.removeprefix(name), before.removesuffix(" key")) or example
            warn_user(
                f"{cls.__qualname__}: argument {where} ({before}) is saved as JSON that from_pretrained gives back "
                f"as {after} (nothing says its type): annotate it (`{name}: {example}`, a dataclass for nested "
                "values) or declare a coder for its type",
                ConfigEncodingWarning,
            )

    @classmethod
    def _hub_mixin_warn_kwargs_type_change(cls, name: str, value: Any, encoded: Any) -> None:
        """Warn when ``from_pretrained`` would give ``name``, an argument ``**kwargs`` took, back as another type
        than it was given (a tuple as a list): nothing says its type, unless a base's ``__init__`` that is a mixin's
        takes it (and decodes it by its own annotation)."""
        if LOADING.get() or json_native(value) or isinstance(value, cls._hub_mixin_json_forms_taken):
            return
        owner = cls._hub_forwarded_parameters().get(name, (None,))[0]
        changed = (
            None if isinstance(owner, type) and issubclass(owner, InitArguments) else type_change(value, encoded, name)
        )
        if changed is not None:
            where, before, after = changed
            warn_user(
                f"{cls.__qualname__}: argument {where} ({before}), taken by **kwargs, is saved as JSON that "
                f"from_pretrained gives back as {after} (nothing says its type): make it a named, annotated parameter "
                f"of __init__ (`{name}: MyType`) or declare a coder for its type",
                ConfigEncodingWarning,
            )

    @classmethod
    def _hub_mixin_reject(cls, name: str, value: Any) -> None:
        """An argument cannot be encoded: raise under ``strict_config``, else warn (never drop silently); not
        while ``from_pretrained`` builds the model with it (given again at load, as the warning asked)."""
        error = cls._hub_mixin_encoding_error(name, value)
        if cls._hub_mixin_strict_config:
            raise error
        if not LOADING.get():
            warn_user(f"{error} It is left out of config.json.", ConfigEncodingWarning)

    @classmethod
    def _hub_mixin_reject_varargs(
        cls, extra: tuple[Any, ...], names: list[str], unsaved: dict[str, str] | None = None
    ) -> None:
        """Positional arguments ``*args`` takes beyond those the base's parameters ``names`` take: config.json
        cannot say which argument each is. A :class:`ConfigError` under ``strict_config``; else a warning, and
        ``*args`` recorded in ``unsaved`` (as ``"*args"``), so that ``from_pretrained`` refuses to build another
        model."""
        star = next((f"*{p.name}" for p in cls._hub_mixin_init_parameters.values() if p.kind is p.VAR_POSITIONAL), "")
        advice = (
            f"pass them by keyword ({format_names(names)})"
            if names
            else f"make __init__ take them as one named argument (`{star[1:] or 'values'}: list[...]`)"
        )
        message = (
            f"{cls.__qualname__}: {len(extra)} positional argument(s) given through {star or '*args'} cannot be "
            f"saved in config.json (no parameter names them, and from_pretrained gives arguments by keyword); {advice}"
        )
        if cls._hub_mixin_strict_config:
            raise ConfigError(message)
        if star and unsaved is not None:
            unsaved[star] = type(extra).__qualname__
        if not LOADING.get():
            warn_user(
                f"{message}. They are left out of config.json, which records them as not saved: from_pretrained "
                "raises MissingArgumentError rather than build the model without them.",
                ConfigEncodingWarning,
            )

    def _hub_config_dict(
        self, config: dict[str, Any] | DataclassInstance | None, *, given: bool = False
    ) -> dict[str, Any] | None:
        """``config`` as config.json's object; ``given``: the ``config=`` of ``save_pretrained``/``push_to_hub``
        (not an ``__init__`` argument), which the errors name."""
        if config is None:
            return None
        coders = self._all_coders()
        encoded = encode_config(config, coders)
        coded = encode_value(config, coders) if encoded is UNENCODABLE and dataclasses.is_dataclass(config) else None
        if coded is not None and coded is not UNENCODABLE:  # JSON, but no object: what the coder gave is refused
            raise ConfigError(
                f"{type(self).__qualname__}: the coder declared for {type(config).__qualname__} returned "
                f"{type(coded).__qualname__}, but config.json holds a JSON object: return a dict from it"
            )
        name = type(self).__qualname__
        if encoded is UNENCODABLE and (isinstance(config, dict) or dataclasses.is_dataclass(config)):
            error = self._hub_mixin_encoding_error("config", config)  # a TypeError, as json.dumps raises
            if given and error.part is not None and error.key_type is None and error.coder_type is None:
                kind, function = spelled_type(error.part_type), is_function_type(error.part_type)
                coder = f" (or declare a coder for its type: `class {name}(..., coders={{{kind}: (encode, decode)}})`)"
                error.args = (
                    f"{name}: the config= given to save_pretrained/push_to_hub holds a value config.json cannot hold "
                    f"(at config{error.part}: {type_name(error.part_type)}{', a function' if function else ''}): "
                    f"leave it out or give a JSON value{' (its name, say)' if function else coder}",
                )
            raise error
        if not isinstance(encoded, dict):
            if given:
                mapping = isinstance(config, Mapping)
                fix = ": pass dict(config)" if mapping else ""
                if not mapping and hasattr(config, "__dict__") and not isinstance(config, type):
                    fix = ": pass vars(config)"  # (an argparse.Namespace)
                raise ConfigError(
                    f"{name}: save_pretrained/push_to_hub(config=...) takes a dict or a dataclass instance, not a "
                    f"{type(config).__qualname__}{fix}"
                )
            raise ConfigError(f"{name}: config {type(config).__qualname__} cannot be saved as JSON")
        return encoded

    @classmethod
    def _hub_check_given_config(cls, config: Mapping[str, Any]) -> None:
        """Warn, as when the model is built, about each value of a ``config=`` given to ``save_pretrained`` or
        ``push_to_hub`` (encoded) that the annotation of the ``__init__`` argument it reaches refuses:
        ``from_pretrained`` would refuse the saved config.json."""
        cls._hub_mixin_inspect_init()
        parameters, coders = cls._hub_mixin_init_parameters, cls._all_coders()
        where = " in the config= given to save_pretrained/push_to_hub"
        for name, value in config.items():
            parameter = parameters.get(name)
            if parameter is not None and parameter.kind not in VARIADIC and name not in cls._hub_mixin_runtime_args:
                cls._hub_mixin_warn_unloadable(name, value, coders, given=where)
        annotation = cls._hub_mixin_hints().get("config")
        dataclass_config = "config" in parameters and bool(dataclass_members(annotation))
        # a dataclass ``config`` is decoded from the whole file (unless left at ``None``), as the loader does
        left_at_none = dataclass_config and config_left_at_none(annotation, config, parameters["config"], coders=coders)
        if dataclass_config and "config" not in config and not left_at_none:
            cls._hub_mixin_warn_unloadable("config", dict(config), coders, given=where)


def saved_dataclass(config: Any, coders: Coders) -> Any:
    """The JSON of ``config`` where it is a dataclass instance config.json holds as the whole config (huggingface_hub's
    rule), else ``UNENCODABLE``: one with a field JSON cannot hold is an argument like any other (warned about,
    or refused, and not saved)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return UNENCODABLE
    return encode_value(config, coders)


def json_copy(value: Any) -> Any:
    """``value`` (JSON data) with each dict and list in it copied."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def _init_only_fields(config_type: type) -> list[str]:
    """The ``InitVar`` pseudo-fields of a dataclass (string annotations too): ``__init__`` takes them, nothing
    keeps them."""
    marker = getattr(dataclasses, "_FIELD_INITVAR", None)
    fields = getattr(config_type, "__dataclass_fields__", {})
    return [name for name, field in fields.items() if marker is not None and field._field_type is marker]


def _takes_arguments(new: Callable[..., Any]) -> bool:
    """Whether a base's ``__new__`` takes more than the class (so the constructor's arguments are passed on)."""
    try:
        parameters = list(inspect.signature(new).parameters.values())
    except (TypeError, ValueError):
        return True
    return len(parameters) > 1 or any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)


def _union_members(annotation: Any) -> tuple[Any, ...]:
    """The members of a union annotation; ``()`` for any other."""
    return typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()


def dataclass_members(annotation: Any) -> list[type]:
    """The dataclasses ``annotation`` is, or is a union of."""
    return [m for m in (*_union_members(annotation), annotation) if dataclasses.is_dataclass(m)]  # type: ignore[misc]


def config_left_at_none(
    annotation: Any,
    raw: Mapping[str, Any],
    parameter: inspect.Parameter,
    named: Collection[str] | None = None,
    coders: Coders | None = None,
    *,
    others: Collection[str] | None = None,
) -> bool:
    """Whether a ``config: Cfg | None = None`` parameter (a dataclass; ``config: Cfg = None`` too, PEP 484's
    implicit ``Optional``) was left at ``None``: config.json then holds the other arguments, none of them a field
    of the dataclass; or one no JSON object can be (``config: str | None = None``, a preset's name), whose
    config.json holds no ``config``; or any other (a dict) whose config.json holds no ``config`` and only keys of
    the other ``named`` parameters (given where ``__init__`` takes no ``**kwargs``): a config dict's keys join
    config.json's, so such a file is the one a model built without one saves. A dataclass its class's ``coders``
    write is told by an empty file, one holding no ``config`` and only keys of the ``others`` named parameters
    (``**kwargs`` or not), or one its decoder refuses: its keys are the coder's, not its fields."""
    if parameter.default is not None:
        return False
    members = [m for m in _union_members(annotation) or (annotation,) if m is not type(None)]
    if not any(_takes_an_object(m) for m in members):
        return True
    classes = dataclass_members(annotation)
    if classes and len(classes) == len(members):
        coded = [c for c in classes if coders and c in coders]
        if coders and coded:  # (the coder's keys: a file it refuses is the other arguments')
            return not raw or _only_keys_of(raw, others) or not any(_decodes(coders[c][1], raw) for c in coded)
        fields = {f.name for c in classes for f in dataclasses.fields(c)}
        return not raw.keys() & fields
    return _only_keys_of(raw, named)


def _decodes(decode: Callable[[Any], Any], raw: Mapping[str, Any]) -> bool:
    """Whether a coder's ``decode`` takes config.json (``raw``: a copy, which a decoder may change)."""
    try:
        decode(copy.deepcopy(dict(raw)))
    except Exception:
        return False
    return True


def _only_keys_of(raw: Mapping[str, Any], named: Collection[str] | None) -> bool:
    """Whether config.json (``raw``) holds no ``config`` and only keys of the ``named`` parameters."""
    return named is not None and "config" not in raw and raw.keys() <= {*named} - {"config"}


def _takes_an_object(annotation: Any) -> bool:
    """Whether a JSON object may be a value of ``annotation``: anything but a JSON scalar, a list or an enum
    (a class with a coder may be written as one)."""
    origin = typing.get_origin(annotation) or annotation
    if origin in (str, int, float, bool, list, tuple):
        return False
    return not (isinstance(origin, type) and issubclass(origin, enum.Enum))


def has_default(parameter: inspect.Parameter) -> bool:
    return parameter.default is not inspect.Parameter.empty
