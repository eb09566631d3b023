"""The check that a push never publishes the token it authenticates with (a model argument holding it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import get_token
from huggingface_hub.utils._paths import filter_repo_objects

from hubmixin_core._generated._options import UploadOptions
from hubmixin_core.errors import HubMixinValueError
from hubmixin_core.weights._names import CONFIG_NAME, is_weights_file

__all__ = ["refuse_published_token"]

_SCANNED_SIZE = 64 * 2**20
"""Files larger than this (weights in a format of the library's own) are not read for the token."""
_SHORT = 8
"""A token shorter than this is looked for only as a whole value of config.json (a substring would match too much)."""


def refuse_published_token(owner: str, folder: Path, upload: UploadOptions) -> None:
    """Refuse to push ``folder`` when a file of it that the push uploads (by ``upload``'s ``allow_patterns`` and
    ``ignore_patterns``: config.json, the model card, a library's own files; not the weights) holds the token the
    push authenticates with (``upload.token``, or the one the client finds, as it resolves it): a model argument
    holding it would publish it. The message names the files and config.json's keys, never the token.

    Raises:
        HubMixinValueError: before anything is uploaded.
    """
    secret = _token_sent(upload.token)
    if not secret:
        return
    uploaded = set(
        filter_repo_objects(
            _files(folder), allow_patterns=upload.allow_patterns, ignore_patterns=upload.ignore_patterns
        )
    )
    scanned = [name for name in _scanned(folder) if name in uploaded]
    files = [] if len(secret) < _SHORT else [name for name in scanned if _holds(folder / name, secret)]
    keys = _config_keys_holding(folder / CONFIG_NAME, secret) if CONFIG_NAME in uploaded else []
    if keys and CONFIG_NAME not in files:
        files.insert(0, CONFIG_NAME)
    if not files:
        return
    where = ", ".join(f"{name} (keys {keys})" if name == CONFIG_NAME and keys else name for name in files)
    advice = (
        "a model argument holding a token is saved like any other: declare it with the class keyword "
        f"runtime_args={keys} (never saved; given again at load), or build the model without it"
        if keys
        else "take the token out of what writes them (model_card_kwargs, the class's card template, the files its "
        "save_pretrained writes)"
    )
    raise HubMixinValueError(
        f"{owner}.push_to_hub: {where} would publish the token this push authenticates with; nothing was "
        f"uploaded: {advice}"
    )


def _token_sent(token: str | bool | None) -> str | None:
    """The token the Hub client sends for ``token`` (its own rule: a string, else the stored one unless ``False``)."""
    if isinstance(token, str):
        return token
    return None if token is False else get_token()


def _files(folder: Path) -> list[str]:
    """The files of ``folder`` (relative POSIX names), as the upload matches its patterns against them."""
    return [path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()]


def _scanned(folder: Path) -> list[str]:
    """The files of ``folder`` that are read for the token (relative POSIX names, sorted)."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and not is_weights_file(path.name) and path.stat().st_size <= _SCANNED_SIZE
    )


def _holds(path: Path, secret: str) -> bool:
    return secret.encode() in path.read_bytes()


def _config_keys_holding(path: Path, secret: str) -> list[str]:
    """The top-level keys of the JSON object in ``path`` whose values hold ``secret`` (a short one: are it)."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(config, dict):
        return []
    return sorted(key for key, value in config.items() if _value_holds(value, secret))


def _value_holds(value: Any, secret: str) -> bool:
    if isinstance(value, str):
        return secret in value if len(secret) >= _SHORT else value == secret
    if isinstance(value, dict):
        return any(_value_holds(v, secret) for v in value.values())
    if isinstance(value, list):
        return any(_value_holds(v, secret) for v in value)
    return False
