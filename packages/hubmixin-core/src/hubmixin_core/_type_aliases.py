"""``type`` aliases (Python 3.12's ``type Pair = tuple[int, int]``, or ``typing_extensions.TypeAliasType``) seen
through: config capture and decoding read an annotation by its origin and arguments, which an alias hides."""

from __future__ import annotations

import functools
import operator
import types
import typing
from typing import Any

__all__ = ["without_aliases"]


def _is_alias(annotation: Any) -> bool:
    kind = type(annotation)  # (its __value__ is not looked at: reading it evaluates the alias)
    return kind.__name__ == "TypeAliasType" and kind.__module__ in ("typing", "typing_extensions")


def _named(alias: Any, args: tuple[Any, ...]) -> Any:
    """What ``alias`` (given ``args``, if generic) names, or ``None`` where that cannot be evaluated: a ``type``
    statement's value is evaluated at first use, and may name what only a type checker imports."""
    try:
        return alias.__value__[args] if args else alias.__value__
    except Exception:
        return None


def without_aliases(annotation: Any, expanding: frozenset[int] = frozenset()) -> Any:
    """``annotation`` with every ``type`` alias in it replaced by what it names, at any depth: ``Pair | None`` ->
    ``tuple[int, int] | None``, a generic ``Grid[int]`` -> ``list[list[int]]``. A recursive alias is left as it is
    where it recurs; an annotation holding no alias is returned as it is (the same object).

    Example:
        >>> import typing_extensions
        >>> Pair = typing_extensions.TypeAliasType("Pair", tuple[int, int])
        >>> without_aliases(dict[str, Pair] | None)
        dict[str, tuple[int, int]] | None
    """
    if _is_alias(annotation):
        named = _named(annotation, ())
        if id(annotation) in expanding or named is None:
            return annotation
        return without_aliases(named, expanding | {id(annotation)})
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if not args or origin is typing.Literal:
        return annotation
    if _is_alias(origin):  # a generic alias given its parameters
        named = _named(origin, args) if getattr(origin, "__type_params__", ()) else None
        if id(origin) in expanding or named is None:
            return annotation
        return without_aliases(named, expanding | {id(origin)})
    if origin is typing.Annotated:
        inner = without_aliases(args[0], expanding)
        return annotation if inner is args[0] else typing.Annotated[(inner, *annotation.__metadata__)]
    new = tuple(without_aliases(arg, expanding) for arg in args)
    if all(after is before for after, before in zip(new, args, strict=True)):
        return annotation
    if isinstance(annotation, types.UnionType):
        return functools.reduce(operator.or_, new)
    if origin is typing.Union:
        return typing.Union[new]  # noqa: UP007 (rebuilding the form it was)
    if isinstance(annotation, types.GenericAlias):
        return origin[new]
    copy_with = getattr(annotation, "copy_with", None)  # typing's own generic aliases (typing.List[...])
    return annotation if copy_with is None else copy_with(new)
