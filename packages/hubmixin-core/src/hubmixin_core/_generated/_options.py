# DO NOT EDIT: generated from hubmixin_core/params.py (spec version 1) by `python -m codegen`.
# Change the spec, then run `python -m codegen` from the repository root.
"""Option bundles of the shared download and upload parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubmixin_core.typing import DataclassInstance

__all__ = ["DownloadOptions", "UploadOptions"]


@dataclass(frozen=True, kw_only=True)
class DownloadOptions:
    """Where and how `from_pretrained` downloads files.

    Attributes:
        revision (`str | None`, *optional*, defaults to `None`):
            Revision of the model on the Hub: a branch name, a tag or a commit sha. Defaults to the latest commit on the
            `main` branch. Ignored when loading from a local directory.
        cache_dir (`str | Path | None`, *optional*, defaults to `None`):
            Folder where downloaded files are cached. Defaults to the `huggingface_hub` cache (`HF_HUB_CACHE`).
        force_download (`bool`, *optional*, defaults to `False`):
            Whether to download the files again even if they are already in the cache.
        local_files_only (`bool`, *optional*, defaults to `False`):
            If `True`, never reach the network: use only files already in the cache, and fail if they are not.
        token (`str | bool | None`, *optional*, defaults to `None`):
            Hugging Face access token used as HTTP bearer authorization. `None` uses the token saved by `hf auth login`
            (or `HF_TOKEN`); `False` sends none. Tokens are never written to disk or logged.
        endpoint (`str | None`, *optional*, defaults to `None`):
            Base URL of the Hub to talk to, for a private or enterprise Hub or a local test server. Defaults to
            `HF_ENDPOINT`, or `https://huggingface.co`.
        max_workers (`int`, *optional*, defaults to `8`):
            How many files (weight shards) to download in parallel.
    """

    revision: str | None = None
    cache_dir: str | Path | None = None
    force_download: bool = False
    local_files_only: bool = False
    token: str | bool | None = field(default=None, repr=False)
    endpoint: str | None = None
    max_workers: int = 8


@dataclass(frozen=True, kw_only=True)
class UploadOptions:
    """Where and how `push_to_hub` uploads a model.

    Attributes:
        config (`dict[str, Any] | DataclassInstance | None`, *optional*, defaults to `None`):
            Model configuration as a dict or a dataclass instance. Defaults to the configuration captured from
            `__init__`.
        commit_message (`str`, *optional*, defaults to `"Push model using huggingface_hub."`):
            Message of the commit that uploads the model.
        private (`bool | None`, *optional*, defaults to `None`):
            Whether the repository is created private. `None` uses the Hub's default (public unless the organization
            defaults to private). Has no effect on an existing repository.
        token (`str | None`, *optional*, defaults to `None`):
            Hugging Face access token with write access. `None` uses the token saved by `hf auth login` (or `HF_TOKEN`).
            Tokens are never written to disk or logged.
        branch (`str | None`, *optional*, defaults to `None`):
            Git branch to push to. Defaults to `main`.
        create_pr (`bool | None`, *optional*, defaults to `None`):
            Whether to open a pull request with the commit instead of pushing to the branch directly.
        allow_patterns (`list[str] | str | None`, *optional*, defaults to `None`):
            If given, only files matching at least one of these glob patterns are pushed.
        ignore_patterns (`list[str] | str | None`, *optional*, defaults to `None`):
            If given, files matching any of these glob patterns are not pushed.
        delete_patterns (`list[str] | str | None`, *optional*, defaults to `None`):
            If given, remote files matching any of these glob patterns are deleted in the same commit.
        model_card_kwargs (`dict[str, Any] | None`, *optional*, defaults to `None`):
            Extra values passed to the model card template.
        endpoint (`str | None`, *optional*, defaults to `None`):
            Base URL of the Hub to talk to, for a private or enterprise Hub or a local test server. Defaults to
            `HF_ENDPOINT`, or `https://huggingface.co`.
    """

    config: dict[str, Any] | DataclassInstance | None = None
    commit_message: str = "Push model using huggingface_hub."
    private: bool | None = None
    token: str | None = field(default=None, repr=False)
    branch: str | None = None
    create_pr: bool | None = None
    allow_patterns: list[str] | str | None = None
    ignore_patterns: list[str] | str | None = None
    delete_patterns: list[str] | str | None = None
    model_card_kwargs: dict[str, Any] | None = None
    endpoint: str | None = None
