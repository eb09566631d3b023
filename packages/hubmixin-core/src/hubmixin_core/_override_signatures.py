"""What a subclass's overrides are and take: whether a hook is the user's, which download options and keywords
its ``_from_pretrained`` applies (read from its signature and, through :mod:`._forwarding`, its source), and the
keywords a hook is called with, kept to those it accepts."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from hubmixin_core._checks import same_value, takes_any_keyword
from hubmixin_core._config_apply import builds_from_arguments, defining_class
from hubmixin_core._forwarding import builds_with_positional, forwards_whole, reads_key, supplied_arguments
from hubmixin_core.errors import HubMixinTypeError

_HUBMIXIN_PACKAGES = frozenset({"hubmixin_core", "hubmixin_torch", "hubmixin_flax", "hubmixin_keras"})


def overridden(cls: type, name: str) -> bool:
    """Whether a class of the user's defines ``name``, not hubmixin's generated facade."""
    owner = defining_class(cls, name)
    return owner is not None and not owner.__module__.endswith("._generated._methods")


def own_method(instance: object, name: str) -> bool:
    """Whether ``instance``'s method ``name`` is the user's: a class's override, or set on the instance itself
    (a wrapper, a ``Mock``), which huggingface_hub's mixin calls as well."""
    return name in getattr(instance, "__dict__", {}) or overridden(type(instance), name)


def signature_parameters(function: Any) -> Mapping[str, inspect.Parameter]:
    """The parameters of the callable ``function``; any keyword where it has no signature to read."""
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {"kwargs": inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)}


def check_override_takes(owner: str, save_pretrained: Any, options: dict[str, Any]) -> None:
    """Raise where the model's own ``save_pretrained`` (bound) cannot take the save ``options`` given to
    ``push_to_hub``."""
    parameters = signature_parameters(save_pretrained)
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


def options_parameter(parameters: Mapping[str, inspect.Parameter]) -> str | None:
    """The parameter taking the download options as one ``DownloadOptions``: ``download``, or one so annotated."""
    if has_own_parameter(parameters, "download"):
        return "download"
    for name, param in parameters.items():
        annotation = param.annotation
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if param.kind is inspect.Parameter.KEYWORD_ONLY and text.rsplit(".", 1)[-1] == "DownloadOptions":
            return name
    return None


def has_own_parameter(parameters: Mapping[str, inspect.Parameter], name: str) -> bool:
    """Whether ``name`` is a parameter of its own in a signature (not only caught by ``**kwargs``)."""
    param = parameters.get(name)
    return param is not None and param.kind is not inspect.Parameter.VAR_KEYWORD


def base_loader_is_frameworks(cls: type) -> bool:
    """Whether the ``_from_pretrained`` that ``super()`` reaches from ``cls``'s own is a framework's (which takes
    the download options, its load extras and ``__init__``'s arguments), not another override's."""
    owner = defining_class(cls, "_from_pretrained")
    if owner is None:
        return False
    mro = cls.__mro__
    base = next((k for k in mro[mro.index(owner) + 1 :] if "_from_pretrained" in vars(k)), None)
    return base is not None and builds_from_arguments(base)


def loader_is_own(cls: type) -> bool:
    """Whether ``cls``'s ``_from_pretrained`` is its own (or a library's built on hubmixin), not a framework's,
    which builds from the arguments it is given, nor the base's."""
    owner = defining_class(cls, "_from_pretrained")
    return owner is not None and not builds_from_arguments(cls) and not owner.__module__.startswith("hubmixin_")


def loader_takes(cls: type, name: str) -> bool | None:
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
        if has_own_parameter(parameters, name) or options_parameter(parameters) is not None:
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


def loader_supplies(cls: type) -> frozenset[str]:
    """The arguments an override of ``_from_pretrained`` gives ``__init__`` itself, which config.json need not hold:
    keywords from values of its own (setfit's rebuilt modules, see :func:`supplied_arguments`), and ``*args``'s
    values where it builds ``cls(*layers)``. None for a framework's own loader, which passes on what it is given."""
    if builds_from_arguments(cls):
        return frozenset()
    loader = cls._from_pretrained  # type: ignore[attr-defined]
    init = cls._hub_mixin_init_parameters  # type: ignore[attr-defined]
    star = (
        {f"*{p.name}" for p in init.values() if p.kind is p.VAR_POSITIONAL} if builds_with_positional(loader) else set()
    )
    return supplied_arguments(loader) | star


def unnamed_keywords(parameters: Mapping[str, inspect.Parameter], call: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords of ``call`` that a signature's ``**kwargs`` takes (it does not name them)."""
    return {name: value for name, value in call.items() if not has_own_parameter(parameters, name)}


def accepted_keywords(
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
    accepted = {k: v for k, v in kwargs.items() if has_own_parameter(parameters, k)}
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
