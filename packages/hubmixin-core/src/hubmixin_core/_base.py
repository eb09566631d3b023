"""The logic of ``ModelHubMixin``: class metadata, config capture, save/load/push orchestration.

The public methods are generated (``_generated/_methods.py``) and forward here; a framework implements only
``_save_pretrained`` and ``_from_pretrained``.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import functools
import inspect
import json
import logging
import os
import re
import traceback
import types
import typing
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, Unpack, cast

from huggingface_hub import CommitInfo, ModelCard
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
from huggingface_hub.hub_mixin import MixinInfo

from hubmixin_core._atomic import atomic_directory, push_folder, reading, remove_interrupted_saves, save_stamp
from hubmixin_core._capture import (
    LOADING,
    ConfigSlot,
    get_config,
    get_received,
    get_unsaved,
    init_parameters,
    loader_values,
    loaders_own,
    recording_builds,
    set_config,
    wrap_init,
)
from hubmixin_core._card import TEMPLATE_NOT_GIVEN, CardInfo
from hubmixin_core._checks import (
    UNSAVED_KEY,
    check_keywords,
    check_required_args,
    check_runtime_args,
    check_unsaved,
    closest,
    expand_location,
    instance_meant,
    meant_instance,
    same_value,
    takes_any_keyword,
    unknown_config_keys,
)
from hubmixin_core._config import (
    BUILTIN_CODERS,
    UNENCODABLE,
    NonStringKey,
    all_subclasses,
    coder_output_fault,
    decode_value,
    decoded_like_default,
    describe_type,
    dumps_config,
    encode_config,
    encode_value,
    init_type_hints,
    is_json_of,
    json_type_mismatch,
    loads_config,
    unencodable_part,
    unknown_fields,
)
from hubmixin_core._forwarding import (
    SuperCall,
    builds_from_own_values,
    builds_with_positional,
    forwards_whole,
    keywords_read,
    kwargs_only_passed_on,
    passes_on_whole,
    reads_key,
    super_call,
    supplied_arguments,
    wrapper_changes_signature,
)
from hubmixin_core._frameworks import check_framework_base
from hubmixin_core._generated._options import DownloadOptions, UploadOptions
from hubmixin_core._hf_compat import DECODING, HfMixinHelpers, hf_hook
from hubmixin_core._hub import check_whole_checkpoint, locate_file, one_commit, upload_folder
from hubmixin_core._override import LEGACY_DOWNLOAD_KEYWORDS, drop_deprecated_keywords, model_arguments
from hubmixin_core._paths import check_local_location, check_probeable, not_a_file
from hubmixin_core._published import refuse_published_token
from hubmixin_core._roundtrip import (
    ANNOTATED_BASE,
    enum_module_base,
    json_native,
    key_annotation,
    read_only_sequence,
    sentinel_default,
    type_change,
)
from hubmixin_core._warn import warn_user
from hubmixin_core.errors import (
    ConfigEncodingError,
    ConfigEncodingWarning,
    ConfigError,
    ConfigTypeError,
    HubMixinError,
    HubMixinTypeError,
    HubMixinValueError,
    LoaderOptionWarning,
    MissingArgumentError,
    WeightsError,
    WeightsShapeError,
    format_names,
)
from hubmixin_core.errors import _is_function_type as is_function_type
from hubmixin_core.errors import _spelled_type as spelled_type
from hubmixin_core.errors import _type_name as type_name
from hubmixin_core.params import DOWNLOAD_PARAMS, SAVE_PARAMS, UPLOAD_PARAMS
from hubmixin_core.typing import ClassKeywords, Coders, DataclassInstance
from hubmixin_core.weights._names import CONFIG_NAME, WEIGHTS_FILE_PATTERNS, is_weights_file, replaced_by_save
from hubmixin_core.weights._report import HeldReports

__all__ = ["ModelHubMixinBase", "loose_annotation"]

logger = logging.getLogger("hubmixin_core")

_README = "README.md"
_HF_LOADER_OPTIONS = frozenset(
    {"revision", "cache_dir", "force_download", "local_files_only", "token", "proxies", "resume_download"}
    | {"map_location", "strict"}  # PyTorchModelHubMixin's
)
"""The options huggingface_hub's ``from_pretrained`` takes itself (never gives to ``__init__``)."""

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_ALWAYS_PASSED = ("revision", "cache_dir", "force_download", "local_files_only", "token")
"""The download keywords huggingface_hub's ``_from_pretrained`` contract always passes."""
_CARD_KEYS = ("language", "library_name", "license", "license_name", "license_link", "pipeline_tag")


_HELD_BACK = object()
"""Stands for a ``config`` config.json records as not saved while the rest of config.json is applied."""

_LOAD_ATTEMPTS = 5
"""Loads of a local directory that changed while it was read, before giving up (each is retried)."""


class ModelHubMixinBase(HfMixinHelpers):
    """Hand-written core of :class:`hubmixin_core.ModelHubMixin`; use that class, not this one."""

    _hub_mixin_info: ClassVar[MixinInfo] = CardInfo().info()
    """The card's template and metadata (huggingface_hub's): what a library changes in it goes into the cards of
    the class's models, and into the subclasses made after the change (each class holds its own copy)."""
    _hub_mixin_coders: ClassVar[Coders] = {}
    _hub_mixin_strict_config: ClassVar[bool] = False
    _hub_mixin_init_parameters: ClassVar[dict[str, inspect.Parameter]] = {}
    _hub_mixin_jsonable_default_values: ClassVar[dict[str, Any]] = {}
    _hub_mixin_inspected_init: ClassVar[object] = None
    _hub_mixin_hints_cache: ClassVar[tuple[object, dict[str, Any]] | None] = None
    _hub_mixin_json_forms_taken: ClassVar[tuple[type, ...]] = ()
    """Types whose JSON form (a coder's) the framework takes where their objects go (JAX takes a dtype's name):
    such a value coming back as that form where nothing says its type is not warned about."""
    _hub_mixin_runtime_args: ClassVar[frozenset[str]] = frozenset()
    """``__init__`` arguments never written to config.json (the framework's own, and the class's ``runtime_args``)."""
    _hub_mixin_declared_runtime_args: ClassVar[frozenset[str]] = frozenset()
    _hub_mixin_runtime_option: ClassVar[str | None] = None
    """The load option that gives arguments of ``_hub_mixin_runtime_types`` (Flax: ``sharding``), if any."""
    """The classes' own ``runtime_args`` (the user's to give at load; the framework gives its own)."""
    _hub_mixin_runtime_types: ClassVar[tuple[type, ...]] = ()
    """Types whose objects belong to the run, not the model (a JAX ``Mesh``): an argument given one, or annotated
    with one and defaulted (``mesh: Mesh | None = None``, whatever its value), is left out of config.json without a
    warning, and is given again at load (see :meth:`_hub_runtime_values`)."""
    _hub_mixin_runtime_annotations: ClassVar[tuple[type, ...]] = ()
    """Those of :attr:`_hub_mixin_runtime_types` an argument belongs to the run by its annotation alone
    (``mesh: Mesh | None = None`` left at ``None``: Flax's ``Mesh``, not ``nnx.Rngs``, whose ``None`` may mean no
    dropout); see :meth:`_hub_runtime_annotated`."""
    _hub_extra_defaults: ClassVar[dict[str, Any]] = {}
    """Defaults of the framework's extra parameters (set by the generated class)."""
    _hub_mixin_inject_config: ClassVar[bool] = False
    """Whether ``_from_pretrained`` named ``config`` when the class was made (huggingface_hub's flag: a mock put in
    its place later, as in tests written for huggingface_hub, still gets the config)."""
    _hub_mixin_framework: ClassVar[str | None] = None
    """The framework package's name (``"torch"``, ``"flax"``, ``"keras"``): its mixin on another framework's model
    class is refused when the class is defined."""
    _hub_mixin_kwargs_names: ClassVar[frozenset[str] | None] = None
    """The keywords an ``__init__``'s ``**kwargs`` can take, where the framework's base class takes them all
    (Keras' ``Layer``: ``name``, ``dtype``, ``trainable`` ...): a misspelled one is then refused before any
    download. ``None``: any keyword."""
    _hub_mixin_config_to_kwargs: ClassVar[bool] = True
    """Whether config keys ``__init__`` does not name go to its ``**kwargs`` (huggingface_hub's rule). A framework
    whose ``**kwargs`` are its own base class's keywords (Keras' ``Layer``) turns it off: such keys are then
    unknown keys, and the fields of a ``config`` parameter reach only ``config``."""

    @classmethod
    def _hub_mixin_init_subclass(
        cls,
        *,
        repo_url: str | None = None,
        paper_url: str | None = None,
        docs_url: str | None = None,
        model_card_template: str | None = TEMPLATE_NOT_GIVEN,
        language: str | list[str] | None = None,
        library_name: str | None = None,
        license: str | None = None,
        license_name: str | None = None,
        license_link: str | None = None,
        pipeline_tag: str | None = None,
        tags: list[str] | None = None,
        coders: Coders | None = None,
        strict_config: bool | None = None,
        runtime_args: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        try:
            super().__init_subclass__(**kwargs)
        except TypeError as error:
            if not kwargs or "keyword" not in str(error):
                raise
            raise _unknown_class_keywords(cls, kwargs) from error
        check_framework_base(cls, cls._hub_mixin_framework)
        # huggingface_hub declares _hub_mixin_config as a class attribute; one re-declared as such (a plain value,
        # here or in a helper mixin before this base) would shadow the property and leave config.json unwritten.
        config_attr = next(vars(k)["_hub_mixin_config"] for k in cls.__mro__ if "_hub_mixin_config" in vars(k))
        if not hasattr(type(config_attr), "__get__"):  # (a descriptor, a library's own property, is kept)
            type.__setattr__(cls, "_hub_mixin_config", vars(ModelHubMixinBase)["_hub_mixin_config"])
        cls._hub_mixin_info = (
            CardInfo.from_info(cls._hub_mixin_info)
            .derive(
                **({} if model_card_template is TEMPLATE_NOT_GIVEN else {"template": model_card_template}),
                repo_url=repo_url,
                paper_url=paper_url,
                docs_url=docs_url,
                language=language,
                library_name=library_name,
                license=license,
                license_name=license_name,
                license_link=license_link,
                pipeline_tag=pipeline_tag,
                tags=tags,
            )
            .info()
        )
        if coders is not None and (not isinstance(coders, Mapping) or not all(map(_is_coder, coders.items()))):
            wrong = (
                coders
                if not isinstance(coders, Mapping)
                else dict([next(i for i in coders.items() if not _is_coder(i))])
            )
            raise HubMixinTypeError(
                f"{cls.__qualname__}: class keyword coders= must map types to (encode, decode), got {wrong!r:.120} "
                "(each a type, and a pair of callables)"
            )
        if strict_config is not None and not isinstance(strict_config, bool):
            raise HubMixinTypeError(
                f"{cls.__qualname__}: class keyword strict_config= must be a bool, got {strict_config!r}"
            )
        cls._hub_mixin_coders = {**cls._hub_mixin_coders, **(coders or {})}
        cls._hub_mixin_jsonable_custom_types = tuple(cls._hub_mixin_coders)
        if strict_config is not None:
            cls._hub_mixin_strict_config = strict_config
        if isinstance(runtime_args, str):
            raise HubMixinTypeError(f"{cls.__qualname__}: runtime_args must be a list of argument names, not a string")
        cls._hub_mixin_runtime_args = cls._hub_mixin_runtime_args | frozenset(runtime_args)
        cls._hub_mixin_declared_runtime_args = cls._hub_mixin_declared_runtime_args | frozenset(runtime_args)
        if cls.__module__.endswith("._generated._methods"):
            for name in ("push_to_hub", "save_pretrained"):
                if name in cls.__dict__:
                    setattr(cls, name, _suggesting(cls.__dict__[name]))
        cls._hub_mixin_inspect_init(creating=True)
        cls._hub_mixin_inject_config = _named(inspect.signature(cls._from_pretrained).parameters, "config")

    if TYPE_CHECKING:  # the class keywords, typed for mypy: a misspelled one is an error there too

        def __init_subclass__(cls, **kwargs: Unpack[ClassKeywords]) -> None: ...

    else:
        __init_subclass__ = _hub_mixin_init_subclass

    @classmethod
    def _hub_mixin_inspect_init(cls, *, creating: bool = False) -> None:
        """Read the ``__init__`` signature: its parameters and JSON-encodable defaults.

        Done at class creation (``creating``: an inherited ``__init__`` is wrapped later, see :func:`wrap_init`)
        and again whenever ``__init__`` changed since (``@dataclass`` adds it after ``__init_subclass__`` has run).
        """
        wrap_init(cls, _slot_of, inherited=not creating)
        init = cls.__init__
        inspected = cls.__dict__.get("_hub_mixin_inspected_init")
        # (huggingface_hub's mixin, before this one in the MRO, sets its own parameters, ``self`` among them)
        if (
            isinstance(inspected, tuple)
            and inspected[0] is init
            and inspected[1] is vars(cls).get("_hub_mixin_init_parameters")
        ):
            return
        parameters = init_parameters(init)
        cls._hub_mixin_init_parameters = parameters
        defaults = {}
        for param in parameters.values():
            if param.name in cls._hub_mixin_runtime_args:
                continue
            if param.default is not inspect.Parameter.empty and not cls._hub_sentinel_default(param):
                encoded = cls._hub_encode_argument(param.default, cls._all_coders())
                # A default that would come back as another type (an enum with no annotation) is left to apply
                # at load, as huggingface_hub leaves any default JSON cannot hold.
                if (
                    encoded is not UNENCODABLE
                    and cls._hub_mixin_type_change(param.name, param.default, encoded) is None
                ):
                    defaults[param.name] = encoded
        cls._hub_mixin_jsonable_default_values = defaults
        cls._hub_mixin_inspected_init = (init, parameters)

    @classmethod
    def _hub_sentinel_default(cls, param: inspect.Parameter) -> bool:
        """Whether ``param``'s default is an Enum sentinel of "not given" (see :func:`sentinel_default`)."""
        if not isinstance(param.default, enum.Enum):
            return False  # (no annotations to resolve)
        return sentinel_default(param.default, cls._hub_mixin_hints().get(param.name, Any))

    @classmethod
    def _hub_keyword_parameters(cls) -> dict[str, inspect.Parameter]:
        """``__init__``'s parameters, its ``**kwargs`` replaced by the keywords the framework's base class takes
        through it (:attr:`_hub_mixin_kwargs_names`), where the framework says which."""
        cls._hub_mixin_inspect_init()
        parameters = dict(cls._hub_mixin_init_parameters)
        if wrapper_changes_signature(cls.__init__) and not takes_any_keyword(parameters):
            # a decorator taking keywords of its own (``@deprecate_kwarg`` renaming one): any may be its
            return {**parameters, "kwargs": inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)}
        names = cls._hub_mixin_kwargs_names
        if names is None and takes_any_keyword(parameters) and cls._hub_kwargs_end():
            names = frozenset(cls._hub_forwarded_parameters())  # (only those reach the base that ends the way)
        if names is None or not takes_any_keyword(parameters):
            return parameters
        kept = {name: p for name, p in parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
        extra = {name: inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in sorted(names - kept.keys())}
        return {**kept, **extra}

    @classmethod
    def _hub_init_takes(cls, name: str) -> bool:
        """Whether ``__init__`` names a parameter ``name``, or passes its ``**kwargs`` on to a base's that names it:
        for a framework package supplying a runtime argument."""
        cls._hub_mixin_inspect_init()
        param = cls._hub_mixin_init_parameters.get(name)
        if param is not None and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            return True
        return param is None and name in cls._hub_forwarded_parameters()

    @classmethod
    def _all_coders(cls) -> Coders:
        """The class's coders, then the built-in ones (checked in this order; the class's win)."""
        builtin = {t: c for t, c in BUILTIN_CODERS.items() if t not in cls._hub_mixin_coders}
        return {**cls._hub_mixin_coders, **builtin}

    # CONFIG CAPTURE

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
        if (encoded := _saved_dataclass(passed.get("config"), cls._all_coders())) is not UNENCODABLE:
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
        config = {k: _json_copy(v) for k, v in cls._hub_mixin_jsonable_default_values.items() if k not in annotated}
        coders = cls._all_coders()
        for name, value in passed.items():
            if name in parameters and value is parameters[name].default and cls._hub_sentinel_default(parameters[name]):
                continue  # ("not given", passed on as such: its default applies at load)
            if isinstance(value, cls._hub_mixin_runtime_types):  # the run's own: given again (or by default) at load
                config.pop(name, None)
                if unsaved is not None:
                    unsaved[name] = type(value).__qualname__
                continue
            if name in annotated and _has_default(parameters[name]):  # (``mesh=None``: the load's mesh, else the
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
    def _hub_encode_argument(cls, value: Any, coders: Coders, *, merged: bool = False) -> Any:
        """The JSON saved for an ``__init__`` argument (a ``config`` dict ``merged``: its keys join config.json's),
        or ``UNENCODABLE``. Where the class overrides huggingface_hub's hooks, as there: its ``_is_jsonable`` must
        take the value (a secret it refuses is never saved); a class overriding both ``_encode_arg`` and
        ``_decode_arg`` (its own format, read back by its own decoder) saves what its ``_encode_arg`` returns. Else
        by hubmixin's rules; a value they cannot encode is offered to an ``_encode_arg`` override (saved once JSON
        holds it)."""
        is_jsonable = hf_hook(cls, "_is_jsonable")
        if is_jsonable is not None and not is_jsonable(value):
            return UNENCODABLE
        encode_arg = hf_hook(cls, "_encode_arg")
        if encode_arg is None or hf_hook(cls, "_decode_arg") is None:
            encoded = encode_config(value, coders) if merged else encode_value(value, coders)
            if encoded is not UNENCODABLE or encode_arg is None:
                return encoded
        value = encode_arg(value)
        return encode_config(value, coders) if merged and isinstance(value, dict) else encode_value(value, coders)

    @classmethod
    def _hub_jsonable_refuser(cls) -> str | None:
        """``"Net._is_jsonable"`` where the class overrides huggingface_hub's ``_is_jsonable`` (a value it refuses
        is left out of config.json), else ``None``."""
        hook = hf_hook(cls, "_is_jsonable")
        if hook is None:
            return None
        owner = next(klass for klass in cls.__mro__ if "_is_jsonable" in vars(klass))
        if owner.__module__.startswith("huggingface_hub."):  # (its mixin first in the MRO: no method of the class's)
            return f"huggingface_hub's {owner.__qualname__}._is_jsonable"
        return f"{cls.__qualname__}._is_jsonable"

    @classmethod
    def _hub_encodes_alone(cls) -> bool:
        """Whether the class overrides huggingface_hub's ``_encode_arg`` but not ``_decode_arg``: a saved value
        hubmixin's rules cannot decode (or its annotation refuses) is then the hook's form, given to ``__init__`` as
        it is."""
        return hf_hook(cls, "_encode_arg") is not None and hf_hook(cls, "_decode_arg") is None

    @classmethod
    def _hub_decode_hook(cls, name: str) -> Callable[..., Any] | None:
        """The class's override of huggingface_hub's ``_decode_arg`` where ``__init__`` annotates argument ``name``:
        it then decides the value ``from_pretrained`` gives (as there), unchecked; else ``None``."""
        parameter = cls._hub_mixin_init_parameters.get(name)
        if parameter is None or parameter.annotation is inspect.Parameter.empty:
            return None
        return hf_hook(cls, "_decode_arg")

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
    def _hub_mixin_type_change(
        cls, name: str, value: Any, encoded: Any, coders: Coders | None = None, *, trust_unresolved: bool = True
    ) -> tuple[str, str, str] | None:
        """Where ``from_pretrained`` would give argument ``name`` (``value``, saved as ``encoded``) back as a value of
        another type, and both types' names (see ``_roundtrip.type_change``); ``None`` if it comes back as it was.

        An annotation that does not resolve is trusted with ``trust_unresolved`` (while the class is created, a
        name defined later in its module does not resolve yet); it is no annotation otherwise (at load too)."""
        if json_native(value) or cls._hub_decode_hook(name) is not None:
            return None
        hints = cls._hub_mixin_hints()
        if trust_unresolved and cls._hub_mixin_unresolved(name):
            return None
        if isinstance(value, cls._hub_mixin_json_forms_taken):  # the framework takes their JSON form back
            return None
        try:
            decoded = cls._hub_decode_argument(name, encoded, hints, coders or cls._all_coders(), "config.json")
        except HubMixinError:  # the load will say what is wrong with it
            return None
        return type_change(value, decoded, name, hints.get(name, Any))

    @classmethod
    def _hub_mixin_unresolved(cls, name: str) -> bool:
        """Whether argument ``name`` is annotated with a name this module cannot resolve (imported only under
        ``TYPE_CHECKING``, defined in a function): ``from_pretrained`` cannot decode by it."""
        annotated = cls._hub_mixin_init_parameters[name].annotation is not inspect.Parameter.empty
        return annotated and name not in cls._hub_mixin_hints()

    @classmethod
    def _hub_mixin_hints(cls) -> dict[str, Any]:
        """The resolved ``__init__`` annotations. Kept once every one resolves (and until ``__init__`` changes):
        a name defined later in the class's module, or imported only for type checkers, is tried again each
        time, since the class is inspected before its module has finished loading."""
        cached = cls.__dict__.get("_hub_mixin_hints_cache")
        if cached is not None and cached[0] is cls.__init__:
            kept: dict[str, Any] = cached[1]
            return kept
        hints = init_type_hints(cls, (*cls._all_coders(), *cls._hub_mixin_runtime_types))  # (Flax's Mesh too)
        if getattr(cls.__init__, "__annotations__", {}).keys() <= hints.keys():
            cls._hub_mixin_hints_cache = (cls.__init__, hints)
        return hints

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
        if found is not None and not _is_json_of(encoded, default, coders):
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
            None
            if isinstance(owner, type) and issubclass(owner, ModelHubMixinBase)
            else type_change(value, encoded, name)
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

    @classmethod
    def _hub_varargs_names(cls) -> list[str]:
        """The names of the parameters ``__init__``'s ``*args`` reaches when it passes them, and its ``**kwargs``,
        on to its base's ``__init__`` (``super().__init__(*args, **kwargs)``: the load gives them back by keyword):
        the base's positional parameters past those given explicitly before; ``[]`` otherwise."""
        own = cls._hub_mixin_init_parameters
        call = super_call(cls.__init__, _next_init_class(cls, cls.__init__))
        if not takes_any_keyword(own) or not call.args or not call.kwargs:  # (given back by keyword, at load)
            return []
        passed, keywords = {_unwrapped(cls.__init__)}, set(call.keywords)
        for _, init, parameters in _base_inits(cls):  # the first after its own: the one `super().__init__` calls
            if _unwrapped(init) in passed:  # (a subclass without an ``__init__`` of its own inherits it)
                continue
            onward = _passes_all_on(cls, init, parameters) if call.positional == 0 else None
            if onward is not None:  # (a base's ``__init__(self, *args, **kwargs)`` passing them on in turn)
                passed.add(_unwrapped(init))
                keywords |= onward.keywords
                continue
            names = [n for n, p in parameters.items() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
            return [name for name in names[call.positional :] if name not in keywords]
        return []

    @classmethod
    def _hub_mixin_encoding_error(cls, name: str, value: Any) -> ConfigEncodingError:
        """The error naming the part of ``value`` (the argument ``name``) that JSON cannot hold, or the class's
        ``_is_jsonable`` where it alone refuses it (hubmixin's rules would save it)."""
        coders = cls._all_coders()
        is_jsonable = hf_hook(cls, "_is_jsonable")
        if is_jsonable is not None and not is_jsonable(value) and encode_value(value, coders) is not UNENCODABLE:
            return ConfigEncodingError(name, type(value), cls.__qualname__, refused_by=cls._hub_jsonable_refuser())
        found = unencodable_part(value, coders)
        part, part_value = (None, value) if found is None else found
        coder = next((t for t in coders if isinstance(part_value, t)), None)
        if coder is not None:  # its encoder returned something JSON cannot hold
            where, fault = coder_output_fault(coders[coder][0](part_value)) or ("", None)
            fault_type = type(fault.key) if isinstance(fault, NonStringKey) else type(fault)
            part_type = None if found is None else type(part_value)
            return ConfigEncodingError(
                name, type(value), cls.__qualname__, part, part_type, coder_type=coder, coder_fault=(where, fault_type)
            )
        key_type = type(part_value.key) if isinstance(part_value, NonStringKey) else None
        part_type = key_type or (None if found is None else type(part_value))
        if found is None and isinstance(value, type) and instance_meant(cls._hub_mixin_hints().get(name), value):
            return ConfigEncodingError(name, type(value), cls.__qualname__, given_class=value.__qualname__)
        return ConfigEncodingError(name, type(value), cls.__qualname__, part, part_type, key_type)

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
            if parameter is not None and parameter.kind not in _VARIADIC and name not in cls._hub_mixin_runtime_args:
                cls._hub_mixin_warn_unloadable(name, value, coders, given=where)
        annotation = cls._hub_mixin_hints().get("config")
        dataclass_config = "config" in parameters and bool(_dataclass_members(annotation))
        # a dataclass ``config`` is decoded from the whole file (unless left at ``None``), as the loader does
        left_at_none = dataclass_config and _left_at_none(annotation, config, parameters["config"], coders=coders)
        if dataclass_config and "config" not in config and not left_at_none:
            cls._hub_mixin_warn_unloadable("config", dict(config), coders, given=where)

    # SAVE AND PUSH

    def _hub_save(
        self,
        save_directory: str | Path,
        *,
        repo_id: str | None,
        push_to_hub: bool,
        upload: UploadOptions,
        save_kwargs: dict[str, Any],
        push_kwargs: Mapping[str, Any] | None = None,
    ) -> CommitInfo | None:
        if not isinstance(save_directory, str | os.PathLike):
            raise HubMixinTypeError(f"save_directory must be a path, got {type(save_directory).__qualname__}")
        if _holds_nul(save_directory):  # (the OS's calls raise a bare ValueError naming no path)
            raise HubMixinValueError(f"save_directory {os.fspath(save_directory)!r} holds a NUL character")
        save_directory = Path(expand_location(Path(save_directory)))  # as from_pretrained expands it
        # What is called: the instance's own push_to_hub too (a wrapper, a Mock), as huggingface_hub calls it.
        push = _signature_parameters(self.push_to_hub) if push_to_hub else None  # type: ignore[attr-defined]
        if push_kwargs:  # only an overriding push_to_hub may take more keywords: checked before writing anything
            options = [p.name for p in (*UPLOAD_PARAMS, *SAVE_PARAMS)] + list(save_kwargs)
            method = f"{type(self).__qualname__}.save_pretrained"
            check_keywords(method, push_kwargs, push or {}, options, lambda: _class_keywords(type(self)))
        # The options push_to_hub will be given (those not at their default), which an override must take too.
        given = {
            p.name: getattr(upload, p.name) for p in UPLOAD_PARAMS if not same_value(getattr(upload, p.name), p.value)
        }
        given.update({k: v for k, v in save_kwargs.items() if not same_value(v, self._hub_extra_defaults.get(k))})
        refused = sorted(given.keys() - push.keys()) if push is not None and not takes_any_keyword(push) else []
        if refused:  # checked before writing anything, as an unknown keyword is
            called = getattr(self.push_to_hub, "__qualname__", "push_to_hub")  # type: ignore[attr-defined]
            raise HubMixinTypeError(
                f"{type(self).__qualname__}.save_pretrained: {', '.join(f'{n}=' for n in refused)} given with "
                f"push_to_hub=True, but {called}, which it ends with (as huggingface_hub does), does not take it: "
                "add it to that override's parameters (or **kwargs passed to super())"
            )
        own = self._hub_config_dict(self._hub_mixin_config)
        config = own if upload.config is None else self._hub_config_dict(upload.config, given=True)
        if config is not None and config != own:
            self._hub_check_given_config(config)
        # Unsaved arguments a config= given does not provide either are recorded too (one built from the model's own,
        # a head added), so that from_pretrained asks for them instead of building another model; a config given
        # provides ``config`` (a dataclass config JSON cannot hold, saved as the config given).
        other_config = config is not None and config != own
        unsaved = {
            name: kind
            for name, kind in get_unsaved(self).items()
            if config is None or (name not in config and not (other_config and name == "config"))
        }
        config_dict = {**(config or {}), UNSAVED_KEY: unsaved} if unsaved else config
        with atomic_directory(
            save_directory, replaces=replaced_by_save, replaces_in_folders=is_weights_file
        ) as staging:
            self._save_pretrained(
                staging, **_supported(type(self)._save_pretrained, save_kwargs, self._hub_extra_defaults, forward=True)
            )
            if config_dict is not None and not (staging / CONFIG_NAME).exists():
                (staging / CONFIG_NAME).write_text(dumps_config(config_dict), encoding="utf-8")
            if not (save_directory / _README).exists() and not (staging / _README).exists():
                self.generate_model_card(**(upload.model_card_kwargs or {})).save(staging / _README)
            if push_to_hub and not _own_method(self, "push_to_hub"):  # (an override decides what it uploads: the
                # base push_to_hub it reaches checks that.) Refused before the target is replaced: the local copy
                # must not hold it either.
                refuse_published_token(type(self).__qualname__, staging, upload)
                check_whole_checkpoint(staging, upload, WEIGHTS_FILE_PATTERNS)
        if not push_to_hub:
            return None
        # As huggingface_hub does: end with self.push_to_hub, so a class overriding it runs, with the keywords
        # given here (the options that differ from their defaults, and any extra ones meant for the override).
        given.update(push_kwargs or {})
        if config is not None:  # as a dict, as huggingface_hub passes it (a dataclass config too)
            given["config"] = config
        given["model_card_kwargs"] = upload.model_card_kwargs or {}
        commit: CommitInfo = self.push_to_hub(repo_id=repo_id or save_directory.absolute().name, **given)  # type: ignore[attr-defined]
        return commit

    def _hub_push(self, repo_id: str, *, upload: UploadOptions, save_kwargs: dict[str, Any]) -> CommitInfo:
        _check_token(upload.token)
        with push_folder() as tmp:
            folder = Path(tmp) / "model"
            if _own_method(self, "save_pretrained"):
                # As huggingface_hub does: a library's save_pretrained may write more files (a tokenizer, a
                # vocabulary); the save options given to push_to_hub reach it where they are not the defaults.
                given = {k: v for k, v in save_kwargs.items() if not same_value(v, self._hub_extra_defaults.get(k))}
                _check_override_takes(type(self).__qualname__, self.save_pretrained, given)  # type: ignore[attr-defined]
                config, card_kwargs = upload.config, upload.model_card_kwargs
                self.save_pretrained(folder, config=config, model_card_kwargs=card_kwargs, **given)  # type: ignore[attr-defined]
            else:
                self._hub_save(folder, repo_id=None, push_to_hub=False, upload=upload, save_kwargs=save_kwargs)
            refuse_published_token(type(self).__qualname__, folder, upload)
            return upload_folder(repo_id, folder, upload, replaced=WEIGHTS_FILE_PATTERNS)

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the model's files (weights, and anything else it needs) into ``save_directory``.

        Implemented by each framework. ``save_directory`` is a fresh staging directory: the public method moves
        its content into place only if this returns without error.
        """
        raise NotImplementedError(
            f"{type(self).__qualname__} implements no _save_pretrained: subclass a framework's mixin (hubmixin_torch, "
            "hubmixin_flax, hubmixin_keras), or implement _save_pretrained and _from_pretrained"
        )

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """The model card of this model: the class's card template filled with its metadata and ``kwargs``."""
        card = CardInfo.from_info(self._hub_mixin_info)  # a copy: rendering must not change the class's
        values = {"repo_url": card.repo_url, "paper_url": card.paper_url, "docs_url": card.docs_url, **kwargs}
        model_card: ModelCard = ModelCard.from_template(
            card_data=card.card_data(), template_str=card.template, **values
        )
        return model_card

    # LOAD

    @classmethod
    def _hub_model_kwargs(cls, model_kwargs: Mapping[str, Any] | None, init_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The ``__init__`` arguments of a ``from_pretrained`` call: ``model_kwargs`` and the keywords, which may
        not both give one argument (which would win is not obvious)."""
        if model_kwargs is not None and not isinstance(model_kwargs, Mapping):
            raise HubMixinTypeError(
                f"{cls.__qualname__}.from_pretrained: model_kwargs must be a mapping of __init__ arguments, "
                f"got {type(model_kwargs).__name__}"
            )
        both = sorted(init_kwargs.keys() & (model_kwargs or {}).keys())
        if both:
            raise HubMixinTypeError(
                f"{cls.__qualname__}.from_pretrained: {format_names(both)} given both in model_kwargs and as keywords"
            )
        return {**(model_kwargs or {}), **init_kwargs}

    @classmethod
    def _hub_check_model_class(cls) -> None:
        """Refuse, first in ``from_pretrained`` (before anything is read or fetched), a class that cannot build a
        model: a framework's mixin itself (``PyTorchModelHubMixin.from_pretrained(repo)``). Frameworks check it,
        where the framework's own ``_from_pretrained`` would build it (an override may dispatch to a model class)."""

    @classmethod
    def _hub_load(
        cls,
        pretrained_model_name_or_path: str | Path,
        *,
        download: DownloadOptions,
        load_kwargs: dict[str, Any],
        model_kwargs: dict[str, Any],
    ) -> Self:
        if _builds_from_arguments(cls):  # (an own loader may dispatch elsewhere: a library's AutoModel base)
            cls._hub_check_model_class()
        if not isinstance(pretrained_model_name_or_path, str | os.PathLike):
            raise HubMixinTypeError(
                "pretrained_model_name_or_path must be a repo id or a directory, "
                f"got {type(pretrained_model_name_or_path).__qualname__}"
            )
        given = pretrained_model_name_or_path
        if isinstance(given, str) and not given.strip():  # an unset option or variable; Path("") if cwd is meant
            raise HubMixinValueError("pretrained_model_name_or_path is empty: give a repo id or a directory")
        if _holds_nul(given):
            raise HubMixinValueError(f"pretrained_model_name_or_path {os.fspath(given)!r} holds a NUL character")
        location = expand_location(Path(given) if isinstance(given, os.PathLike) else given)
        model_id = str(location)
        check_probeable(location)
        if Path(location).is_dir() or Path(location).parent.is_dir():  # a path given as a string too
            remove_interrupted_saves(Path(location))  # also one whose first save was killed before it existed
        check_local_location(location, "from_pretrained takes a model directory or a repo id")
        _check_token(download.token, remote=not Path(location).is_dir())
        if Path(location).is_dir():
            _warn_hub_options_ignored(f"{cls.__qualname__}.from_pretrained", given, download)
        if isinstance(download.max_workers, bool) or not isinstance(download.max_workers, int):
            raise HubMixinTypeError(f"max_workers must be an int, got {type(download.max_workers).__name__}")
        if download.max_workers < 1:
            raise HubMixinValueError(f"max_workers must be at least 1, got {download.max_workers}")
        model_kwargs = dict(model_kwargs)
        drop_deprecated_keywords(f"{cls.__qualname__}.from_pretrained", model_kwargs, cls._hub_init_takes)
        call = cls._hub_loader_arguments(download, load_kwargs)
        parameters = inspect.signature(cls._from_pretrained).parameters
        cls._hub_mixin_inspect_init()
        hub_style = _named(parameters, "model_kwargs")  # (model_kwargs: dict[str, Any]) else **model_kwargs
        loader = ("model_id", "model_kwargs", "config") if hub_style else ("model_id",)
        own = {
            n: p
            for n, p in parameters.items()
            if n not in (*loader, *call) and not (p.kind is p.VAR_KEYWORD and cls._hub_passes_on(hub_style, n))
        }
        options = [*(p.name for p in DOWNLOAD_PARAMS), *load_kwargs, "model_kwargs"]
        init = cls._hub_keyword_parameters()
        accepted = {**own, **init}
        cls._hub_warn_options_named_like_arguments(download, load_kwargs, model_kwargs)
        try:
            method = f"{cls.__qualname__}.from_pretrained"
            check_keywords(method, model_kwargs, accepted or init, options, lambda: _class_keywords(cls))
        except HubMixinTypeError as error:
            if "model_kwargs" not in init:
                raise
            hint = "pass model_kwargs={'model_kwargs': ...}"
            message = f"{error} ({cls.__qualname__}.__init__ takes an argument named model_kwargs: {hint})"
            raise HubMixinTypeError(message) from None
        if hub_style:  # the override's own options (``device: str = "cpu"``), not the model's arguments
            call.update({name: model_kwargs.pop(name) for name in own.keys() - init.keys() if name in model_kwargs})
        cls._hub_check_given_arguments(model_kwargs)
        provided = cls._hub_runtime_values(load_kwargs)
        cls._hub_give_runtime_args(provided, model_kwargs)
        if not Path(location).is_dir():
            with one_commit():  # the config and the weights of one push, even if another lands meanwhile
                return cls._hub_build(model_id, download, call, model_kwargs, provided)
        # A save to the directory while it is read (from another thread or process) would mix the two saves'
        # files: the load is done again until the directory held still throughout.
        changed = WeightsError(
            f"{location}: changed while it was read, {_LOAD_ATTEMPTS} times in a row: another thread or process keeps "
            "saving to it; load it once that save is done"
        )
        reports = HeldReports()  # (what an attempt given up found is not said)
        for _ in range(_LOAD_ATTEMPTS):
            before = save_stamp(Path(location), replaced_by_save)
            try:
                with reading(location), reports:  # a save moving files in one at a time waits, and is waited for
                    instance = cls._hub_build(model_id, download, dict(call), dict(model_kwargs), provided)
            except Exception as error:  # caused by a save landing meanwhile, or by the files themselves
                if save_stamp(Path(location), replaced_by_save) != before:
                    changed.__cause__ = error
                    continue
                reports.release()
                raise
            if save_stamp(Path(location), replaced_by_save) == before:
                reports.release()
                return instance
        raise changed

    @classmethod
    def _hub_check_given_arguments(cls, model_kwargs: Mapping[str, Any]) -> None:
        """Warn, as when the model is built, about each ``__init__`` argument given to ``from_pretrained`` (not read
        from config.json: the load checks those) of a JSON type its annotation refuses (``"5"`` for an ``int``): the
        model built with it would save a config.json ``from_pretrained`` refuses."""
        parameters = cls._hub_mixin_init_parameters
        coders: Coders | None = None
        for name, value in model_kwargs.items():
            parameter = parameters.get(name)
            if parameter is None or parameter.kind in _VARIADIC or value is parameter.default:
                continue
            if name in cls._hub_mixin_runtime_args or isinstance(value, cls._hub_mixin_runtime_types):
                continue
            coders = coders or cls._all_coders()
            merged = name == "config" and isinstance(value, dict)  # (its keys join config.json's)
            encoded = encode_config(value, coders) if merged else encode_value(value, coders)
            if encoded is not UNENCODABLE:
                cls._hub_mixin_warn_unloadable(name, encoded, coders, given=" given to from_pretrained")

    @classmethod
    def _hub_passes_on(cls, hub_style: bool, var_keyword: str) -> bool:
        """Whether the keywords ``_from_pretrained``'s ``**kwargs`` (named ``var_keyword``) takes are all
        ``__init__``'s, so that ``from_pretrained`` checks them against it: with hubmixin's signature the model's
        arguments come in ``model_kwargs``, and its ``**kwargs`` take none; with huggingface_hub's, they are the
        model's where it only passes them on (an override reading one, ``model_kwargs.pop("device")``, takes it as
        an option of its own, as huggingface_hub lets it)."""
        loader = cls._from_pretrained
        forwarded = forwards_whole(loader, var_keyword) and _base_loader_is_frameworks(cls)
        return hub_style or passes_on_whole(loader, var_keyword) or forwarded

    @classmethod
    def _hub_build(
        cls,
        model_id: str,
        download: DownloadOptions,
        call: dict[str, Any],
        model_kwargs: dict[str, Any],
        provided: Mapping[str, Any],
    ) -> Self:
        """Read the config of ``model_id``, then build the model and load its weights with ``_from_pretrained``."""
        parameters = inspect.signature(cls._from_pretrained).parameters
        read = cls._hub_read_config_for(model_id, download)
        raw, config_file = read if read is not None else (None, None)
        unsaved = raw.pop(UNSAVED_KEY, None) if raw is not None else None
        deferred: dict[str, str] = {}  # (a class's own loader may rebuild them itself, as setfit's does)
        if isinstance(unsaved, dict):
            own = _loader_is_own(cls)
            deferred = cls._hub_give_unsaved(unsaved, provided, model_kwargs, supplied=_loader_supplies(cls), defer=own)
        held = "config" in deferred  # not saved: the rest of config.json is not it (the loader must give it)
        config: Any = None if raw is None else cls._hub_config_beside(raw, model_kwargs, str(config_file), held=held)
        if _named(parameters, "config") or cls._hub_mixin_inject_config:  # huggingface_hub's: given if asked for
            if _named(parameters, "model_kwargs"):
                call["config"] = None if held else config
            else:
                model_kwargs.setdefault("config", None if held else config)
        if _builds_from_arguments(cls):  # what config.json and the caller give must make a call to __init__
            cls._hub_check_required(model_kwargs, raw, str(config_file) if config_file is not None else model_id)
        secrets = [v for p in DOWNLOAD_PARAMS if p.secret and isinstance(v := getattr(download, p.name), str)]
        loading = LOADING.set(True)
        try:
            with loader_values(secrets=secrets), recording_builds() as builds:  # (secrets: never captured)
                try:
                    instance = cls._hub_call_from_pretrained(model_id, call, model_kwargs, parameters)
                except Exception as error:
                    source = str(config_file) if config_file is not None else model_id
                    if raw is None and isinstance(error, WeightsShapeError):
                        cls._hub_note_no_config(error, model_id, model_kwargs)
                    cls._hub_check_failed_build(deferred, builds, error, model_kwargs, raw, source)
                    raise
        finally:
            LOADING.reset(loading)
        received = get_received(instance) if isinstance(instance, cls) else None
        if deferred and received is not None:
            cls._hub_check_received(deferred, received)
        if config is not None and get_config(instance) in (None, {}):  # (what it was built without stays recorded)
            set_config(instance, config, get_unsaved(instance))
        return instance

    @classmethod
    def _hub_note_no_config(cls, error: WeightsShapeError, model_id: str, model_kwargs: Mapping[str, Any]) -> None:
        """Add to ``error`` (the weights of a model built without a config.json) that ``__init__``'s defaults
        built it, and how to give its arguments: the log line saying config.json is missing is easily unseen."""
        runtime = {*cls._hub_mixin_runtime_args, *cls._hub_runtime_annotated()}  # (rngs, a mesh: not the config)
        names = [
            name
            for name, p in cls._hub_mixin_init_parameters.items()
            if p.kind not in _VARIADIC and name not in runtime and name not in model_kwargs
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
        optional = {n for n, k in unsaved.items() if k in runtime and n in init and _has_default(init[n])}
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
    def _hub_coded_type_names(cls) -> set[str]:
        """The names config.json records for the types a coder (the class's or a built-in one) now saves: an older
        save left them out."""
        return {t.__qualname__ for t in cls._all_coders() if isinstance(t, type)}

    @classmethod
    def _hub_runtime_annotated(cls) -> dict[str, str]:
        """The named ``__init__`` arguments annotated with the run's own types only
        (:attr:`_hub_mixin_runtime_annotations`; ``mesh: Mesh | None``), each with the name of its type: given what
        the load options provide for that type, and, where defaulted, never saved, whatever their value (the
        ``runtime_args``, supplied or declared, are left to their own rules)."""
        if not cls._hub_mixin_runtime_annotations:
            return {}
        cls._hub_mixin_inspect_init()
        parameters = cls._hub_mixin_init_parameters
        found = {}
        for name, annotation in cls._hub_mixin_hints().items():
            kind = _runtime_type(annotation, cls._hub_mixin_runtime_annotations)
            named = name in parameters and parameters[name].kind not in _VARIADIC  # (not *args, **kwargs)
            if kind is not None and named and name not in cls._hub_mixin_runtime_args:
                found[name] = kind.__qualname__
        return found

    @classmethod
    def _hub_runtime_type_names(cls) -> set[str]:
        """The names config.json records for the run's own types (:attr:`_hub_mixin_runtime_types`)."""
        return {t.__qualname__ for t in cls._hub_mixin_runtime_types}

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
    def _hub_public_coder_type(cls, name: str, kind: str) -> str | None:
        """The class annotating argument ``name`` (or a member of its union) that has a subclass named ``kind`` (the
        type name config.json records), as code names it: a coder for it takes the value (``jax.Array`` where
        ``kind`` is the private ``ArrayImpl``); ``None`` where there is none."""
        annotation = cls._hub_mixin_hints().get(name)
        union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        for member in typing.get_args(annotation) if union else (annotation,):
            plain = isinstance(member, type) and member.__module__ != "builtins" and member.__qualname__ != kind
            if plain and any(sub.__qualname__ == kind for sub in all_subclasses(member)):
                return spelled_type(member)
        return None

    @classmethod
    def _hub_meant_instances(cls, unsaved: Mapping[str, str]) -> dict[str, str]:
        """Of the arguments config.json records as not saved that a load lacks, those given a class where their
        annotation takes an instance of one (``Net(config=Cfg)``), each with that class's name (see
        :func:`meant_instance`)."""
        hints = cls._hub_mixin_hints()
        found = {name: meant_instance(hints.get(name), kind) for name, kind in unsaved.items()}
        return {name: meant for name, meant in found.items() if meant is not None}

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
    def _hub_runtime_values(cls, load_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Objects of :attr:`_hub_mixin_runtime_types` that the load options give, by type name: such an argument
        left out of config.json takes them (Flax: the ``Mesh`` given as ``sharding=``). None by default."""
        return {}

    @classmethod
    def _hub_warn_options_named_like_arguments(
        cls,
        download: DownloadOptions,
        load_kwargs: Mapping[str, Any],
        model_kwargs: Mapping[str, Any],
    ) -> None:
        """A :class:`LoaderOptionWarning` for each option huggingface_hub's loader lacks (``dtype``, ``endpoint``,
        ...) given where ``__init__`` takes an argument of that name (and ``model_kwargs`` does not give it): the
        loader takes it, where huggingface_hub's gives it to ``__init__``."""
        given = {p.name for p in DOWNLOAD_PARAMS if not same_value(getattr(download, p.name), p.value)}
        given |= {k for k, v in load_kwargs.items() if not same_value(v, cls._hub_extra_defaults.get(k))}
        parameters = cls._hub_mixin_init_parameters.items()
        named = {n for n, p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD}
        for name in sorted((given - _HF_LOADER_OPTIONS - cls._hub_mixin_runtime_args) & named - model_kwargs.keys()):
            warn_user(
                f"{cls.__qualname__}.from_pretrained: {name}= is the loader's option, not the {name!r} argument of "
                f"{cls.__qualname__}.__init__ (huggingface_hub's loader, which has no such option, gives it to "
                f"__init__); to set the argument, pass model_kwargs={{{name!r}: ...}}",
                LoaderOptionWarning,
            )

    @classmethod
    def _hub_call_from_pretrained(
        cls, model_id: str, call: dict[str, Any], model_kwargs: dict[str, Any], parameters: Mapping[str, Any]
    ) -> Self:
        """``_from_pretrained`` called with the loader's options and the model's arguments, the way it takes them."""
        if _named(parameters, "model_kwargs"):
            # (no model argument passed as a keyword: this may run inside another model's load)
            forwarded = _unnamed(parameters, call)
            with model_arguments(()), loader_values(forwarded=forwarded):
                instance = cls._from_pretrained(model_id=model_id, **call, model_kwargs=model_kwargs)
            return cls._hub_forget_forwarded(instance, forwarded)
        defaults = {**{p.name: p.value for p in DOWNLOAD_PARAMS}, **cls._hub_extra_defaults}
        for name in model_kwargs.keys() & call.keys() & defaults.keys():
            # An option left at its default yields its keyword to the model's argument, where the override
            # takes it through **kwargs (and so forwards it); one it names would be taken as the option.
            if not _named(parameters, name) and same_value(call[name], defaults[name]):
                del call[name]
        clash = sorted(model_kwargs.keys() & {*call, "model_id"})
        if clash:
            raise HubMixinTypeError(
                f"{cls.__qualname__}._from_pretrained takes the loader options as keywords, so the model "
                f"arguments {clash} cannot reach __init__: declare `download: DownloadOptions` and "
                "`model_kwargs: dict[str, Any]` parameters in its signature instead"
            )
        # The base knows these keywords are the model's; the options that reach **kwargs are not captured.
        forwarded = _unnamed(parameters, call)
        with model_arguments(model_kwargs), loader_values(forwarded=forwarded):
            instance = cls._from_pretrained(model_id=model_id, **call, **model_kwargs)
        return cls._hub_forget_forwarded(instance, forwarded)

    @classmethod
    def _hub_forget_forwarded(cls, instance: Self, forwarded: Mapping[str, Any]) -> Self:
        """``instance`` without the loader's options its ``__init__`` got through ``**kwargs`` in its config: a
        model built on another thread (a loader's pool) was captured where the load's context is unknown."""
        config = get_config(instance)
        if isinstance(config, dict):
            for name, value in forwarded.items():
                if name in config and config[name] is value and not cls._hub_init_takes(name):
                    del config[name]
        return instance

    @classmethod
    def _hub_loader_arguments(cls, download: DownloadOptions, load_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The keywords ``_from_pretrained`` is called with, besides ``model_id`` and the model's arguments.

        The download options go as one ``download`` argument if it declares one, else as huggingface_hub's
        keywords (``endpoint`` and ``max_workers`` if named or, through its ``**kwargs``, if not at their default and
        a loader takes them, see :func:`_loader_takes`; ``proxies`` and ``resume_download``, as ``None``, only if
        named, as older huggingface_hub releases passed them); then the framework's load extras it names, or,
        through its ``**kwargs``, those not at their default.
        """
        parameters = inspect.signature(cls._from_pretrained).parameters
        options = _options_parameter(parameters)
        if options is not None:
            call: dict[str, Any] = {options: download}
        else:
            shared = {p.name: getattr(download, p.name) for p in DOWNLOAD_PARAMS}
            call = {k: shared.pop(k) for k in _ALWAYS_PASSED}
            call.update({k: v for k, v in LEGACY_DOWNLOAD_KEYWORDS.items() if _named(parameters, k)})
            defaults = {p.name: p.value for p in DOWNLOAD_PARAMS}
            # huggingface_hub's contract has no endpoint nor max_workers: where they reach no loader applying them,
            # max_workers (a speed setting) is left out, not handed to __init__; endpoint is refused (below) unless
            # it is the default Hub. Where a loader's source cannot be read, endpoint goes on as it always did.
            takes = {k: _loader_takes(cls, k) for k in shared}
            shared = {k: v for k, v in shared.items() if takes[k] or (takes[k] is None and k == "endpoint")}
            if takes.get("endpoint", True) is False:
                cls._hub_refuse_unrouted_endpoint(parameters, download)
            call.update(_supported(cls._from_pretrained, shared, defaults, forward=True))
        cls._hub_refuse_stranded_extras(parameters, load_kwargs)
        call.update(_supported(cls._from_pretrained, load_kwargs, cls._hub_extra_defaults, forward=True))
        return call

    @classmethod
    def _hub_refuse_unrouted_endpoint(
        cls, parameters: Mapping[str, inspect.Parameter], download: DownloadOptions
    ) -> None:
        """Refuse an ``endpoint`` other than the default Hub (``HF_ENDPOINT``, or ``https://huggingface.co``) that
        ``_from_pretrained``, written to huggingface_hub's contract (which has none), does not apply: ``config.json``
        would come from that Hub, and the files it downloads itself from the default one, with the token meant for
        the other.

        Raises:
            HubMixinTypeError: before anything is read, naming the override and what to change.
        """
        if download.endpoint is None or download.endpoint.rstrip("/") == hf_constants.ENDPOINT.rstrip("/"):
            return
        owner = cls._from_pretrained.__qualname__
        var_keyword = next((n for n, p in parameters.items() if p.kind is p.VAR_KEYWORD), None)
        fixes = ["name `endpoint` in its parameters and pass it to its downloads", "take `download: DownloadOptions`"]
        if var_keyword is not None and _base_loader_is_frameworks(cls):
            fixes.append(f"pass **{var_keyword} on to super()._from_pretrained")
        argument = cls._hub_init_takes("endpoint")  # (then meant, maybe, as huggingface_hub gives it: to __init__)
        hint = (
            f"; to set {cls.__qualname__}.__init__'s endpoint, pass model_kwargs={{'endpoint': ...}}"
            if argument
            else ""
        )
        raise HubMixinTypeError(
            f"{cls.__qualname__}.from_pretrained: endpoint={download.endpoint!r} given, but {owner} does not accept "
            "it: it takes huggingface_hub's download keywords, which have no endpoint, so config.json would come "
            "from that Hub and the files it downloads itself from the default one (sent the token meant for the "
            f"other). In that override, {', '.join(fixes[:-1])} or {fixes[-1]}{hint}"
        )

    @classmethod
    def _hub_refuse_stranded_extras(
        cls, parameters: Mapping[str, inspect.Parameter], load_kwargs: dict[str, Any]
    ) -> None:
        """Refuse the load extras (``dtype``, ``key_mapping``) asked for that an override written for
        huggingface_hub would hand to an ``__init__`` that provably drops them: the override does not name them,
        and passes its ``**kwargs`` whole to ``cls(...)``, so the framework's base never applies them, and
        ``__init__`` neither names them nor reads them from its ``**kwargs`` (``kwargs.get("dtype")`` does, as
        huggingface_hub lets it). Where what ``__init__``'s ``**kwargs`` do is not known, they go there.

        Raises:
            HubMixinTypeError: before any download, naming the override and the option.
        """
        var_keyword = next((n for n, p in parameters.items() if p.kind is p.VAR_KEYWORD), None)
        if var_keyword is None or _named(parameters, "model_kwargs") or not _loader_is_own(cls):
            return
        if not passes_on_whole(cls._from_pretrained, var_keyword):
            return
        taken = cls._hub_keyword_parameters()  # (with the framework base's keywords its **kwargs takes)
        read = cls._hub_init_reads() if takes_any_keyword(taken) else frozenset()
        if read is None:
            return
        init = {n for n, p in taken.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)} | read
        defaults = cls._hub_extra_defaults
        stranded = [
            f"{k}={v!r}"
            for k, v in load_kwargs.items()
            if not _named(parameters, k)
            and k not in init
            and not cls._hub_init_takes(k)
            and not same_value(v, defaults.get(k))
        ]
        if stranded:
            owner = cls._from_pretrained.__qualname__
            raise HubMixinTypeError(
                f"{cls.__qualname__}.from_pretrained: {', '.join(stranded)} given, but {owner} does not accept it: "
                f"it builds cls(**{var_keyword}) itself, and {cls.__qualname__}.__init__ neither names it nor reads "
                f"it from its **kwargs, so it would be dropped. Name it in that override's parameters and apply it, "
                f"or pass **{var_keyword} on to super()._from_pretrained"
            )

    @classmethod
    def _hub_init_reads(cls) -> frozenset[str] | None:
        """The keywords ``__init__`` reads from its ``**kwargs`` where it does nothing else with them (any other is
        dropped); ``None`` where not known (passed on, a decorator taking keywords of its own, no source)."""
        if wrapper_changes_signature(cls.__init__):
            return None
        return keywords_read(_unwrapped(cls.__init__))

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
        if not isinstance(data, dict):
            raise ConfigError(f"{config_file}: expected a JSON object, found {type(data).__name__}")
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
        raw = _json_copy(raw)  # the model may change what it is given: not the dict a caller may load from again
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
        if config_owner not in (None, cls) and not _dataclass_members(annotation):
            config_owner = None  # a base's dict config: config.json cannot tell whether one was given to it
        for key, (owner, parameter) in forwarded.items():  # given to a base's __init__ by **kwargs
            if key in raw and key not in named and key not in model_kwargs:
                named[key] = parameter
                value = raw[key]
                if issubclass(owner, ModelHubMixinBase) and (value is not None or parameter.default is not None):
                    value = owner._hub_decode_argument(key, value, owner._hub_mixin_hints(), coders, source)
                values[key] = model_kwargs[key] = value
        if config_owner is not None and config_parameter is not None:  # (a base's takes the keys: its fields)
            named.setdefault("config", config_parameter)
        keywords = parameters if cls._hub_mixin_config_to_kwargs else named  # what reaches __init__ by name
        unknown = [] if dataclasses.is_dataclass(cls) else unknown_config_keys(raw, keywords)
        to_kwargs = cls._hub_mixin_config_to_kwargs and takes_any_keyword(parameters)
        alone = None if config_owner is not cls or to_kwargs else named.keys()  # (Keras gives **kwargs no keys)
        left_at_none = config_parameter is not None and _left_at_none(
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
            cls._hub_report_unknown_keys(unknown, fields, source)
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
                    return _decoded(annotation, raw, coders, source, "config")

                if config_owner is cls and (decode_arg := cls._hub_decode_hook("config")) is not None:
                    config = _hook_decoded(decode_arg, annotation, raw, source, "config", rules)  # (huggingface_hub's)
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
        if (encoded := _saved_dataclass(config, cls._all_coders())) is not UNENCODABLE:  # (as the caller's config)
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
            and _dataclass_members(config_annotation)
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
    def _hub_report_unknown_keys(cls, unknown: list[str], fields: list[tuple[str, type]], source: str) -> None:
        """Keys of config.json the class takes nowhere (``unknown``: not ``__init__``'s; ``fields``: not the fields
        of the dataclasses their values are decoded into) usually mean another class saved it: a
        :class:`ConfigError` under ``strict_config``, else a warning naming them."""
        parts = [f"{cls.__qualname__}.__init__ takes no {unknown} found in {source}"] if unknown else []
        for owner in dict.fromkeys(owner for _, owner in fields):
            paths = [path for path, of in fields if of is owner]
            top = [path for path in paths if "." not in path and "[" not in path]  # the config's own keys
            if top:
                name = f"{cls.__qualname__}.__init__"
                parts.append(f"{name} takes no {top} found in {source} (nor are they fields of {owner.__qualname__})")
            if len(top) < len(paths):
                nested = [path for path in paths if path not in top]
                parts.append(f"{cls.__qualname__}: {owner.__qualname__} has no field for {nested} found in {source}")
        if not parts:
            return
        message = "; ".join(parts) + " (saved by another class?)"
        if cls._hub_mixin_strict_config:
            raise ConfigError(message)
        logger.warning("%s; they are ignored", message)

    @classmethod
    def _hub_forwarded_parameters(cls) -> dict[str, tuple[type, inspect.Parameter]]:
        """The named ``__init__`` parameters of the bases that ``__init__``'s ``**kwargs`` reaches (``def
        __init__(self, dropout=0.0, **kwargs): super().__init__(**kwargs)``), each with the base naming it: the
        capture saves what was given through ``**kwargs``, so a load gives it back. Read from the source of each
        ``__init__`` on the way: one that does not pass its ``**kwargs`` on (or whose source cannot be read) ends
        the way, and a parameter one gives itself (``super().__init__(classes=num_labels, **kwargs)``) is not
        forwarded. The frameworks' own classes end it too."""
        cls._hub_mixin_inspect_init()
        forwarded: dict[str, tuple[type, inspect.Parameter]] = {}
        passes_on = takes_any_keyword(cls._hub_mixin_init_parameters)  # (the __init__ before the base's)
        call = super_call(cls.__init__, _next_init_class(cls, cls.__init__))
        given = call.keywords
        for base, init, parameters in _base_inits(cls):
            if not passes_on or not call.kwargs:
                break
            named = [
                name
                for name, parameter in parameters.items()
                if parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            ]
            taken = given | set(named[: call.positional])
            for name in named:
                if name not in taken:
                    forwarded.setdefault(name, (base, parameters[name]))
            passes_on, call = takes_any_keyword(parameters), super_call(init, _next_init_class(cls, init))
            given = given | call.keywords
        return forwarded

    @classmethod
    def _hub_kwargs_end(cls) -> bool:
        """Whether ``__init__``'s ``**kwargs``, passed on from base to base (read from their source, as
        :meth:`_hub_forwarded_parameters` reads it), ends at a base's ``__init__`` taking no ``**kwargs``: then a
        keyword that no ``__init__`` on the way names is an error (a typo), which ``from_pretrained`` can say
        before any download. ``False`` where the way is not known to the end (a framework's own class, a source
        that cannot be read, ``**kwargs`` kept or read on the way, a decorator taking keywords of its own)."""
        call = super_call(cls.__init__, _next_init_class(cls, cls.__init__))
        passes_on = kwargs_only_passed_on(_unwrapped(cls.__init__)) and not wrapper_changes_signature(cls.__init__)
        for _, init, parameters in _base_inits(cls):
            if _unwrapped(init) is _unwrapped(cls.__init__):  # (inherited: the class has no __init__ of its own)
                continue
            if not (call.known and call.kwargs and passes_on) or wrapper_changes_signature(init):
                return False
            if not takes_any_keyword(parameters):
                return True
            call = super_call(init, _next_init_class(cls, init))
            passes_on = kwargs_only_passed_on(_unwrapped(init))
        return False

    @classmethod
    def _hub_decode_argument(cls, key: str, value: Any, hints: Mapping[str, Any], coders: Coders, source: str) -> Any:
        """The ``__init__`` argument ``key`` from its ``config.json`` value: by its annotation, checked first; else
        (no annotation, or a loose one) as its default's type (by a declared coder, or a tuple or enum). An annotated
        one by the class's override of ``_decode_arg``, where it has one (huggingface_hub's hook), unchecked; by these
        rules where it fails (see :func:`_hook_decoded`)."""
        parameter = cls._hub_mixin_init_parameters.get(key)
        decode_arg = cls._hub_decode_hook(key)
        if decode_arg is not None and parameter is not None:
            annotation = hints.get(key, parameter.annotation)

            def rules() -> Any:
                return cls._hub_value_by_rules(key, value, hints, coders, source)

            return _hook_decoded(decode_arg, annotation, value, source, key, rules)
        return cls._hub_decoded_by_rules(key, value, hints, coders, source)

    @classmethod
    def _hub_value_by_rules(
        cls,
        key: str,
        value: Any,
        hints: Mapping[str, Any],
        coders: Coders,
        source: str,
        decode: Callable[[str, Any, Mapping[str, Any], Coders, str], Any] | None = None,
    ) -> Any:
        """The value hubmixin's loader gives ``__init__`` argument ``key`` for its ``config.json`` value: a ``None``
        kept for ``x: T = None``, the class's own default for its JSON of another type than the annotation (``b: bool
        = 0``), else ``decode``'s (:meth:`_hub_decode_argument`, a framework's override of it, without a hook: its
        own decoding, as Flax's dtypes) or :meth:`_hub_decoded_by_rules`'s."""
        default = cls._hub_mixin_init_parameters[key].default
        if value is None and default is None:  # ``x: int = None``: kept as it is
            return None
        if key in hints and json_type_mismatch(hints[key], value, coders) and _is_json_of(value, default, coders):
            return default  # the class's own default, of another type than its annotation (``b: bool = 0``)
        try:
            return (decode or cls._hub_decoded_by_rules)(key, value, hints, coders, source)
        except ConfigError:
            if _is_json_of(value, default, coders):  # a default the annotation cannot decode (``dtype: torch.dtype
                return default  # = "auto"``), saved as the class's own: given back so
            raise

    @classmethod
    def _hub_decoded_by_rules(cls, key: str, value: Any, hints: Mapping[str, Any], coders: Coders, source: str) -> Any:
        """:meth:`_hub_decode_argument` by hubmixin's rules (the coders, then the built-in ones)."""
        decoded = value
        parameter = cls._hub_mixin_init_parameters.get(key)
        if key in hints:
            bools = parameter is not None and isinstance(parameter.default, bool)
            _check_config_type(hints[key], value, coders, source, key, bool_number=bools)
            decoded = _decoded(hints[key], value, coders, source, key)
        declared = cls._hub_mixin_coders  # the class's and its framework's, not the built-in path coder
        if decoded is value and loose_annotation(hints.get(key, Any), declared):
            decoded = decoded_like_default(cls._hub_mixin_init_parameters[key].default, value, declared)
        elif (
            parameter is not None
            and type(parameter.default) is tuple
            and type(decoded) is list
            and read_only_sequence(hints.get(key))
        ):
            decoded = tuple(decoded)  # ``kernel_size: Sequence[int] = (3, 3)``: as a dataclass field's
        return decoded

    @classmethod
    def _from_pretrained(cls, *args: Any, **kwargs: Any) -> Self:
        """Build the model and load its weights from ``model_id`` (a local directory or a repo id).

        Implemented by each framework, with either signature (the loader finds out which from the names):

        - ``_from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any],
          **load_extras)``: the download options as one argument and the ``__init__`` arguments as one dict,
          so a model may have ``__init__`` parameters named like any loader option (``revision``, ``dtype``);
        - huggingface_hub's ``_from_pretrained(cls, *, model_id, revision, cache_dir, force_download,
          local_files_only, token, **model_kwargs)`` (plus ``endpoint`` and ``max_workers`` if it names them,
          and ``proxies`` and ``resume_download``, given as ``None``, as older huggingface_hub releases did).

        Either may name ``config`` to receive the loaded configuration, and the framework's load extras; the
        second receives, through its ``**model_kwargs``, the load extras and download options it does not name
        whose value is not their default (``endpoint`` and ``max_workers`` only where its source reads them, or it
        passes them whole to a ``super()._from_pretrained`` taking them: else ``max_workers`` is left out, and an
        ``endpoint`` other than the default Hub refused, its own downloads going to the default Hub). Each
        framework's base ``_from_pretrained`` takes both signatures, so an override written for huggingface_hub may
        forward everything to ``super()._from_pretrained``.
        """
        raise NotImplementedError(
            f"{cls.__qualname__} implements no _from_pretrained: subclass a framework's mixin (hubmixin_torch, "
            "hubmixin_flax, hubmixin_keras), or implement _save_pretrained and _from_pretrained"
        )


def _saved_dataclass(config: Any, coders: Coders) -> Any:
    """The JSON of ``config`` where it is a dataclass instance config.json holds as the whole config (huggingface_hub's
    rule), else ``UNENCODABLE``: one with a field JSON cannot hold is an argument like any other (warned about,
    or refused, and not saved)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return UNENCODABLE
    return encode_value(config, coders)


def _json_copy(value: Any) -> Any:
    """``value`` (JSON data) with each dict and list in it copied."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


def _is_dataclass_instance(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _init_only_fields(config_type: type) -> list[str]:
    """The ``InitVar`` pseudo-fields of a dataclass (string annotations too): ``__init__`` takes them, nothing
    keeps them."""
    marker = getattr(dataclasses, "_FIELD_INITVAR", None)
    fields = getattr(config_type, "__dataclass_fields__", {})
    return [name for name, field in fields.items() if marker is not None and field._field_type is marker]


def _is_coder(item: tuple[Any, Any]) -> bool:
    """Whether a ``coders=`` entry is a type and an ``(encode, decode)`` pair of callables."""
    key, pair = item
    return (
        isinstance(key, type)
        and isinstance(pair, tuple | list)
        and len(pair) == 2
        and all(callable(function) for function in pair)
    )


@functools.cache
def _takes_arguments(new: Callable[..., Any]) -> bool:
    """Whether a base's ``__new__`` takes more than the class (so the constructor's arguments are passed on)."""
    try:
        parameters = list(inspect.signature(new).parameters.values())
    except (TypeError, ValueError):
        return True
    return len(parameters) > 1 or any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)


def _config_annotation(owner: type, coders: Coders) -> Any:
    """The annotation of the ``config`` parameter of ``owner``'s ``__init__``."""
    return _init_hints(owner, coders).get("config", Any)


def _init_hints(owner: type, coders: Coders | None = None) -> dict[str, Any]:
    """The resolved annotations of ``owner``'s ``__init__``: a mixin class's own (cached), else read now."""
    return owner._hub_mixin_hints() if issubclass(owner, ModelHubMixinBase) else init_type_hints(owner, coders or ())


def _union_members(annotation: Any) -> tuple[Any, ...]:
    """The members of a union annotation; ``()`` for any other."""
    return typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()


def _dataclass_members(annotation: Any) -> list[type]:
    """The dataclasses ``annotation`` is, or is a union of."""
    return [m for m in (*_union_members(annotation), annotation) if dataclasses.is_dataclass(m)]  # type: ignore[misc]


def _left_at_none(
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
    classes = _dataclass_members(annotation)
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


def _base_inits(cls: type) -> Iterator[tuple[type, Callable[..., Any], dict[str, inspect.Parameter]]]:
    """The bases of ``cls`` defining an ``__init__``, in MRO order, each with it and its parameters (``self``
    left out), up to the first of a framework's own classes or one whose signature cannot be read."""
    for base in cls.__mro__[1:]:
        if _frameworks_own(base):
            return
        init = vars(base).get("__init__")
        if init is None:
            continue
        try:
            parameters = init_parameters(init)
        except (TypeError, ValueError):
            return
        yield base, init, parameters


def _holds_nul(path: str | os.PathLike[Any]) -> bool:
    """Whether ``path`` holds a NUL character, which no operating system takes in a path."""
    text = os.fspath(path)
    return ("\0" if isinstance(text, str) else b"\0") in text


def _slot_of(owner: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ConfigSlot:
    """The configuration slot of an instance of ``owner`` built with ``args`` and ``kwargs``."""
    return cast(type[ModelHubMixinBase], owner)._hub_mixin_slot(args, kwargs)


def _passes_all_on(cls: type, init: Callable[..., Any], parameters: dict[str, inspect.Parameter]) -> SuperCall | None:
    """What ``init`` (of a base of ``cls``) passes to the next base's ``__init__`` where it takes nothing by
    position but ``*args`` and passes them on whole with its ``**kwargs``, first (``super().__init__(*args,
    **kwargs)``); ``None`` otherwise."""
    kinds = {p.kind for p in parameters.values()}
    if inspect.Parameter.VAR_POSITIONAL not in kinds or not takes_any_keyword(parameters):
        return None
    if kinds & {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD}:
        return None
    call = super_call(init, _next_init_class(cls, init))
    return call if call.args and call.kwargs and call.positional == 0 else None


def _next_init_class(cls: type, init: Callable[..., Any]) -> type | None:
    """The class after the one defining ``init`` in ``cls``'s MRO that has an ``__init__`` of its own: the one
    ``init`` initialises next (``super().__init__``, or that class named). ``None`` where there is none."""
    function = inspect.unwrap(init)
    # (the wrappers of subclasses unwrap to it too: the last of these classes is the one defining it)
    owners = [i for i, k in enumerate(cls.__mro__) if _unwrapped(vars(k).get("__init__")) is function]
    if not owners:
        return None
    return next((k for k in cls.__mro__[owners[-1] + 1 :] if "__init__" in vars(k)), None)


def _unwrapped(function: Any) -> Any:
    return inspect.unwrap(function) if callable(function) else function


def _frameworks_own(cls: type) -> bool:
    """Whether ``cls`` is a framework's (keras, torch, flax, hubmixin's own): its ``__init__`` takes what the
    framework packages give, not configuration."""
    root = cls.__module__.partition(".")[0]
    return root in {"builtins", "keras", "torch", "flax", "tensorflow", "jax"} or root.startswith("hubmixin_")


def _is_json_of(value: Any, default: Any, coders: Coders) -> bool:
    """Whether the JSON ``value`` is ``default`` encoded (``0`` is not ``False``: JSON texts are compared)."""
    return default is not inspect.Parameter.empty and is_json_of(value, default, coders)


def _defining(cls: type, name: str) -> type | None:
    """The class of ``cls``'s MRO whose own namespace defines ``name``: the one whose ``name`` ``cls`` has."""
    return next((klass for klass in cls.__mro__ if name in vars(klass)), None)


def _overridden(cls: type, name: str) -> bool:
    """Whether a class of the user's defines ``name``, not hubmixin's generated facade."""
    owner = _defining(cls, name)
    return owner is not None and not owner.__module__.endswith("._generated._methods")


def _warn_hub_options_ignored(method: str, given: str | os.PathLike[str], download: DownloadOptions) -> None:
    """Warn that the options only a Hub repository has (``revision``, ``force_download``) do nothing for the
    local directory ``given`` (which wins over a repository of the same name)."""
    ignored = [f"revision={download.revision!r}"] if download.revision is not None else []
    ignored += ["force_download=True"] if download.force_download else []
    if ignored:
        warn_user(
            f"{method}: {os.fspath(given)!r} is a local directory, which is loaded as it is: {', '.join(ignored)} "
            "only applies to a Hub repository; to load the Hub's, run from another directory or move that folder",
            UserWarning,
        )


def _own_method(instance: object, name: str) -> bool:
    """Whether ``instance``'s method ``name`` is the user's: a class's override, or set on the instance itself
    (a wrapper, a ``Mock``), which huggingface_hub's mixin calls as well."""
    return name in getattr(instance, "__dict__", {}) or _overridden(type(instance), name)


def _signature_parameters(function: Any) -> Mapping[str, inspect.Parameter]:
    """The parameters of the callable ``function``; any keyword where it has no signature to read."""
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {"kwargs": inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)}


def _check_override_takes(owner: str, save_pretrained: Any, options: dict[str, Any]) -> None:
    """Raise where the model's own ``save_pretrained`` (bound) cannot take the save ``options`` given to
    ``push_to_hub``."""
    parameters = _signature_parameters(save_pretrained)
    if takes_any_keyword(parameters):
        return
    names = {name for name, p in parameters.items() if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    refused = sorted(set(options) - names)
    if refused:
        called = getattr(save_pretrained, "__qualname__", f"{owner}.save_pretrained")
        raise HubMixinTypeError(
            f"{owner}.push_to_hub: {', '.join(f'{name}=' for name in refused)} given, but {called}, which "
            "push_to_hub saves through (as huggingface_hub does), does not take it: add it to that override's "
            "parameters (or **kwargs passed to super().save_pretrained)"
        )


def _check_config_type(
    annotation: Any, value: Any, coders: Coders, source: str, key: str, *, bool_number: bool = False
) -> None:
    found = json_type_mismatch(annotation, value, coders, bool_number=bool_number)
    if found is not None:
        raise ConfigTypeError(source, f"{key}{found.where}", found.expected, found.found)


def _decoded(annotation: Any, value: Any, coders: Coders, source: str, key: str) -> Any:
    """:func:`decode_value`, a failure named by file and key."""
    try:
        return decode_value(annotation, value, coders)
    except Exception as e:  # an enum's unknown value, a coder's or a dataclass's own check
        raise ConfigError(
            f"{source}: key {key!r}: cannot decode {value!r:.80} as {describe_type(annotation)}: {e}"
        ) from e


def _hook_decoded(
    decode_arg: Callable[..., Any], annotation: Any, value: Any, source: str, key: str, rules: Callable[[], Any]
) -> Any:
    """What the class's ``_decode_arg`` override gives for ``value``; its ``super()`` call for this argument gets
    what hubmixin's ``rules`` give (see :data:`DECODING`). Where it fails, what the ``rules`` give: the capture saves
    by them first, in a form an override written for its own ``_encode_arg``'s may not read (an enum by value, not
    by name); where they fail too, their error (naming file and key), or the override's failure, named so."""
    token = DECODING.set((annotation, value, rules))
    try:
        return decode_arg(annotation, value)
    except Exception as e:
        failure = e
    finally:
        DECODING.reset(token)
    try:
        return rules()
    except HubMixinError:
        if isinstance(failure, HubMixinError):
            raise
        raise ConfigError(
            f"{source}: key {key!r}: {getattr(decode_arg, '__qualname__', '_decode_arg')} cannot decode {value!r:.80} "
            f"as {describe_type(annotation)}: {failure}"
        ) from failure


def _unknown_class_keywords(cls: type, given: Mapping[str, Any]) -> HubMixinTypeError:
    """The error for class keywords no class in ``cls``'s bases takes, with the closest one each."""
    known = _class_keywords(cls)
    parts = []
    for name in given:
        guess = closest(name, known)
        parts.append(f"{name!r}" + (f" (did you mean {guess!r}?)" if guess else ""))
    return HubMixinTypeError(
        f"{cls.__qualname__}: unexpected class keyword {', '.join(parts)}; class keywords: {sorted(set(known))}"
    )


def _class_keywords(cls: type) -> list[str]:
    """The keywords the ``__init_subclass__`` hooks of ``cls``'s bases take."""
    known = []
    for base in cls.__mro__[1:]:
        hook = base.__dict__.get("__init_subclass__")
        if hook is None:
            continue
        try:
            parameters = inspect.signature(getattr(hook, "__func__", hook)).parameters.values()
        except (TypeError, ValueError):  # a builtin's (object's takes no keyword)
            continue
        known += [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
    return known


def _has_default(parameter: inspect.Parameter) -> bool:
    return parameter.default is not inspect.Parameter.empty


def _type_names(annotation: Any) -> set[str]:
    """The names of the classes ``annotation`` is, or is a union of (``Mesh | None``: ``{"Mesh", "NoneType"}``)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return {t.__qualname__ for t in (typing.get_args(annotation) if union else (annotation,)) if isinstance(t, type)}


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _runtime_type(annotation: Any, runtime: tuple[type, ...]) -> type | None:
    """The type of ``runtime`` that ``annotation`` names, where it names no other (``Mesh``, ``Mesh | None``,
    ``Annotated[Mesh, ...]``), else ``None``."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = [t for t in (typing.get_args(annotation) if union else (annotation,)) if t is not type(None)]
    kinds = [next((k for k in runtime if isinstance(t, type) and issubclass(t, k)), None) for t in members]
    return kinds[0] if kinds and None not in kinds and len(set(kinds)) == 1 else None


def loose_annotation(annotation: Any, coders: Coders) -> bool:
    """No annotation, ``Any``, ``enum.Enum`` itself (or another of the ``enum`` module's bases), or a union taking
    anything or a coder's type (``DTypeLike``, Flax's ``Dtype``)."""
    if annotation is Any or annotation is inspect.Parameter.empty or enum_module_base(annotation):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(member is Any or member in coders for member in typing.get_args(annotation))
    return False


def _check_token(token: object, *, remote: bool = True) -> None:
    """``token`` is a string, ``True``/``False`` or ``None``, as huggingface_hub takes it: anything else would be
    ignored by the client, and the request sent without authentication."""
    if token is not None and not isinstance(token, str | bool):
        raise HubMixinTypeError(f"token must be a string, a bool or None, got {type(token).__name__}")
    if remote and isinstance(token, str) and not token.strip():  # the client would send "Bearer " (an HTTP error)
        raise HubMixinValueError("token is an empty string: pass a token, or None for the one you are logged in with")


def _suggesting(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, whose unexpected keywords raise a ``TypeError`` naming the closest parameter."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            signature.bind(*args, **kwargs)
        except TypeError:
            if not args or not isinstance(args[0], ModelHubMixinBase):  # ``MyModel.push_to_hub("me/model")``
                raise HubMixinTypeError(
                    f"{method.__name__} is a method of a model, not of its class: build the model first, then call "
                    f"it on the model (`model = MyModel(...)`, `model.{method.__name__}(...)`)"
                ) from None
            parameters = dict(signature.parameters)
            owner = type(args[0]).__qualname__
            keywords = functools.partial(_class_keywords, type(args[0]))
            check_keywords(f"{owner}.{method.__name__}", kwargs, parameters, parameters, keywords)
            raise
        return method(*args, **kwargs)

    return checked


def _options_parameter(parameters: Mapping[str, inspect.Parameter]) -> str | None:
    """The parameter taking the download options as one ``DownloadOptions``: ``download``, or one so annotated."""
    if _named(parameters, "download"):
        return "download"
    for name, param in parameters.items():
        annotation = param.annotation
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if param.kind is inspect.Parameter.KEYWORD_ONLY and text.rsplit(".", 1)[-1] == "DownloadOptions":
            return name
    return None


def _named(parameters: Mapping[str, inspect.Parameter], name: str) -> bool:
    """Whether ``name`` is a parameter of its own in a signature (not only caught by ``**kwargs``)."""
    param = parameters.get(name)
    return param is not None and param.kind is not inspect.Parameter.VAR_KEYWORD


def _builds_from_arguments(cls: type) -> bool:
    """Whether ``cls``'s ``_from_pretrained`` is a framework's own (``_hub_builds_from_arguments`` in the class
    that defines it), which calls ``cls(**model_kwargs)``: an override may supply arguments itself."""
    owner = _defining(cls, "_from_pretrained")
    return owner is not None and bool(vars(owner).get("_hub_builds_from_arguments", False))


def _saves_and_loads_itself(cls: type) -> bool:
    """Whether the class defining ``cls``'s ``_from_pretrained``, one building the model from values of its own,
    defines its ``_save_pretrained`` too (NVIDIA's BigVGAN writes and reads a config.json of its own): the keys of
    its config.json are then its loader's to take, not only ``__init__``'s."""
    if _defining(cls, "_save_pretrained") is not _defining(cls, "_from_pretrained") or _builds_from_arguments(cls):
        return False
    return builds_from_own_values(cls._from_pretrained)  # type: ignore[attr-defined]


_MISSING_ARGUMENTS = re.compile(
    r"(?P<init>\S*__init__)\(\) missing \d+ required (?:positional|keyword-only) arguments?: (?P<names>.*)"
)


def _missing_names(error: Exception, *, init_of: type | None = None) -> list[str]:
    """The arguments ``error`` says are missing: a ``KeyError``'s key, or those Python's ``TypeError`` for a call of
    an ``__init__`` names; with ``init_of``, only that ``TypeError``, for a call of ``init_of``'s ``__init__``."""
    if isinstance(error, KeyError) and init_of is None:
        return [error.args[0]] if error.args and isinstance(error.args[0], str) else []
    found = _MISSING_ARGUMENTS.search(str(error)) if isinstance(error, TypeError) else None
    init = None if init_of is None else _unwrapped(init_of.__init__)  # type: ignore[misc]
    if found is None or (init is not None and found["init"] != init.__qualname__):
        return []
    return re.findall(r"'([^']+)'", found["names"])


def _raised_in_init(error: BaseException, cls: type) -> bool:
    """Whether ``error`` was raised while an ``__init__`` of ``cls`` (or of a base) ran: by a call made in its body
    (an inner instance of the class), not by the loader's own call of the class, whose ``TypeError`` for missing
    arguments comes before any ``__init__`` runs (a framework's metaclass may stand between, as NNX's does)."""
    inits = {_unwrapped(vars(k)["__init__"]) for k in cls.__mro__ if "__init__" in vars(k)}
    codes = {code for code in (getattr(init, "__code__", None) for init in inits) if code is not None}
    return any(frame.f_code in codes for frame, _ in traceback.walk_tb(error.__traceback__))


def _base_loader_is_frameworks(cls: type) -> bool:
    """Whether the ``_from_pretrained`` that ``super()`` reaches from ``cls``'s own is a framework's (which takes
    the download options, its load extras and ``__init__``'s arguments), not another override's."""
    owner = _defining(cls, "_from_pretrained")
    if owner is None:
        return False
    mro = cls.__mro__
    base = next((k for k in mro[mro.index(owner) + 1 :] if "_from_pretrained" in vars(k)), None)
    return base is not None and _builds_from_arguments(base)


def _loader_is_own(cls: type) -> bool:
    """Whether ``cls``'s ``_from_pretrained`` is its own (or a library's built on hubmixin), not a framework's,
    which builds from the arguments it is given, nor the base's."""
    owner = _defining(cls, "_from_pretrained")
    return owner is not None and not _builds_from_arguments(cls) and not owner.__module__.startswith("hubmixin_")


_HUBMIXIN_PACKAGES = frozenset({"hubmixin_core", "hubmixin_torch", "hubmixin_flax", "hubmixin_keras"})


def _loader_takes(cls: type, name: str) -> bool | None:
    """Whether ``cls``'s ``_from_pretrained`` applies the download option ``name``, read down its MRO: a loader
    takes it if it names it or takes ``download``, is a framework's or hubmixin's, or its source (through
    ``functools.wraps`` decorators) reads it from its ``**kwargs`` (hubmixin's earlier contract);
    one that passes its ``**kwargs`` on to ``super()._from_pretrained``, ``name`` left in them, leaves it to that one
    (see :func:`forwards_whole`'s ``keeping``). ``None`` where a
    loader's source cannot be read (``.pyc`` only, generated code)."""
    for klass in cls.__mro__:
        loader = vars(klass).get("_from_pretrained")
        if loader is None:
            continue
        package = klass.__module__.partition(".")[0]
        if vars(klass).get("_hub_builds_from_arguments", False) or package in _HUBMIXIN_PACKAGES:
            return True
        function = getattr(loader, "__func__", loader)
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):
            return False
        if _named(parameters, name) or _options_parameter(parameters) is not None:
            return True
        var_keyword = next((n for n, p in parameters.items() if p.kind is p.VAR_KEYWORD), None)
        if var_keyword is None:
            return False
        read = reads_key(function, name)
        if read is None or read:
            return read
        if not forwards_whole(function, var_keyword, through_wrappers=True, keeping=name):
            return False
    return False


def _loader_supplies(cls: type) -> frozenset[str]:
    """The arguments an override of ``_from_pretrained`` gives ``__init__`` itself, which config.json need not hold:
    keywords from values of its own (setfit's rebuilt modules, see :func:`supplied_arguments`), and ``*args``'s
    values where it builds ``cls(*layers)``. None for a framework's own loader, which passes on what it is given."""
    if _builds_from_arguments(cls):
        return frozenset()
    loader = cls._from_pretrained  # type: ignore[attr-defined]
    init = cls._hub_mixin_init_parameters  # type: ignore[attr-defined]
    star = (
        {f"*{p.name}" for p in init.values() if p.kind is p.VAR_POSITIONAL} if builds_with_positional(loader) else set()
    )
    return supplied_arguments(loader) | star


def _unnamed(parameters: Mapping[str, inspect.Parameter], call: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords of ``call`` that a signature's ``**kwargs`` takes (it does not name them)."""
    return {name: value for name, value in call.items() if not _named(parameters, name)}


def _supported(
    func: Callable[..., Any], kwargs: Mapping[str, Any], defaults: Mapping[str, Any], *, forward: bool = False
) -> dict[str, Any]:
    """The ``kwargs`` that ``func`` accepts.

    A keyword it does not name is dropped if it holds its default (an implementation written for
    huggingface_hub's narrower signature keeps working, and one that builds ``cls(**model_kwargs)`` itself
    does not receive the loader's options). Otherwise the caller asked for it: with ``forward`` (the options
    of ``_from_pretrained``), it goes through ``func``'s ``**kwargs`` (an override written for huggingface_hub
    that forwards them to ``super()._from_pretrained`` hands it to the framework's base); else (a save option), or
    without ``**kwargs``, ``func`` cannot do it, and a ``TypeError`` names it.
    """
    parameters = inspect.signature(func).parameters
    var_keyword = forward and takes_any_keyword(parameters)
    accepted = {k: v for k, v in kwargs.items() if _named(parameters, k)}
    for key in kwargs.keys() - accepted.keys():
        if key in defaults and same_value(kwargs[key], defaults[key]):
            continue
        if not var_keyword:
            raise HubMixinTypeError(
                f"{func.__qualname__} does not accept {key}={kwargs[key]!r}: it neither names it nor takes **kwargs. "
                f"Add **kwargs to its signature and pass them on ({_forwarding_call(func, parameters)}), or name "
                f"{key} in its parameters and apply it"
            )
        accepted[key] = kwargs[key]
    return accepted


def _forwarding_call(func: Callable[..., Any], parameters: Mapping[str, inspect.Parameter]) -> str:
    """How an override ``func`` hands its keywords on: ``super()._save_pretrained(save_directory, **kwargs)``."""
    positional = [
        n for n, p in parameters.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and n != "self"
    ]
    return f"`super().{func.__name__}({', '.join([*positional, '**kwargs'])})`"
