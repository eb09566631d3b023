"""huggingface_hub's protected helpers of ``ModelHubMixin``, kept for code written against them.

Libraries' ``__init__`` and ``_from_pretrained`` overrides call ``cls._encode_arg``, ``cls._decode_arg`` and
``cls._is_jsonable``; here they run on hubmixin's coders (the class's, then the built-in ones), so they accept
what hubmixin's config capture accepts: dataclasses, enums, paths, tuples, and the class's ``coders=``.

A class may override them, as huggingface_hub's allow (see :func:`hf_hook`): the config capture offers its
``_is_jsonable`` and ``_encode_arg`` the values hubmixin's own rules cannot encode, and ``from_pretrained`` has its
``_decode_arg`` decode each annotated argument; these, reached by an override's ``super()``, are hubmixin's rules.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from hubmixin_core._config import UNENCODABLE, decode_value, encode_value
from hubmixin_core.typing import Coders

__all__ = ["DECODING", "HfMixinHelpers", "hf_hook"]

logger = logging.getLogger("hubmixin_core")

ARGS_T = TypeVar("ARGS_T")

DECODING: ContextVar[tuple[Any, Any, Callable[[], Any]] | None] = ContextVar("hubmixin_decoding", default=None)
"""Set while ``from_pretrained`` has a class's ``_decode_arg`` override decode one argument: its annotation, its
saved value and hubmixin's decoding of it. ``HfMixinHelpers._decode_arg``, reached by the override's ``super()``
for that same annotation and value, gives what hubmixin's loader gives (a ``None`` kept for ``x: T = None``, a
loose annotation decoded as the default's type, errors naming the file and key)."""


class HfMixinHelpers:
    """``_is_jsonable``, ``_encode_arg``, ``_decode_arg`` and ``_hub_mixin_jsonable_custom_types``, as
    huggingface_hub's ``ModelHubMixin`` has them."""

    _hub_mixin_jsonable_custom_types: ClassVar[tuple[type, ...]] = ()
    """The types the class's ``coders=`` encode."""

    @classmethod
    def _all_coders(cls) -> Coders:
        raise NotImplementedError

    @classmethod
    def _is_jsonable(cls, value: Any) -> bool:
        """Whether ``value`` can be saved in ``config.json`` (JSON data, or encoded by a coder or built-in rule)."""
        return encode_value(value, cls._all_coders()) is not UNENCODABLE

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        """``arg`` as JSON data; a value nothing encodes is returned unchanged, as huggingface_hub does."""
        encoded = encode_value(arg, cls._all_coders())
        return arg if encoded is UNENCODABLE else encoded

    if TYPE_CHECKING:  # huggingface_hub's signature, so that an override written for it (calling super()) type-checks

        @classmethod
        def _decode_arg(cls, expected_type: type[ARGS_T], value: Any) -> ARGS_T | None: ...

    else:  # takes any annotation at run time (unions, aliases: hubmixin's callers pass them)

        @classmethod
        def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
            """JSON data ``value`` decoded as ``expected_type`` where a coder or a built-in rule says how (``X | None``,
            dataclasses, enums, tuples, ...); otherwise ``value`` unchanged. Reached from an override loading an
            argument, what hubmixin's loader gives for it (see :data:`DECODING`)."""
            decoding = DECODING.get()
            if decoding is not None and decoding[0] is expected_type and decoding[1] is value:
                return decoding[2]()
            return decode_value(expected_type, value, cls._all_coders())


def hf_hook(cls: type, name: str) -> Callable[..., Any] | None:
    """``cls``'s ``name`` (``"_is_jsonable"``, ``"_encode_arg"`` or ``"_decode_arg"``), bound, where a class
    overrides :class:`HfMixinHelpers`' (huggingface_hub's hook); ``None`` where it does not, or has none.

    An override written as a plain method (no ``@classmethod``) is ignored, with a debug log: the capture has no
    instance to call it on (huggingface_hub calls ``_is_jsonable`` on the instance being built, and ``_encode_arg``
    and ``_decode_arg`` on the class, where a plain method raises ``TypeError``)."""
    hook: Callable[..., Any] | None = getattr(cls, name, None)
    if hook is None or getattr(hook, "__func__", None) is vars(HfMixinHelpers)[name].__func__:
        return None
    if inspect.isfunction(hook):  # a staticmethod, or a plain method (read from the class, both are functions)
        owner = next(klass for klass in cls.__mro__ if name in vars(klass))
        if inspect.isfunction(vars(owner)[name]):
            logger.debug("%s.%s is a plain method, not a classmethod: hubmixin's rules apply", owner.__qualname__, name)
            return None
    return hook
