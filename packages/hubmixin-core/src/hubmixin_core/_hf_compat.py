"""huggingface_hub's protected helpers of ``ModelHubMixin``, kept for code written against them.

Libraries' ``__init__`` and ``_from_pretrained`` overrides call ``cls._encode_arg``, ``cls._decode_arg`` and
``cls._is_jsonable``; here they run on hubmixin's coders (the class's, then the built-in ones), so they accept
what hubmixin's config capture accepts: dataclasses, enums, paths, tuples, and the class's ``coders=``.

A class may override them, as huggingface_hub's allow: the config capture and ``from_pretrained`` then call its
overrides (see :func:`hf_hook`); these, reached by an override's ``super()``, are hubmixin's own rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from hubmixin_core._config import UNENCODABLE, decode_value, encode_value
from hubmixin_core.typing import Coders

__all__ = ["HfMixinHelpers", "hf_hook"]


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

    @classmethod
    def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
        """JSON data ``value`` decoded as ``expected_type`` where a coder or a built-in rule says how (``X | None``,
        dataclasses, enums, tuples, ...); otherwise ``value`` unchanged."""
        return decode_value(expected_type, value, cls._all_coders())


def hf_hook(cls: type, name: str) -> Callable[..., Any] | None:
    """``cls``'s ``name`` (``"_is_jsonable"``, ``"_encode_arg"`` or ``"_decode_arg"``), bound, where a class
    overrides :class:`HfMixinHelpers`' (huggingface_hub's hook); ``None`` where it does not, or has none."""
    hook: Callable[..., Any] | None = getattr(cls, name, None)
    return None if hook is None or getattr(hook, "__func__", None) is vars(HfMixinHelpers)[name].__func__ else hook
