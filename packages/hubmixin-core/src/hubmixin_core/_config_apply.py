"""Config application: config.json and the caller's keywords turned into the ``__init__`` arguments of a load.

The layer of ``ModelHubMixinBase`` that runs in ``from_pretrained`` before the model is built: reading config.json,
decoding it by the annotations, the arguments recorded as not saved, and what a failed build was missing.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import re
import reprlib
import traceback
import types
import typing
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from hubmixin_core._capture import init_parameters
from hubmixin_core._checks import (
    UNSAVED_KEY,
    check_required_args,
    check_runtime_args,
    check_unsaved,
    check_unsaved_marker,
    takes_any_keyword,
    unknown_config_keys,
)
from hubmixin_core._config import (
    UNENCODABLE,
    encode_config,
    encode_value,
    init_type_hints,
    json_type_mismatch,
    loads_config,
    unknown_fields,
)
from hubmixin_core._config_capture import (
    ConfigCapture,
    config_left_at_none,
    dataclass_members,
    has_default,
    json_copy,
    saved_dataclass,
)
from hubmixin_core._forwarding import builds_from_own_values
from hubmixin_core._generated._options import DownloadOptions
from hubmixin_core._hub import locate_file
from hubmixin_core._init_arguments import (
    VARIADIC,
    InitArguments,
    decode_annotated,
    frameworks_own,
    hook_decoded,
    unwrapped,
)
from hubmixin_core._paths import not_a_file
from hubmixin_core.errors import (
    ConfigError,
    ConfigTypeError,
    HubMixinError,
    HubMixinOSError,
    MissingArgumentError,
    WeightsShapeError,
    format_names,
)
from hubmixin_core.typing import Coders, DataclassInstance
from hubmixin_core.weights._names import CONFIG_NAME

__all__ = ["ConfigApplication"]

logger = logging.getLogger("hubmixin_core")

_HELD_BACK = object()
"""Stands for a ``config`` config.json records as not saved while the rest of config.json is applied."""
_MISSING_ARGUMENTS = re.compile(
    r"(?P<init>\S*__init__)\(\) missing \d+ required (?:positional|keyword-only) arguments?: (?P<names>.*)"
)


class ConfigApplication(ConfigCapture):
    """Turns config.json and the caller's keywords into ``__init__`` arguments (a layer of ``ModelHubMixinBase``)."""

    @classmethod
    def _hub_check_given_arguments(cls, model_kwargs: Mapping[str, Any]) -> None:
        """Warn, as when the model is built, about each ``__init__`` argument given to ``from_pretrained`` (not read
        from config.json: the load checks those) of a JSON type its annotation refuses (``"5"`` for an ``int``): the
        model built with it would save a config.json ``from_pretrained`` refuses."""
        parameters = cls._hub_mixin_init_parameters
        coders: Coders | None = None
        for name, value in model_kwargs.items():
            parameter = parameters.get(name)
            if parameter is None or parameter.kind in VARIADIC or value is parameter.default:
                continue
            if name in cls._hub_mixin_runtime_args or isinstance(value, cls._hub_mixin_runtime_types):
                continue
            coders = coders or cls._all_coders()
            merged = name == "config" and isinstance(value, dict)  # (its keys join config.json's)
            encoded = encode_config(value, coders) if merged else encode_value(value, coders)
            if encoded is not UNENCODABLE:
                cls._hub_mixin_warn_unloadable(name, encoded, coders, given=" given to from_pretrained")

    @classmethod
    def _hub_note_no_config(cls, error: WeightsShapeError, model_id: str, model_kwargs: Mapping[str, Any]) -> None:
        """Add to ``error`` (the weights of a model built without a config.json) that ``__init__``'s defaults
        built it, and how to give its arguments: the log line saying config.json is missing is easily unseen."""
        runtime = {*cls._hub_mixin_runtime_args, *cls._hub_runtime_annotated()}  # (rngs, a mesh: not the config)
        names = [
            name
            for name, p in cls._hub_mixin_init_parameters.items()
            if p.kind not in VARIADIC and name not in runtime and name not in model_kwargs
        ]
        if not names:
            return
        given = [name for name in model_kwargs if name not in runtime]
        built = "defaults for the arguments not given" if given else "defaults"
        where = Path(model_id).resolve() if Path(model_id).is_dir() else model_id
        hint = (
            f"no {CONFIG_NAME} in {where}: the model was built with {cls.__qualname__}.__init__'s {built}; "
            f"give its arguments ({format_names(names[:4])}{', ...' if len(names) > 4 else ''}) to from_pretrained"
        )
        error.args = (f"{error.args[0]} ({hint})", *error.args[1:])

    @classmethod
    def _hub_config_beside(cls, raw: dict[str, Any], model_kwargs: dict[str, Any], source: str, *, held: bool) -> Any:
        """:meth:`_hub_apply_config`; with ``held`` (config.json records ``config`` as not saved), ``config`` is
        left out of ``model_kwargs``, not filled with the other arguments' keys (huggingface_hub's rule for a
        config.json without one), so that a class's own loader building the model without it is refused."""
        if not held:
            return cls._hub_apply_config(raw, model_kwargs, source=source)
        model_kwargs["config"] = _HELD_BACK  # (as if the caller gave it: the keys then fill the other arguments)
        try:
            return cls._hub_apply_config(raw, model_kwargs, source=source)
        finally:
            del model_kwargs["config"]

    @classmethod
    def _hub_give_runtime_args(cls, provided: Mapping[str, Any], model_kwargs: dict[str, Any]) -> None:
        """Give the class's declared ``runtime_args`` the objects of their annotated type that the load options
        provide, then refuse to go on (before any download) without a required one.

        Raises:
            ConfigError: a required runtime argument is missing; the message says how to give it.
        """
        declared = cls._hub_mixin_declared_runtime_args
        for name in declared - model_kwargs.keys():
            for kind in _type_names(cls._hub_mixin_hints().get(name)):
                if kind in provided:
                    model_kwargs[name] = provided[kind]
        for name, kind in cls._hub_runtime_annotated().items():  # (over a value an older config.json holds too)
            if kind in provided and name not in model_kwargs:
                model_kwargs[name] = provided[kind]
        check_runtime_args(cls.__qualname__, declared, cls._hub_mixin_init_parameters, model_kwargs)

    @classmethod
    def _hub_model_arguments(cls, raw: Mapping[str, Any] | None, *, source: str) -> dict[str, Any]:
        """The arguments ``from_pretrained`` would build the model with from the config ``raw`` (read from
        ``source``; ``None`` where there is none), decoded and checked, without loading anything (``hubmixin
        convert`` builds the source model so).

        Raises:
            ConfigTypeError: a value has another JSON type than its annotation.
            MissingArgumentError: a required argument is neither in the config nor recorded as unsaved.
        """
        model_kwargs: dict[str, Any] = {}
        if raw is not None:
            check_unsaved_marker(raw, source)
        values = dict(raw) if raw is not None else None
        unsaved = values.pop(UNSAVED_KEY, None) if values is not None else None
        if isinstance(unsaved, dict):
            cls._hub_give_unsaved(unsaved, {}, model_kwargs)
        if values is not None:
            cls._hub_apply_config(values, model_kwargs, source=source)
        cls._hub_check_required(model_kwargs, values, source)
        return model_kwargs

    @classmethod
    def _hub_check_required(
        cls, model_kwargs: Mapping[str, Any], config: Mapping[str, Any] | None, source: str
    ) -> None:
        """Refuse to call ``__init__`` without a required argument (see :func:`check_required_args`)."""
        check_required_args(
            cls.__qualname__,
            cls._hub_mixin_init_parameters,
            model_kwargs.keys(),
            supplied=cls._hub_mixin_runtime_args,
            config=config,
            source=source,
        )

    @classmethod
    def _hub_give_unsaved(
        cls,
        unsaved: Mapping[str, str],
        provided: Mapping[str, Any],
        model_kwargs: dict[str, Any],
        *,
        supplied: Collection[str] = (),
        defer: bool = False,
    ) -> dict[str, str]:
        """Give the arguments config.json records as not saved (``{name: type name}``) what the load options
        provide for their type; then refuse to build the model without one, unless the loader ``supplied`` it
        itself (see :func:`supplied_arguments`), or it is the run's own (a mesh) and has a default. With
        ``defer``, return those still missing instead: a class's own loader may make them itself, which only the
        ``__init__`` it calls tells (see :meth:`_hub_check_received`).

        Raises:
            ConfigError: names each missing argument, why it was not saved, and how to give it.
        """
        for name, kind in unsaved.items():
            if kind in provided:
                model_kwargs.setdefault(name, provided[kind])
        unsaved = {name: kind for name, kind in unsaved.items() if name not in supplied}
        runtime = cls._hub_runtime_type_names()
        init = cls._hub_mixin_init_parameters
        taken = cls._hub_keyword_parameters()
        star = {f"*{p.name}" for p in init.values() if p.kind is p.VAR_POSITIONAL}
        named = {name for name in unsaved if not name.startswith("*")}  # ("*args": values *args took)
        gone = sorted(unsaved.keys() - named - star)  # an argument this class no longer takes (an older version's)
        if not takes_any_keyword(taken):
            gone += sorted(named - taken.keys() - cls._hub_forwarded_parameters().keys())
        if gone:
            logger.warning(
                "%s.__init__ takes no %s, which config.json lists as not saved (saved by an older version?); "
                "they are ignored",
                cls.__qualname__,
                gone,
            )
            unsaved = {name: kind for name, kind in unsaved.items() if name not in gone}
        optional = {n for n, k in unsaved.items() if k in runtime and n in init and has_default(init[n])}
        needed = {name: kind for name, kind in unsaved.items() if name not in optional}
        if defer:
            return {name: kind for name, kind in needed.items() if name not in model_kwargs}
        check_unsaved(
            cls.__qualname__,
            needed,
            model_kwargs,
            runtime,
            cls._hub_mixin_runtime_option,
            cls._hub_coded_type_names(),
            cls._hub_extra_defaults,
            cls._hub_meant_instances,
            cls._hub_jsonable_refuser(),
            cls._hub_public_coder_type,
        )
        return {}

    @classmethod
    def _hub_check_received(cls, needed: Mapping[str, str], received: Collection[str]) -> None:
        """Refuse the model a class's own loader built where its ``__init__`` was not given (a value for) an
        argument config.json lists as not saved (``needed``), as :meth:`_hub_give_unsaved` would have up front.

        Raises:
            MissingArgumentError: names each missing argument, why it was not saved, and how to give it.
        """
        given = set(received)
        if any(name.startswith("*") for name in given):  # (named by the base's parameters they reach)
            given.update(cls._hub_varargs_names())
        runtime, coded = cls._hub_runtime_type_names(), cls._hub_coded_type_names()
        check_unsaved(
            cls.__qualname__,
            needed,
            given,
            runtime,
            cls._hub_mixin_runtime_option,
            coded,
            cls._hub_extra_defaults,
            cls._hub_meant_instances,
            cls._hub_jsonable_refuser(),
            cls._hub_public_coder_type,
        )

    @classmethod
    def _hub_check_failed_build(
        cls,
        needed: Mapping[str, str],
        builds: list[tuple[type, frozenset[str]]],
        error: Exception,
        model_kwargs: Mapping[str, Any],
        config: Mapping[str, Any] | None,
        source: str,
    ) -> None:
        """Raise :class:`MissingArgumentError` for the ``error`` of a class's own loader that called ``__init__``
        without an argument config.json lists as not saved (``needed``; Python's ``TypeError`` for a required
        one, or whatever ``__init__`` made of a ``None``), or looked it up where it was not (a ``KeyError``); or
        for Python's ``TypeError`` of its call of the class's ``__init__`` without a required argument that neither
        ``config`` (read from ``source``; ``None`` where there is none) nor ``model_kwargs`` holds, as
        :meth:`_hub_check_required` tells a framework's loader up front."""
        build = next(((kind, names) for kind, names in reversed(builds) if issubclass(kind, cls)), None)
        received = None if build is None else build[1]
        if received is None:  # not built here (or in a pool's thread): only an error naming the argument is told
            names = [name for name in _missing_names(error) if name in needed]
            needed, received = {name: needed[name] for name in names}, frozenset()
        try:
            cls._hub_check_received(needed, received)
        except MissingArgumentError as missing:
            raise missing from error
        # Only the error of the call itself (its ``__init__`` named, the names not given it, made outside any
        # ``__init__``): one raised inside ``__init__``'s body (an inner instance of the class, a
        # ``super().__init__`` call) is the class's own.
        kind = cls if build is None else build[0]
        given = {*model_kwargs, *(config or {}), *received}
        init = cls._hub_mixin_init_parameters
        absent = [name for name in _missing_names(error, init_of=kind) if name in init and name not in given]
        if absent and not _raised_in_init(error, kind):
            try:
                cls._hub_check_required({name: None for name in init if name not in absent}, config, source)
            except MissingArgumentError as missing:
                raise missing from error

    @classmethod
    def _hub_note_init_failure(
        cls, error: Exception, config: Mapping[str, Any] | None, given: Iterable[str], source: str
    ) -> None:
        """Note on ``error``, raised by ``__init__`` while a load built the model (not by hubmixin: its errors name
        what they are about), the values it was given from the file ``source`` (``config``), and the names of
        those the caller gave (``given``: their values may be secrets): a value of the right type that the model
        cannot take (``hidden: -4``) otherwise gives only the framework's error, naming neither file nor key."""
        if not config or isinstance(error, HubMixinError) or not _raised_in_init(error, cls):
            return
        short = reprlib.Repr()
        short.maxlevel, short.maxstring, short.maxother = 2, 40, 40
        callers = sorted(given)
        values = [f"{short.repr(k)[1:-1]}={short.repr(v)}" for k, v in config.items() if k not in callers]
        parts = [f"{source}'s {_listed(values)}"] if values else []
        parts += [f"from_pretrained's {_listed([short.repr(k)[1:-1] for k in callers])}"] if callers else []
        error.add_note(f"hubmixin: raised by {cls.__qualname__}.__init__, given {' and '.join(parts)}")

    @classmethod
    def _hub_read_config_for(cls, model_id: str, download: DownloadOptions) -> tuple[dict[str, Any], Path] | None:
        """:meth:`_hub_read_config`; a repo id that is not on the Hub is said not to be a local directory either."""
        try:
            return cls._hub_read_config(model_id, download)
        except GatedRepoError:  # the repo exists: the caller needs access to it (a subclass of the one below)
            raise
        except RepositoryNotFoundError as e:
            if Path(model_id).exists():
                raise
            where = Path(model_id).absolute()
            message = f"{model_id!r} is neither a local directory ({where} does not exist) nor a repository on the Hub"
            raise RepositoryNotFoundError(f"{message}: {e}", response=e.response) from e

    @classmethod
    def _hub_read_config(cls, model_id: str, download: DownloadOptions) -> tuple[dict[str, Any], Path] | None:
        """The config of ``model_id`` and its file; ``None`` without one.

        Raises:
            ConfigError: the file is not JSON (or nests too deeply) or not a JSON object, or is there but not a
                file (a directory, a link to a missing file); the message names it.
            HubMixinOSError: the file cannot be read (no permission: a ``PermissionError`` too), naming it.
        """
        config_file = locate_file(model_id, CONFIG_NAME, download)
        if config_file is None:
            local = Path(model_id).is_dir()  # a local directory without config is more likely a mistake
            if local and (unreadable := not_a_file(entry := Path(model_id) / CONFIG_NAME)):  # (not silently built
                raise ConfigError(f"{entry}: {unreadable}: cannot read the config")  # from defaults)
            where = Path(model_id).resolve() if local else model_id
            cls._hub_mixin_inspect_init()
            expected = any(  # an argument a config would give (a model without any saves no config.json)
                cls._hub_init_takes(name)
                for name in cls._hub_mixin_init_parameters
                if name not in cls._hub_mixin_runtime_args
            )
            level = logging.WARNING if local and expected else logging.INFO
            logger.log(level, "%s not found in %s", CONFIG_NAME, where)
            return None
        try:
            data = loads_config(config_file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{config_file}: not valid JSON: {e}") from e
        except ValueError as e:  # an integer longer than Python's int-string limit
            raise ConfigError(f"{config_file}: not valid JSON: {e}") from e
        except RecursionError:
            raise ConfigError(f"{config_file}: not valid JSON: arrays or objects nested too deeply") from None
        except OSError as e:  # (no permission, an I/O error): still the OSError (PermissionError...) it was
            raise HubMixinOSError(e.errno, f"{config_file}: cannot read the config: {e.strerror}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{config_file}: expected a JSON object, found {type(data).__name__}")
        check_unsaved_marker(data, str(config_file))
        return data, config_file

    @classmethod
    def _hub_apply_config(cls, raw: dict[str, Any], model_kwargs: dict[str, Any], *, source: str = CONFIG_NAME) -> Any:
        """Fill ``model_kwargs`` from a loaded config (as huggingface_hub does); returns the decoded config.

        Each value ``model_kwargs`` does not override is checked against its ``__init__`` annotation, then decoded
        (an annotated one by the class's ``_decode_arg`` override, where it has one and reads it; one the class's
        ``_encode_arg`` override, without a ``_decode_arg`` one, may have written is given as saved where these
        rules refuse it, as huggingface_hub gives it).

        Raises:
            ConfigTypeError: a value has another JSON type than its annotation (``None`` is accepted where the
                parameter defaults to ``None``); the message names ``source``, the key and the expected type.
            ConfigError: a value cannot be decoded (an enum's unknown value, a coder's failure).
        """
        cls._hub_mixin_inspect_init()
        parameters = cls._hub_mixin_init_parameters
        hints = cls._hub_mixin_hints()
        coders = cls._all_coders()
        given = set(model_kwargs)  # the caller's
        raw = json_copy(raw)  # the model may change what it is given: not the dict a caller may load from again
        values = dict(raw)
        for key, value in raw.items():
            if key not in parameters or key in model_kwargs:
                continue
            if cls._hub_decode_hook(key) is not None:  # (the class's _decode_arg decides: None, or a default too)
                values[key] = cls._hub_decode_argument(key, value, hints, coders, source)
                continue
            try:
                values[key] = cls._hub_value_by_rules(key, value, hints, coders, source, cls._hub_decode_argument)
            except ConfigError:
                if key not in hints or not cls._hub_encodes_alone():
                    raise
                # the form the class's _encode_arg wrote, which its __init__ takes: given as it is, as
                # huggingface_hub's _decode_arg gives a value it has no rule for
                logger.debug("%s: %s: key %r given to __init__ as saved", cls.__qualname__, source, key)
        named = {name: p for name, p in parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
        forwarded = cls._hub_forwarded_parameters()
        config_owner, config_parameter = (
            (cls, parameters["config"]) if "config" in parameters else forwarded.get("config", (None, None))
        )
        annotation = Any if config_owner is None else _config_annotation(config_owner, coders)
        if config_owner not in (None, cls) and not dataclass_members(annotation):
            config_owner = None  # a base's dict config: config.json cannot tell whether one was given to it
        for key, (owner, parameter) in forwarded.items():  # given to a base's __init__ by **kwargs
            if key in raw and key not in named and key not in model_kwargs:
                named[key] = parameter
                value = raw[key]
                if issubclass(owner, InitArguments) and (value is not None or parameter.default is not None):
                    value = owner._hub_decode_argument(key, value, owner._hub_mixin_hints(), coders, source)
                values[key] = model_kwargs[key] = value
        if not cls._hub_mixin_config_to_kwargs:  # (else **kwargs takes every key below)
            cls._hub_give_keys_read(raw, named, model_kwargs)
        if config_owner is not None and config_parameter is not None:  # (a base's takes the keys: its fields)
            named.setdefault("config", config_parameter)
        keywords = parameters if cls._hub_mixin_config_to_kwargs else named  # what reaches __init__ by name
        unknown = [] if dataclasses.is_dataclass(cls) else unknown_config_keys(raw, keywords)
        to_kwargs = cls._hub_mixin_config_to_kwargs and takes_any_keyword(parameters)
        alone = None if config_owner is not cls or to_kwargs else named.keys()  # (Keras gives **kwargs no keys)
        left_at_none = config_parameter is not None and config_left_at_none(
            annotation, raw, config_parameter, alone, coders, others=named.keys() if config_owner is cls else None
        )
        decoded_config = (
            config_owner is not None
            and config_parameter is not None
            and "config" not in model_kwargs
            and not left_at_none
        )
        fields = cls._hub_unknown_fields(raw, values, model_kwargs, keywords, annotation if decoded_config else None)
        if not _saves_and_loads_itself(cls):  # (its own loader reads the keys of the config.json it wrote)
            cls._hub_report_unknown_keys(unknown, fields, source, given=given)
        for name in parameters:
            if name not in model_kwargs and name in values:
                model_kwargs[name] = values[name]
        config: Any = raw
        fields_of_config: set[str] = set()  # (they reach ``config``, not ``**kwargs`` too)
        if config_owner is not None and config_parameter is not None and "config" not in model_kwargs:
            if left_at_none:
                model_kwargs["config"] = None  # built without one: config.json holds the other arguments
            else:

                def rules() -> Any:
                    if (found := json_type_mismatch(annotation, raw, coders)) is not None:
                        # a dataclass config: the keys are its fields
                        raise ConfigTypeError(source, found.where.removeprefix("."), found.expected, found.found)
                    return decode_annotated(annotation, raw, coders, source, "config")

                if config_owner is cls and (decode_arg := cls._hub_decode_hook("config")) is not None:
                    config = hook_decoded(decode_arg, annotation, raw, source, "config", rules)  # (huggingface_hub's)
                else:
                    config = rules()
                if to_kwargs and config_owner is cls and _is_dataclass_instance(config):
                    fields_of_config = {f.name for f in dataclasses.fields(config)} - parameters.keys()
                    config = cls._hub_override_fields(config, fields_of_config, model_kwargs, given, forwarded)
                model_kwargs["config"] = config
        elif config_owner is cls and to_kwargs and _is_dataclass_instance(model_kwargs.get("config")):
            # the caller's config: config.json's fields of its class are its, not ``**kwargs``'s either
            fields_of_config = {f.name for f in dataclasses.fields(model_kwargs["config"])} - parameters.keys()
        model_type: type = cls
        if dataclasses.is_dataclass(model_type):
            for field in dataclasses.fields(model_type):
                if field.name not in model_kwargs and field.name in values:
                    model_kwargs[field.name] = values[field.name]
        elif to_kwargs:
            for key, value in values.items():
                if key not in fields_of_config:
                    model_kwargs.setdefault(key, value)
        return config

    @classmethod
    def _hub_give_keys_read(
        cls, raw: Mapping[str, Any], named: dict[str, inspect.Parameter], model_kwargs: dict[str, Any]
    ) -> None:
        """Give back the keys of config ``raw`` that ``__init__`` (or a base's its ``**kwargs`` reaches) reads from
        its ``**kwargs`` itself (``kwargs.pop("extra", 0)``; see :meth:`_hub_kwargs_keys_read`), as saved, where the
        framework gives ``**kwargs`` no other key (Keras): the class's own arguments, which the capture saved, as
        huggingface_hub gives back a key ``__init__`` takes. They join ``named``; the caller's (in
        ``model_kwargs``) win. Runtime arguments (Keras' ``name``) are never the config's."""
        read = cls._hub_kwargs_keys_read() - cls._hub_mixin_runtime_args
        for key in sorted(read & raw.keys() - named.keys()):
            named[key] = inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY)
            model_kwargs.setdefault(key, raw[key])

    @classmethod
    def _hub_override_fields(
        cls,
        config: DataclassInstance,
        fields: Collection[str],
        model_kwargs: dict[str, Any],
        given: Collection[str],
        forwarded: Mapping[str, Any],
    ) -> DataclassInstance:
        """The dataclass ``config`` decoded from config.json with the ``fields`` the caller of ``from_pretrained``
        gave by keyword (in ``given``, and ``model_kwargs``): an ``__init__`` taking ``**kwargs`` gets them in
        ``config``, as the field they are, and not in ``**kwargs`` (unless a base's ``__init__`` that ``**kwargs``
        reaches names them too, as the saved value does)."""
        init = {f.name for f in dataclasses.fields(config) if f.init}
        overrides = {name: model_kwargs[name] for name in fields if name in given and name in init}
        for name in overrides.keys() - forwarded.keys():
            del model_kwargs[name]
        if not overrides:
            return config
        config = dataclasses.replace(config, **overrides)
        if (encoded := saved_dataclass(config, cls._all_coders())) is not UNENCODABLE:  # (as the caller's config)
            cls._hub_mixin_warn_unloadable("config", encoded, cls._all_coders(), given=" given to from_pretrained")
        return config

    @classmethod
    def _hub_unknown_fields(
        cls,
        raw: Mapping[str, Any],
        values: Mapping[str, Any],
        model_kwargs: Mapping[str, Any],
        keywords: Mapping[str, inspect.Parameter],
        config_annotation: Any,
    ) -> list[tuple[str, type]]:
        """The keys of config ``raw`` that the dataclasses it is decoded into have no field for, with each
        dataclass (see :func:`unknown_fields`): those of the arguments taken from it (not given by the caller), and,
        where ``config_annotation`` (a dataclass ``config``) takes its keys, those neither it nor ``__init__``
        takes. ``values`` holds the decoded arguments, a forwarded one (a base's) also in ``model_kwargs``."""
        coders = cls._all_coders()
        found: list[tuple[str, type]] = []
        if (
            config_annotation is not None
            and dataclass_members(config_annotation)
            and cls._hub_decode_hook("config") is None  # (the class's _decode_arg reads the whole file its own way)
        ):
            to_kwargs = cls._hub_mixin_config_to_kwargs and takes_any_keyword(cls._hub_mixin_init_parameters)
            for path, owner in unknown_fields(config_annotation, raw, coders):
                top = path.removeprefix(".")
                if top not in keywords and not (to_kwargs and top in raw):  # (**kwargs takes the top-level keys)
                    found.append((top, owner))
        forwarded = cls._hub_forwarded_parameters()
        for key, value in raw.items():
            if cls._hub_decode_hook(key) is not None:  # (the class's _decode_arg reads its own form: any keys)
                continue
            if key in cls._hub_mixin_init_parameters and key not in model_kwargs:
                hints = cls._hub_mixin_hints()
            elif key in forwarded and key in values and model_kwargs.get(key) is values[key]:
                hints = _init_hints(forwarded[key][0])
            else:
                continue
            found += unknown_fields(hints.get(key, Any), value, coders, key)
        return list(dict.fromkeys(found))  # (a key both a field of the config and an argument: once)

    @classmethod
    def _hub_report_unknown_keys(
        cls, unknown: list[str], fields: list[tuple[str, type]], source: str, *, given: Collection[str] = ()
    ) -> None:
        """Keys of config.json the class takes nowhere (``unknown``: not ``__init__``'s; ``fields``: not the fields
        of the dataclasses their values are decoded into) usually mean another class saved it: a
        :class:`ConfigError` under ``strict_config``, else a warning naming them. Keys that are keywords of a
        framework's own base (Keras' ``Layer``: ``autocast``), taken by ``__init__``'s ``**kwargs`` where the
        framework gives ``**kwargs`` no key at load, were saved by this class: the report says how to have them
        given back, and leaves out those the caller gives again (``given``: its ``model_kwargs``' keys)."""
        owners = _framework_keywords(cls) if unknown else {}
        unknown = [key for key in unknown if key not in owners or key not in given]
        other = [key for key in unknown if key not in owners]
        parts = [f"{cls.__qualname__}.__init__ takes no {other} found in {source}"] if other else []
        for owner in dict.fromkeys(owner for _, owner in fields):
            paths = [path for path, of in fields if of is owner]
            top = [path for path in paths if "." not in path and "[" not in path]  # the config's own keys
            if top:
                name = f"{cls.__qualname__}.__init__"
                parts.append(f"{name} takes no {top} found in {source} (nor are they fields of {owner.__qualname__})")
            if len(top) < len(paths):
                nested = [path for path in paths if path not in top]
                parts.append(f"{cls.__qualname__}: {owner.__qualname__} has no field for {nested} found in {source}")
        messages = ["; ".join(parts) + " (saved by another class?)"] if parts else []
        passed = [key for key in unknown if key in owners]
        if passed:
            messages.append(_not_given_back(cls, passed, owners, source))
        if not messages:
            return
        message = "; ".join(messages)
        if cls._hub_mixin_strict_config:
            raise ConfigError(message)
        logger.warning("%s; they are ignored", message)


def _framework_keywords(cls: type[InitArguments]) -> dict[str, type]:
    """The keywords named by the ``__init__`` of the framework's own bases of ``cls`` (Keras' ``Layer``:
    ``activity_regularizer``, ``autocast``, ...), each with the base naming it, where ``cls.__init__`` takes them
    through its ``**kwargs`` and the framework gives ``**kwargs`` no config key at load; ``{}`` otherwise."""
    if cls._hub_mixin_config_to_kwargs or not takes_any_keyword(cls._hub_mixin_init_parameters):
        return {}
    owners: dict[str, type] = {}
    for base in cls.__mro__[1:]:
        init = vars(base).get("__init__")
        if init is None or not frameworks_own(base):
            continue
        try:
            parameters = init_parameters(init)
        except (TypeError, ValueError):
            continue
        for name, parameter in parameters.items():
            if parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
                owners.setdefault(name, base)
    return owners


def _not_given_back(cls: type, keys: list[str], owners: Mapping[str, type], source: str) -> str:
    """The report of config keys ``keys``, keywords of the framework's bases ``owners`` (by key) that
    ``cls.__init__``'s ``**kwargs`` took: saved, not given back, and what to do about it (as docs/keras.md says)."""
    name = f"{cls.__qualname__}.__init__"
    bases = ", ".join(dict.fromkeys(f"{owners[key].__qualname__}.__init__" for key in keys))
    return (
        f"{name} takes no {keys} by name, found in {source}: keywords of {bases} given through its **kwargs, "
        f"which from_pretrained does not give back (name them as parameters of {name} to have them saved and "
        "given back, or give them again in model_kwargs)"
    )


def _is_dataclass_instance(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _config_annotation(owner: type, coders: Coders) -> Any:
    """The annotation of the ``config`` parameter of ``owner``'s ``__init__``."""
    return _init_hints(owner, coders).get("config", Any)


def _init_hints(owner: type, coders: Coders | None = None) -> dict[str, Any]:
    """The resolved annotations of ``owner``'s ``__init__``: a mixin class's own (cached), else read now."""
    return owner._hub_mixin_hints() if issubclass(owner, InitArguments) else init_type_hints(owner, coders or ())


def defining_class(cls: type, name: str) -> type | None:
    """The class of ``cls``'s MRO whose own namespace defines ``name``: the one whose ``name`` ``cls`` has."""
    return next((klass for klass in cls.__mro__ if name in vars(klass)), None)


def _type_names(annotation: Any) -> set[str]:
    """The names of the classes ``annotation`` is, or is a union of (``Mesh | None``: ``{"Mesh", "NoneType"}``)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return {t.__qualname__ for t in (typing.get_args(annotation) if union else (annotation,)) if isinstance(t, type)}


def builds_from_arguments(cls: type) -> bool:
    """Whether ``cls``'s ``_from_pretrained`` is a framework's own (``_hub_builds_from_arguments`` in the class
    that defines it), which calls ``cls(**model_kwargs)``: an override may supply arguments itself."""
    owner = defining_class(cls, "_from_pretrained")
    return owner is not None and bool(vars(owner).get("_hub_builds_from_arguments", False))


def _saves_and_loads_itself(cls: type) -> bool:
    """Whether the class defining ``cls``'s ``_from_pretrained``, one building the model from values of its own,
    defines its ``_save_pretrained`` too (NVIDIA's BigVGAN writes and reads a config.json of its own): the keys of
    its config.json are then its loader's to take, not only ``__init__``'s."""
    if defining_class(cls, "_save_pretrained") is not defining_class(cls, "_from_pretrained") or builds_from_arguments(
        cls
    ):
        return False
    return builds_from_own_values(cls._from_pretrained)  # type: ignore[attr-defined]


def _missing_names(error: Exception, *, init_of: type | None = None) -> list[str]:
    """The arguments ``error`` says are missing: a ``KeyError``'s key, or those Python's ``TypeError`` for a call of
    an ``__init__`` names; with ``init_of``, only that ``TypeError``, for a call of ``init_of``'s ``__init__``."""
    if isinstance(error, KeyError) and init_of is None:
        return [error.args[0]] if error.args and isinstance(error.args[0], str) else []
    found = _MISSING_ARGUMENTS.search(str(error)) if isinstance(error, TypeError) else None
    init = None if init_of is None else unwrapped(init_of.__init__)  # type: ignore[misc]
    if found is None or (init is not None and found["init"] != init.__qualname__):
        return []
    return re.findall(r"'([^']+)'", found["names"])


def _listed(items: list[str], most: int = 12) -> str:
    """``items`` joined for a message, the first ``most`` only."""
    return ", ".join(items[:most]) + (", ..." if len(items) > most else "")


def _raised_in_init(error: BaseException, cls: type) -> bool:
    """Whether ``error`` was raised while an ``__init__`` of ``cls`` (or of a base) ran: by a call made in its body
    (an inner instance of the class), not by the loader's own call of the class, whose ``TypeError`` for missing
    arguments comes before any ``__init__`` runs (a framework's metaclass may stand between, as NNX's does)."""
    inits = {unwrapped(vars(k)["__init__"]) for k in cls.__mro__ if "__init__" in vars(k)}
    codes = {code for code in (getattr(init, "__code__", None) for init in inits) if code is not None}
    return any(frame.f_code in codes for frame, _ in traceback.walk_tb(error.__traceback__))
