"""Point the ``huggingface_hub`` client at a local Hub for a while, then restore its settings."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["configure_client"]

_UNSET = object()
_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's reading of a boolean variable


def _default_xet() -> bool:
    """Xet stays on unless the user switched it off (as the client reads the variable) or it cannot run here."""
    from hubmixin_core.testing.xet import xet_available

    disabled = os.environ.get("HF_HUB_DISABLE_XET", "").upper() in _TRUE
    return not disabled and xet_available()


@contextmanager
def configure_client(
    endpoint: str,
    *,
    token: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    xet: bool | None = None,
) -> Iterator[Path]:
    """Make ``huggingface_hub`` talk to ``endpoint`` with ``token`` and a private cache, until the block ends.

    Sets the variables (``HF_ENDPOINT``, ``HF_TOKEN``, ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_DISABLE_XET``
    ...) and, because the client reads them once at import, the matching ``huggingface_hub.constants`` and
    the endpoint of the module-level ``HfApi`` behind ``huggingface_hub.upload_file`` and friends. ``xet``:
    ``True`` leaves Xet on (large files go through the local Hub's Xet storage, as with the real Hub),
    ``False`` switches it off (plain LFS), ``None`` keeps it on when the Xet storage can run here (the
    ``hubmixin-core[hub]`` extra is installed) unless the environment switches it off, as it does for the
    client (``HF_HUB_DISABLE_XET=1``). Everything is restored on exit. Yields the client's home
    folder (``cache_dir``, or a temporary folder removed on exit).

    Not thread-safe: it changes process-wide settings.
    """
    from huggingface_hub import constants, hf_api
    from huggingface_hub.utils import _http

    endpoint = endpoint.rstrip("/")
    if xet is None:
        xet = _default_xet()
    temp_home = cache_dir is None
    home = Path(tempfile.mkdtemp(prefix="localhub-client-")) if cache_dir is None else Path(cache_dir)
    home.mkdir(parents=True, exist_ok=True)
    hub_cache = str(home / "hub")
    env: dict[str, str | None] = {
        "HF_ENDPOINT": endpoint,
        "HF_TOKEN": token,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": hub_cache,
        "HF_XET_CACHE": str(home / "xet"),
        "HF_HUB_DISABLE_XET": None if xet else "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": None,
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": None,
        "HUGGING_FACE_HUB_TOKEN": None,
        "HF_OIDC_RESOURCE": None,
    }
    attrs: dict[str, object] = {
        "ENDPOINT": endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(home),
        "HF_HUB_CACHE": hub_cache,
        "HUGGINGFACE_HUB_CACHE": hub_cache,
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HUGGINGFACE_ASSETS_CACHE": str(home / "assets"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "AGENT_HARNESSES_PATH": str(home / ".agent_harnesses.json"),
        "HF_HUB_DISABLE_XET": not xet,
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": False,
    }
    old_env = {name: os.environ.get(name) for name in env}
    old_attrs = {name: getattr(constants, name, _UNSET) for name in attrs}
    old_api_endpoint = hf_api.api.endpoint
    try:
        for name, env_value in env.items():
            if env_value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = env_value
        for name, attr_value in attrs.items():
            if old_attrs[name] is not _UNSET:
                setattr(constants, name, attr_value)
        hf_api.api.endpoint = endpoint
        _http.close_session()  # drop pooled connections to whatever was configured before
        yield home
    finally:
        _http.close_session()
        hf_api.api.endpoint = old_api_endpoint
        for name, saved_attr in old_attrs.items():
            if saved_attr is not _UNSET:
                setattr(constants, name, saved_attr)
        for name, saved in old_env.items():
            if saved is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = saved
        if temp_home:
            shutil.rmtree(home, ignore_errors=True)
