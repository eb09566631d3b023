"""huggingface_hub's ``_from_pretrained`` keywords, accepted by each framework's base ``_from_pretrained``.

A library written for ``huggingface_hub`` overrides ``_from_pretrained`` with huggingface_hub's signature (the
download options as separate keywords, the model's arguments as ``**model_kwargs``) and forwards to
``super()._from_pretrained(...)``. The framework bases take those keywords too: :func:`loader_arguments` turns
them back into one :class:`DownloadOptions` and one dict of ``__init__`` arguments.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from hubmixin_core._generated._options import DownloadOptions
from hubmixin_core._warn import warn_user
from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError
from hubmixin_core.params import DOWNLOAD_PARAMS

__all__ = ["HUB_KEYWORDS", "LEGACY_DOWNLOAD_KEYWORDS", "loader_arguments", "model_arguments", "takes_hub_keywords"]

_MODEL_ARGUMENTS: ContextVar[frozenset[str]] = ContextVar("hubmixin_model_arguments", default=frozenset())


F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def model_arguments(names: Iterable[str]) -> Iterator[None]:
    """While ``from_pretrained`` calls ``_from_pretrained``: the names of the model's arguments it passes as
    keywords (an override with huggingface_hub's signature; none otherwise), so that a base ``_from_pretrained``
    the override forwards them to keeps them for ``__init__`` even when one is named like a download option
    (``endpoint``, ``token``, ``revision`` ...) or a load option of the base (``dtype``, ``strict`` ...)."""
    token = _MODEL_ARGUMENTS.set(frozenset(names))
    try:
        yield
    finally:
        _MODEL_ARGUMENTS.reset(token)


def takes_hub_keywords(from_pretrained: F) -> F:
    """Decorate a framework base's ``_from_pretrained`` (under ``@classmethod``) written with hubmixin's signature
    (``model_id``, ``download``, ``model_kwargs`` and its own load options, all keyword-only) so that it also takes
    huggingface_hub's: an override written for huggingface_hub may forward its keywords unchanged.

    - huggingface_hub's download keywords (``revision``, ``token``, ... see :data:`HUB_KEYWORDS`) become one
      :class:`DownloadOptions`, and the other keywords the model's arguments (:func:`loader_arguments`);
    - keywords that the override forwarded as the model's arguments (see :func:`model_arguments`) and that bind
      to one of the base's own load options (``dtype``, ``strict``, ``map_location`` ...) go to ``__init__``.

    Type checkers see the decorated signature only.
    """
    parameters = inspect.signature(from_pretrained).parameters
    own = [
        name
        for name, parameter in parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name not in ("model_id", "download", "model_kwargs")
    ]

    @functools.wraps(from_pretrained)
    def taking(cls: type[Any], *, model_id: str, **kwargs: Any) -> Any:
        owner = f"{cls.__qualname__}._from_pretrained"
        model_kwargs = dict(kwargs.pop("model_kwargs", None) or {})
        moved = [name for name in own if name in kwargs and name in _MODEL_ARGUMENTS.get()]
        clash = sorted(model_kwargs.keys() & moved)
        if clash:
            raise HubMixinTypeError(f"{owner} got the model arguments {clash} twice")
        model_kwargs.update((name, kwargs.pop(name)) for name in moved)
        options = {name: kwargs.pop(name) for name in own if name in kwargs}
        download = kwargs.pop("download", None)
        download, init = loader_arguments(owner, download=download, model_kwargs=model_kwargs, keywords=kwargs)
        return from_pretrained(cls, model_id=model_id, download=download, model_kwargs=init, **options)

    return taking  # type: ignore[return-value]


LEGACY_DOWNLOAD_KEYWORDS: dict[str, Any] = {"proxies": None, "resume_download": None}
"""Keywords older huggingface_hub releases passed to ``_from_pretrained``, with the value the loader gives them."""


HUB_KEYWORDS = frozenset(
    {
        "revision",
        "cache_dir",
        "force_download",
        "proxies",
        "resume_download",
        "local_files_only",
        "token",
        "endpoint",
        "max_workers",
    }
)
"""The download keywords of huggingface_hub's ``_from_pretrained`` signature (each framework base takes them)."""


def loader_arguments(
    owner: str,
    *,
    download: DownloadOptions | None,
    model_kwargs: Mapping[str, Any] | None,
    keywords: Mapping[str, Any],
) -> tuple[DownloadOptions, dict[str, Any]]:
    """The download options and the ``__init__`` arguments of a base ``_from_pretrained`` call.

    Args:
        owner: The method, named in errors.
        download: The options as one argument (hubmixin's signature), or ``None``.
        model_kwargs: The ``__init__`` arguments as one dict (hubmixin's signature), or ``None``.
        keywords: The call's other keywords: huggingface_hub's download keywords (`HUB_KEYWORDS`) and the
            ``__init__`` arguments given huggingface_hub's way.

    Raises:
        HubMixinTypeError: both ``download`` and download keywords other than their defaults are given, or an
            ``__init__`` argument is given both in ``model_kwargs`` and as a keyword.
        HubMixinValueError: ``proxies`` is given (huggingface_hub takes proxies from the environment).
    """
    model_names = _MODEL_ARGUMENTS.get()  # keywords from_pretrained passed as the model's arguments, not options
    is_option = {k: k in HUB_KEYWORDS and k not in model_names for k in keywords}
    extra_model_kwargs = {k: v for k, v in keywords.items() if not is_option[k]}
    keywords = {k: v for k, v in keywords.items() if is_option[k]}
    check_proxies(owner, keywords.get("proxies"))
    # resume_download is ignored, as huggingface_hub does: an interrupted download always resumes
    given = {p.name: keywords[p.name] for p in DOWNLOAD_PARAMS if p.name in keywords}
    if download is None:
        download = DownloadOptions(**given)
    else:
        both = sorted(k for k, v in given.items() if v != getattr(DownloadOptions(), k))
        if both:
            raise HubMixinTypeError(f"{owner} got download= and {both}: give the download options one way")
    if model_kwargs is None:
        return download, dict(extra_model_kwargs)
    clash = sorted(model_kwargs.keys() & extra_model_kwargs.keys())
    if clash:
        raise HubMixinTypeError(f"{owner} got the model arguments {clash} both in model_kwargs and as keywords")
    return download, {**model_kwargs, **extra_model_kwargs}


DEPRECATED_HUB_KEYWORDS = ("proxies", "resume_download", "force_filename", "local_dir_use_symlinks")
"""Keywords of huggingface_hub 0.x that its ``from_pretrained`` still takes and ignores (with a warning)."""


def check_proxies(owner: str, proxies: object) -> None:
    """Refuse ``proxies`` other than ``None``: huggingface_hub >= 1.0 takes them from the environment.

    Raises:
        HubMixinValueError: named by the proxies' keys only (a proxy URL may hold credentials).
    """
    if proxies is not None:
        raise HubMixinValueError(
            f"{owner} does not accept proxies (given for {sorted(proxies) if isinstance(proxies, dict) else '?'}): "
            "huggingface_hub >= 1.0 takes proxies from the environment (HTTP_PROXY, HTTPS_PROXY)"
        )


def drop_deprecated_keywords(owner: str, keywords: dict[str, Any], takes: Callable[[str], bool]) -> None:
    """Remove from ``keywords`` those of :data:`DEPRECATED_HUB_KEYWORDS` that ``__init__`` does not name
    (``takes``), as huggingface_hub's ``from_pretrained`` does: a warning for each one given a value.

    Raises:
        HubMixinValueError: ``proxies`` other than ``None`` (see :func:`check_proxies`).
    """
    for name in DEPRECATED_HUB_KEYWORDS:
        if name not in keywords or takes(name):
            continue
        value = keywords.pop(name)
        if name == "proxies":
            check_proxies(owner, value)
        elif value is not None:
            warn_user(f"{owner}: {name}= is deprecated and ignored, as in huggingface_hub >= 1.0", FutureWarning)
