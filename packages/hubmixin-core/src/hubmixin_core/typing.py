"""Types shared by hubmixin's public signatures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import Field
from typing import Any, ClassVar, Protocol, TypeAlias, TypedDict

__all__ = ["ClassKeywords", "Coder", "Coders", "DataclassInstance"]


class DataclassInstance(Protocol):
    """Any dataclass instance (as typeshed defines it)."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]


Coder: TypeAlias = tuple[Callable[[Any], Any], Callable[[Any], Any]]
"""An ``(encoder, decoder)`` pair: the encoder turns a value into JSON data, the decoder turns it back."""

Coders: TypeAlias = dict[type, Coder]
"""Custom coders of a mixin class, keyed by the type they handle."""


class ClassKeywords(TypedDict, total=False):
    """The class keywords every mixin takes, as mypy checks them (a misspelled one, or ``runtime_args="x"``, is an
    error there; run time checks them too).

    Examples:
        >>> from hubmixin_core import ModelHubMixin
        >>> class Model(ModelHubMixin, library_name="my-lib", license="mit", tags=["vision"]):
        ...     pass
    """

    repo_url: str | None
    paper_url: str | None
    docs_url: str | None
    model_card_template: str | None
    language: str | list[str] | None
    library_name: str | None
    license: str | None
    license_name: str | None
    license_link: str | None
    pipeline_tag: str | None
    tags: list[str] | tuple[str, ...] | None
    coders: Mapping[Any, Coder] | None  # a Mapping (covariant): a constant of a narrower inferred type is taken
    strict_config: bool | None
    runtime_args: list[str] | tuple[str, ...]
