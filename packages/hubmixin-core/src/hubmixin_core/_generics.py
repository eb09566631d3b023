"""Type variables in annotations, replaced by the types a generic class binds them to.

``class Base(ModelHubMixin, Generic[C])`` with ``__init__(self, config: C)``, used as ``class Leaf(Base[Cfg])``:
for ``Leaf``, ``config`` is a ``Cfg`` (what a type checker says of ``Leaf(...).config``), so it is decoded as one.
A type variable no class binds stands for its bound, where it has one; else it says nothing (as ``Any``).
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Mapping
from typing import Any

__all__ = ["generic_bindings", "substitute"]


def generic_bindings(cls: type) -> dict[Any, Any]:
    """The types ``cls``'s generic bases bind type variables to, through every level (``class Leaf(Mid[Cfg])``
    with ``class Mid(Base[D], Generic[D])``: ``{C: Cfg, D: Cfg}``); the most derived binding wins."""
    bindings: dict[Any, Any] = {}
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            parameters = getattr(origin, "__parameters__", ())
            for parameter, bound in zip(parameters, typing.get_args(base), strict=False):
                if isinstance(parameter, typing.TypeVar) and parameter is not bound:
                    bindings.setdefault(parameter, bound)
    for parameter, bound in bindings.items():  # (``C -> D -> Cfg``: each to the type at the end of its chain)
        seen = {parameter}
        while isinstance(bound, typing.TypeVar) and bound in bindings and bound not in seen:
            seen.add(bound)
            bound = bindings[bound]
        bindings[parameter] = bound
    return bindings


def substitute(annotation: Any, bindings: Mapping[Any, Any]) -> Any:
    """``annotation`` with its type variables replaced: by the type ``bindings`` gives each, else by its bound
    (``TypeVar("CB", bound="Cfg")``: ``Cfg``); one with neither is left as it is. ``list[C]`` becomes
    ``list[Cfg]``; an annotation that cannot be subscripted so is left as it is."""
    if isinstance(annotation, typing.TypeVar):
        return _replacement(annotation, bindings)
    parameters = getattr(annotation, "__parameters__", ())
    if not parameters or typing.get_origin(annotation) is None:  # (a generic class itself: nothing to replace)
        return annotation
    try:
        return annotation[tuple(_replacement(parameter, bindings) for parameter in parameters)]
    except TypeError:  # (a ParamSpec, or a form that takes no such arguments)
        return annotation


def _replacement(parameter: Any, bindings: Mapping[Any, Any]) -> Any:
    if parameter in bindings:
        return bindings[parameter]
    bound = getattr(parameter, "__bound__", None)
    if isinstance(bound, typing.ForwardRef):  # ``bound="Cfg"``: a name in the module defining the type variable
        module = sys.modules.get(getattr(parameter, "__module__", ""))
        try:
            bound = eval(bound.__forward_arg__, vars(module) if module else {})  # noqa: S307
        except Exception:  # a name only a type checker sees
            return parameter
    return parameter if bound is None else bound
