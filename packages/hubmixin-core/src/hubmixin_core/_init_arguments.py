"""What a model class's ``__init__`` takes, and how each of its arguments is written to config.json and read back.

The lowest layer of ``ModelHubMixinBase``: the class-level state every layer reads, the ``__init__`` signature
(with what its ``**kwargs`` reach), and the per-argument coding by annotation, coders and huggingface_hub's hooks.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from huggingface_hub.hub_mixin import MixinInfo

from hubmixin_core._capture import ConfigSlot, init_parameters, wrap_init
from hubmixin_core._card import CardInfo
from hubmixin_core._checks import instance_meant, meant_instance, takes_any_keyword
from hubmixin_core._config import (
    BUILTIN_CODERS,
    UNENCODABLE,
    NonStringKey,
    all_subclasses,
    coder_output_fault,
    decode_value,
    decoded_like_default,
    describe_type,
    encode_config,
    encode_value,
    init_type_hints,
    is_json_of,
    json_type_mismatch,
    unencodable_part,
)
from hubmixin_core._forwarding import (
    SuperCall,
    keys_read,
    keywords_read,
    kwargs_only_passed_on,
    super_call,
    wrapper_changes_signature,
)
from hubmixin_core._hf_compat import DECODING, HfMixinHelpers, hf_hook
from hubmixin_core._roundtrip import enum_module_base, json_native, read_only_sequence, sentinel_default, type_change
from hubmixin_core.errors import ConfigEncodingError, ConfigError, ConfigTypeError, HubMixinError
from hubmixin_core.errors import _spelled_type as spelled_type
from hubmixin_core.typing import Coders

if TYPE_CHECKING:
    from hubmixin_core._config_capture import ConfigCapture

__all__ = ["InitArguments", "loose_annotation"]

VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


class InitArguments(HfMixinHelpers):
    """The ``__init__`` signature of a model class and the coding of its arguments: the lowest layer of
    ``ModelHubMixinBase``, holding the class-level state every layer reads."""

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
        if names is not None:  # (and the keywords read from **kwargs on the way: the class's own)
            names = names | cls._hub_kwargs_keys_read()
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
    def _hub_varargs_names(cls) -> list[str]:
        """The names of the parameters ``__init__``'s ``*args`` reaches when it passes them, and its ``**kwargs``,
        on to its base's ``__init__`` (``super().__init__(*args, **kwargs)``: the load gives them back by keyword):
        the base's positional parameters past those given explicitly before; ``[]`` otherwise."""
        own = cls._hub_mixin_init_parameters
        call = super_call(cls.__init__, _next_init_class(cls, cls.__init__))
        if not takes_any_keyword(own) or not call.args or not call.kwargs:  # (given back by keyword, at load)
            return []
        passed, keywords = {unwrapped(cls.__init__)}, set(call.keywords)
        for _, init, parameters in _base_inits(cls):  # the first after its own: the one `super().__init__` calls
            if unwrapped(init) in passed:  # (a subclass without an ``__init__`` of its own inherits it)
                continue
            onward = _passes_all_on(cls, init, parameters) if call.positional == 0 else None
            if onward is not None:  # (a base's ``__init__(self, *args, **kwargs)`` passing them on in turn)
                passed.add(unwrapped(init))
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
            named = name in parameters and parameters[name].kind not in VARIADIC  # (not *args, **kwargs)
            if kind is not None and named and name not in cls._hub_mixin_runtime_args:
                found[name] = kind.__qualname__
        return found

    @classmethod
    def _hub_runtime_type_names(cls) -> set[str]:
        """The names config.json records for the run's own types (:attr:`_hub_mixin_runtime_types`)."""
        return {t.__qualname__ for t in cls._hub_mixin_runtime_types}

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
    def _hub_init_reads(cls) -> frozenset[str] | None:
        """The keywords ``__init__`` reads from its ``**kwargs`` where it does nothing else with them (any other is
        dropped); ``None`` where not known (passed on, a decorator taking keywords of its own, no source)."""
        if wrapper_changes_signature(cls.__init__):
            return None
        return keywords_read(unwrapped(cls.__init__))

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
        for base, _, parameters, given, positional in _kwargs_way(cls):
            named = [
                name
                for name, parameter in parameters.items()
                if parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            ]
            taken = given | set(named[:positional])
            for name in named:
                if name not in taken:
                    forwarded.setdefault(name, (base, parameters[name]))
        return forwarded

    @classmethod
    def _hub_kwargs_keys_read(cls) -> frozenset[str]:
        """The keywords ``__init__``, or a base's ``__init__`` its ``**kwargs`` reaches (as
        :meth:`_hub_forwarded_parameters` follows them), reads from its ``**kwargs`` by a constant key
        (``self.extra = kwargs.pop("extra", 0)``): arguments of the class's own, even where the framework's base
        takes the other keywords ``**kwargs`` holds (Keras' ``Layer``). Read from their source: none where it
        cannot be read."""
        cls._hub_mixin_inspect_init()
        if not takes_any_keyword(cls._hub_mixin_init_parameters):
            return frozenset()
        read = keys_read(unwrapped(cls.__init__))
        for _, init, _, given, _ in _kwargs_way(cls):  # (not those an __init__ before it gives by name)
            read |= keys_read(unwrapped(init)) - given
        return read

    @classmethod
    def _hub_kwargs_end(cls) -> bool:
        """Whether ``__init__``'s ``**kwargs``, passed on from base to base (read from their source, as
        :meth:`_hub_forwarded_parameters` reads it), ends at a base's ``__init__`` taking no ``**kwargs``: then a
        keyword that no ``__init__`` on the way names is an error (a typo), which ``from_pretrained`` can say
        before any download. ``False`` where the way is not known to the end (a framework's own class, a source
        that cannot be read, ``**kwargs`` kept or read on the way, a decorator taking keywords of its own)."""
        call = super_call(cls.__init__, _next_init_class(cls, cls.__init__))
        passes_on = kwargs_only_passed_on(unwrapped(cls.__init__)) and not wrapper_changes_signature(cls.__init__)
        for _, init, parameters in _base_inits(cls):
            if unwrapped(init) is unwrapped(cls.__init__):  # (inherited: the class has no __init__ of its own)
                continue
            if not (call.known and call.kwargs and passes_on) or wrapper_changes_signature(init):
                return False
            if not takes_any_keyword(parameters):
                return True
            call = super_call(init, _next_init_class(cls, init))
            passes_on = kwargs_only_passed_on(unwrapped(init))
        return False

    @classmethod
    def _hub_decode_argument(cls, key: str, value: Any, hints: Mapping[str, Any], coders: Coders, source: str) -> Any:
        """The ``__init__`` argument ``key`` from its ``config.json`` value: by its annotation, checked first; else
        (no annotation, or a loose one) as its default's type (by a declared coder, or a tuple or enum). An annotated
        one by the class's override of ``_decode_arg``, where it has one (huggingface_hub's hook), unchecked; by these
        rules where it fails (see :func:`hook_decoded`)."""
        parameter = cls._hub_mixin_init_parameters.get(key)
        decode_arg = cls._hub_decode_hook(key)
        if decode_arg is not None and parameter is not None:
            annotation = hints.get(key, parameter.annotation)

            def rules() -> Any:
                return cls._hub_value_by_rules(key, value, hints, coders, source)

            return hook_decoded(decode_arg, annotation, value, source, key, rules)
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
        if key in hints and json_type_mismatch(hints[key], value, coders) and is_default_json(value, default, coders):
            return default  # the class's own default, of another type than its annotation (``b: bool = 0``)
        try:
            return (decode or cls._hub_decoded_by_rules)(key, value, hints, coders, source)
        except ConfigError:
            if is_default_json(value, default, coders):  # a default the annotation cannot decode (``dtype: torch.dtype
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
            decoded = decode_annotated(hints[key], value, coders, source, key)
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


def _base_inits(cls: type) -> Iterator[tuple[type, Callable[..., Any], dict[str, inspect.Parameter]]]:
    """The bases of ``cls`` defining an ``__init__``, in MRO order, each with it and its parameters (``self``
    left out), up to the first of a framework's own classes or one whose signature cannot be read."""
    for base in cls.__mro__[1:]:
        if frameworks_own(base):
            return
        init = vars(base).get("__init__")
        if init is None:
            continue
        try:
            parameters = init_parameters(init)
        except (TypeError, ValueError):
            return
        yield base, init, parameters


def _kwargs_way(
    cls: type[InitArguments],
) -> Iterator[tuple[type, Callable[..., Any], dict[str, inspect.Parameter], frozenset[str], int]]:
    """The bases whose ``__init__`` the ``**kwargs`` of ``cls.__init__`` reaches, passed on from base to base (read
    from their source, up to a framework's own class, see :func:`_base_inits`), each with its ``__init__``, its
    parameters, the keywords the ``__init__``s before it give by name, and how many arguments the one before it
    passes by position."""
    passes_on = takes_any_keyword(cls._hub_mixin_init_parameters)  # (the __init__ before the base's)
    call = super_call(cls.__init__, _next_init_class(cls, cls.__init__))
    given = call.keywords
    for base, init, parameters in _base_inits(cls):
        if not passes_on or not call.kwargs:
            return
        yield base, init, parameters, given, call.positional
        passes_on, call = takes_any_keyword(parameters), super_call(init, _next_init_class(cls, init))
        given = given | call.keywords


def _slot_of(owner: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ConfigSlot:
    """The configuration slot of an instance of ``owner`` built with ``args`` and ``kwargs``."""
    return cast("type[ConfigCapture]", owner)._hub_mixin_slot(args, kwargs)


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
    owners = [i for i, k in enumerate(cls.__mro__) if unwrapped(vars(k).get("__init__")) is function]
    if not owners:
        return None
    return next((k for k in cls.__mro__[owners[-1] + 1 :] if "__init__" in vars(k)), None)


def unwrapped(function: Any) -> Any:
    return inspect.unwrap(function) if callable(function) else function


def frameworks_own(cls: type) -> bool:
    """Whether ``cls`` is a framework's (keras, torch, flax, hubmixin's own): its ``__init__`` takes what the
    framework packages give, not configuration."""
    root = cls.__module__.partition(".")[0]
    return root in {"builtins", "keras", "torch", "flax", "tensorflow", "jax"} or root.startswith("hubmixin_")


def is_default_json(value: Any, default: Any, coders: Coders) -> bool:
    """Whether the JSON ``value`` is ``default`` encoded (``0`` is not ``False``: JSON texts are compared)."""
    return default is not inspect.Parameter.empty and is_json_of(value, default, coders)


def _check_config_type(
    annotation: Any, value: Any, coders: Coders, source: str, key: str, *, bool_number: bool = False
) -> None:
    found = json_type_mismatch(annotation, value, coders, bool_number=bool_number)
    if found is not None:
        raise ConfigTypeError(source, f"{key}{found.where}", found.expected, found.found)


def decode_annotated(annotation: Any, value: Any, coders: Coders, source: str, key: str) -> Any:
    """:func:`decode_value`, a failure named by file and key."""
    try:
        return decode_value(annotation, value, coders)
    except Exception as e:  # an enum's unknown value, a coder's or a dataclass's own check
        raise ConfigError(
            f"{source}: key {key!r}: cannot decode {value!r:.80} as {describe_type(annotation)}: {e}"
        ) from e


def hook_decoded(
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
