# DO NOT EDIT: generated from hubmixin_core/params.py (spec version 1) and hubmixin_torch/_extras.py
# by `python -m codegen`. Change either, then run `python -m codegen` from the repository root.
"""Typed public methods of `hubmixin_torch`, generated from the shared parameter spec."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, overload

import torch
from huggingface_hub import CommitInfo

from hubmixin_core._generated._options import DownloadOptions, UploadOptions
from hubmixin_core.typing import DataclassInstance
from hubmixin_torch._impl import TorchHubMixinBase

__all__ = ["PyTorchModelHubMixinMethods"]


class PyTorchModelHubMixinMethods(TorchHubMixinBase):
    """The public `save_pretrained`, `from_pretrained` and `push_to_hub` of `hubmixin_torch`."""

    _hub_extra_defaults: ClassVar[dict[str, Any]] = {
        "map_location": "cpu",
        "strict": False,
        "key_mapping": None,
        "dtype": None,
        "max_shard_size": None,
    }

    @overload
    def save_pretrained(
        self,
        save_directory: str | Path,
        *,
        config: dict[str, Any] | DataclassInstance | None = None,
        repo_id: str | None = None,
        push_to_hub: Literal[False] = False,
        commit_message: str = "Push model using huggingface_hub.",
        private: bool | None = None,
        token: str | None = None,
        branch: str | None = None,
        create_pr: bool | None = None,
        allow_patterns: list[str] | str | None = None,
        ignore_patterns: list[str] | str | None = None,
        delete_patterns: list[str] | str | None = None,
        model_card_kwargs: dict[str, Any] | None = None,
        endpoint: str | None = None,
        max_shard_size: int | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None: ...

    @overload
    def save_pretrained(
        self,
        save_directory: str | Path,
        *,
        config: dict[str, Any] | DataclassInstance | None = None,
        repo_id: str | None = None,
        push_to_hub: Literal[True],
        commit_message: str = "Push model using huggingface_hub.",
        private: bool | None = None,
        token: str | None = None,
        branch: str | None = None,
        create_pr: bool | None = None,
        allow_patterns: list[str] | str | None = None,
        ignore_patterns: list[str] | str | None = None,
        delete_patterns: list[str] | str | None = None,
        model_card_kwargs: dict[str, Any] | None = None,
        endpoint: str | None = None,
        max_shard_size: int | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> CommitInfo: ...

    @overload
    def save_pretrained(
        self,
        save_directory: str | Path,
        *,
        config: dict[str, Any] | DataclassInstance | None = None,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        commit_message: str = "Push model using huggingface_hub.",
        private: bool | None = None,
        token: str | None = None,
        branch: str | None = None,
        create_pr: bool | None = None,
        allow_patterns: list[str] | str | None = None,
        ignore_patterns: list[str] | str | None = None,
        delete_patterns: list[str] | str | None = None,
        model_card_kwargs: dict[str, Any] | None = None,
        endpoint: str | None = None,
        max_shard_size: int | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> CommitInfo | None: ...

    def save_pretrained(
        self,
        save_directory: str | Path,
        *,
        config: dict[str, Any] | DataclassInstance | None = None,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        commit_message: str = "Push model using huggingface_hub.",
        private: bool | None = None,
        token: str | None = None,
        branch: str | None = None,
        create_pr: bool | None = None,
        allow_patterns: list[str] | str | None = None,
        ignore_patterns: list[str] | str | None = None,
        delete_patterns: list[str] | str | None = None,
        model_card_kwargs: dict[str, Any] | None = None,
        endpoint: str | None = None,
        max_shard_size: int | str | None = None,
        dtype: torch.dtype | None = None,
        **push_to_hub_kwargs: Any,
    ) -> CommitInfo | None:
        """Save the model's weights, `config.json` and model card to a local directory.

        Args:
            save_directory (`str | Path`):
                Directory to save the model in. It is written completely or left untouched.
            config (`dict[str, Any] | DataclassInstance | None`, *optional*, defaults to `None`):
                Model configuration as a dict or a dataclass instance. Defaults to the configuration captured from
                `__init__`.
            repo_id (`str | None`, *optional*, defaults to `None`):
                Repository to push to when `push_to_hub=True`. Defaults to the name of `save_directory`.
            push_to_hub (`bool`, *optional*, defaults to `False`):
                Whether to push the saved model to the Hub after saving it.
            commit_message (`str`, *optional*, defaults to `"Push model using huggingface_hub."`):
                Message of the commit that uploads the model.
            private (`bool | None`, *optional*, defaults to `None`):
                Whether the repository is created private. `None` uses the Hub's default (public unless the organization
                defaults to private). Has no effect on an existing repository.
            token (`str | None`, *optional*, defaults to `None`):
                Hugging Face access token with write access. `None` uses the token saved by `hf auth login` (or
                `HF_TOKEN`). Tokens are never written to disk or logged.
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
            max_shard_size (`int | str | None`, *optional*, defaults to `None`):
                Largest weights file to write, in bytes or as a string (`"5GB"`, `"500MiB"`). A model larger than this
                is written as `model-0000i-of-0000n.safetensors` shards plus `model.safetensors.index.json`, as
                transformers does; a smaller one stays a single `model.safetensors`. `None` always writes a single file
                (the one `huggingface_hub.PyTorchModelHubMixin` reads).
            dtype (`torch.dtype | None`, *optional*, defaults to `None`):
                Floating-point dtype to save the weights as (`torch.float16`, `torch.bfloat16`, ...); integer and
                boolean tensors are saved as they are. The model itself is not changed. `None` saves each tensor in its
                current dtype.
            **push_to_hub_kwargs (`Any`):
                With `push_to_hub=True`, more keywords for `push_to_hub`, which `save_pretrained` calls at the end (as
                huggingface_hub does), so a class overriding `push_to_hub` receives them. Accepted at run time only:
                type checkers flag them, as they flag a misspelled option.

        Returns:
            `CommitInfo` of the upload (a `str`: the commit URL) if `push_to_hub=True`, else `None`.

        Raises:
            ConfigError: the configuration cannot be written as JSON.
            WeightsError: the framework cannot write the weights (the directory is left untouched).
        """
        return self._hub_save(
            save_directory,
            repo_id=repo_id,
            push_to_hub=push_to_hub,
            upload=UploadOptions(
                config=config,
                commit_message=commit_message,
                private=private,
                token=token,
                branch=branch,
                create_pr=create_pr,
                allow_patterns=allow_patterns,
                ignore_patterns=ignore_patterns,
                delete_patterns=delete_patterns,
                model_card_kwargs=model_card_kwargs,
                endpoint=endpoint,
            ),
            save_kwargs={"max_shard_size": max_shard_size, "dtype": dtype},
            push_kwargs=push_to_hub_kwargs,
        )

    if TYPE_CHECKING:  # no **init_kwargs: a keyword that is no option is a type error

        @classmethod
        def from_pretrained(
            cls,
            pretrained_model_name_or_path: str | Path,
            *,
            revision: str | None = None,
            cache_dir: str | Path | None = None,
            force_download: bool = False,
            local_files_only: bool = False,
            token: str | bool | None = None,
            endpoint: str | None = None,
            max_workers: int = 8,
            map_location: str | torch.device | None = "cpu",
            strict: bool = False,
            key_mapping: Mapping[str, str] | None = None,
            dtype: torch.dtype | None = None,
            model_kwargs: Mapping[str, Any] | None = None,
        ) -> Self:
            """Load a model from the Hub or from a local directory, with its configuration.

            Args:
                pretrained_model_name_or_path (`str | Path`):
                    A repo id on the Hub (`user/model`) or a local directory written by `save_pretrained`.
                revision (`str | None`, *optional*, defaults to `None`):
                    Revision of the model on the Hub: a branch name, a tag or a commit sha. Defaults to the latest
                    commit on the `main` branch. Ignored when loading from a local directory.
                cache_dir (`str | Path | None`, *optional*, defaults to `None`):
                    Folder where downloaded files are cached. Defaults to the `huggingface_hub` cache (`HF_HUB_CACHE`).
                force_download (`bool`, *optional*, defaults to `False`):
                    Whether to download the files again even if they are already in the cache.
                local_files_only (`bool`, *optional*, defaults to `False`):
                    If `True`, never reach the network: use only files already in the cache, and fail if they are not.
                token (`str | bool | None`, *optional*, defaults to `None`):
                    Hugging Face access token used as HTTP bearer authorization. `None` uses the token saved by `hf auth
                    login` (or `HF_TOKEN`); `False` sends none. Tokens are never written to disk or logged.
                endpoint (`str | None`, *optional*, defaults to `None`):
                    Base URL of the Hub to talk to, for a private or enterprise Hub or a local test server. Defaults to
                    `HF_ENDPOINT`, or `https://huggingface.co`.
                max_workers (`int`, *optional*, defaults to `8`):
                    How many files (weight shards) to download in parallel.
                map_location (`str | torch.device | None`, *optional*, defaults to `"cpu"`):
                    Device the model is loaded on (`"cpu"`, `"cuda:0"`, a `torch.device`, or `"meta"` to read only the
                    shapes; `None` is the CPU, as for huggingface_hub's mixin). Weights are read straight onto it: on
                    CPU they are memory-mapped from the file, not copied. Every parameter and buffer of the returned
                    model is on this device.
                strict (`bool`, *optional*, defaults to `False`):
                    Whether the checkpoint must match the model exactly. If `True`, missing or unexpected keys raise
                    `WeightsKeyError` and a dtype other than the model's raises `WeightsDtypeError` (unless `dtype` is
                    given); if `False`, missing weights keep the model's own initialisation and both lists are logged as
                    a warning, unless they would take more bytes than the checkpoint's tensors (and than 256 MiB): then
                    `WeightsKeyError` names them before anything is allocated, so a config asking for a larger model
                    than its weights is refused. A shape mismatch raises `WeightsShapeError` either way.
                key_mapping (`Mapping[str, str] | None`, *optional*, defaults to `None`):
                    Renames the checkpoint's tensors before they are matched to the model, as transformers'
                    `key_mapping` does: each checkpoint name is rewritten with `re.subn` by the first `pattern:
                    replacement` pair, in order, whose pattern matches it (`{r"^encoder\\.attn\\.": "enc.attention."}`);
                    the later pairs are not applied to the result. Layer settings are compared under the new names. For
                    two ports of a model whose attribute names differ. Two names renamed to the same one raise
                    `WeightsKeyError`. The files are not changed.
                dtype (`torch.dtype | None`, *optional*, defaults to `None`):
                    Floating-point dtype to load the model in (`torch.float16`, `torch.bfloat16`, ...): every floating
                    parameter and buffer is converted, integer and boolean ones are left as they are. `None` keeps the
                    dtypes the model's `__init__` gives them.
                model_kwargs (`Mapping[str, Any] | None`, *optional*, defaults to `None`):
                    Keyword arguments for the model's `__init__`, overriding values read from `config.json`.
                **init_kwargs (`Any`):
                    More keyword arguments for the model's `__init__`, as `model_kwargs` gives them (not both for one
                    argument). Accepted at run time only, for compatibility with `huggingface_hub`: type checkers flag
                    them, as they flag a misspelled option, whatever the value's type. Prefer `model_kwargs`.

            Returns:
                An instance of the class this is called on.

            Raises:
                WeightsNotFoundError: the directory or repository holds no weights, or a local path does not exist.
                WeightsError: the weights do not fit the model (the message names the key, shape, dtype or file).
                ConfigError: `config.json` is not a JSON object.
                huggingface_hub.errors.RepositoryNotFoundError: the repository does not exist or is private.
                huggingface_hub.errors.RevisionNotFoundError: the revision does not exist.
            """
            ...

    else:  # __init__ arguments given as keywords are accepted, as huggingface_hub accepts them

        @classmethod
        def from_pretrained(
            cls,
            pretrained_model_name_or_path: str | Path,
            *,
            revision: str | None = None,
            cache_dir: str | Path | None = None,
            force_download: bool = False,
            local_files_only: bool = False,
            token: str | bool | None = None,
            endpoint: str | None = None,
            max_workers: int = 8,
            map_location: str | torch.device | None = "cpu",
            strict: bool = False,
            key_mapping: Mapping[str, str] | None = None,
            dtype: torch.dtype | None = None,
            model_kwargs: Mapping[str, Any] | None = None,
            **init_kwargs: Any,
        ) -> Self:
            """Load a model from the Hub or from a local directory, with its configuration.

            Args:
                pretrained_model_name_or_path (`str | Path`):
                    A repo id on the Hub (`user/model`) or a local directory written by `save_pretrained`.
                revision (`str | None`, *optional*, defaults to `None`):
                    Revision of the model on the Hub: a branch name, a tag or a commit sha. Defaults to the latest
                    commit on the `main` branch. Ignored when loading from a local directory.
                cache_dir (`str | Path | None`, *optional*, defaults to `None`):
                    Folder where downloaded files are cached. Defaults to the `huggingface_hub` cache (`HF_HUB_CACHE`).
                force_download (`bool`, *optional*, defaults to `False`):
                    Whether to download the files again even if they are already in the cache.
                local_files_only (`bool`, *optional*, defaults to `False`):
                    If `True`, never reach the network: use only files already in the cache, and fail if they are not.
                token (`str | bool | None`, *optional*, defaults to `None`):
                    Hugging Face access token used as HTTP bearer authorization. `None` uses the token saved by `hf auth
                    login` (or `HF_TOKEN`); `False` sends none. Tokens are never written to disk or logged.
                endpoint (`str | None`, *optional*, defaults to `None`):
                    Base URL of the Hub to talk to, for a private or enterprise Hub or a local test server. Defaults to
                    `HF_ENDPOINT`, or `https://huggingface.co`.
                max_workers (`int`, *optional*, defaults to `8`):
                    How many files (weight shards) to download in parallel.
                map_location (`str | torch.device | None`, *optional*, defaults to `"cpu"`):
                    Device the model is loaded on (`"cpu"`, `"cuda:0"`, a `torch.device`, or `"meta"` to read only the
                    shapes; `None` is the CPU, as for huggingface_hub's mixin). Weights are read straight onto it: on
                    CPU they are memory-mapped from the file, not copied. Every parameter and buffer of the returned
                    model is on this device.
                strict (`bool`, *optional*, defaults to `False`):
                    Whether the checkpoint must match the model exactly. If `True`, missing or unexpected keys raise
                    `WeightsKeyError` and a dtype other than the model's raises `WeightsDtypeError` (unless `dtype` is
                    given); if `False`, missing weights keep the model's own initialisation and both lists are logged as
                    a warning, unless they would take more bytes than the checkpoint's tensors (and than 256 MiB): then
                    `WeightsKeyError` names them before anything is allocated, so a config asking for a larger model
                    than its weights is refused. A shape mismatch raises `WeightsShapeError` either way.
                key_mapping (`Mapping[str, str] | None`, *optional*, defaults to `None`):
                    Renames the checkpoint's tensors before they are matched to the model, as transformers'
                    `key_mapping` does: each checkpoint name is rewritten with `re.subn` by the first `pattern:
                    replacement` pair, in order, whose pattern matches it (`{r"^encoder\\.attn\\.": "enc.attention."}`);
                    the later pairs are not applied to the result. Layer settings are compared under the new names. For
                    two ports of a model whose attribute names differ. Two names renamed to the same one raise
                    `WeightsKeyError`. The files are not changed.
                dtype (`torch.dtype | None`, *optional*, defaults to `None`):
                    Floating-point dtype to load the model in (`torch.float16`, `torch.bfloat16`, ...): every floating
                    parameter and buffer is converted, integer and boolean ones are left as they are. `None` keeps the
                    dtypes the model's `__init__` gives them.
                model_kwargs (`Mapping[str, Any] | None`, *optional*, defaults to `None`):
                    Keyword arguments for the model's `__init__`, overriding values read from `config.json`.
                **init_kwargs (`Any`):
                    More keyword arguments for the model's `__init__`, as `model_kwargs` gives them (not both for one
                    argument). Accepted at run time only, for compatibility with `huggingface_hub`: type checkers flag
                    them, as they flag a misspelled option, whatever the value's type. Prefer `model_kwargs`.

            Returns:
                An instance of the class this is called on.

            Raises:
                WeightsNotFoundError: the directory or repository holds no weights, or a local path does not exist.
                WeightsError: the weights do not fit the model (the message names the key, shape, dtype or file).
                ConfigError: `config.json` is not a JSON object.
                huggingface_hub.errors.RepositoryNotFoundError: the repository does not exist or is private.
                huggingface_hub.errors.RevisionNotFoundError: the revision does not exist.
            """
            return cls._hub_load(
                pretrained_model_name_or_path,
                download=DownloadOptions(
                    revision=revision,
                    cache_dir=cache_dir,
                    force_download=force_download,
                    local_files_only=local_files_only,
                    token=token,
                    endpoint=endpoint,
                    max_workers=max_workers,
                ),
                load_kwargs={
                    "map_location": map_location,
                    "strict": strict,
                    "key_mapping": key_mapping,
                    "dtype": dtype,
                },
                model_kwargs=cls._hub_model_kwargs(model_kwargs, init_kwargs),
            )

    def push_to_hub(
        self,
        repo_id: str,
        *,
        config: dict[str, Any] | DataclassInstance | None = None,
        commit_message: str = "Push model using huggingface_hub.",
        private: bool | None = None,
        token: str | None = None,
        branch: str | None = None,
        create_pr: bool | None = None,
        allow_patterns: list[str] | str | None = None,
        ignore_patterns: list[str] | str | None = None,
        delete_patterns: list[str] | str | None = None,
        model_card_kwargs: dict[str, Any] | None = None,
        endpoint: str | None = None,
        max_shard_size: int | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> CommitInfo:
        """Save the model to a temporary directory and upload it to the Hub in one commit.

        Args:
            repo_id (`str`):
                Repository to push to (`user/model`); created if it does not exist.
            config (`dict[str, Any] | DataclassInstance | None`, *optional*, defaults to `None`):
                Model configuration as a dict or a dataclass instance. Defaults to the configuration captured from
                `__init__`.
            commit_message (`str`, *optional*, defaults to `"Push model using huggingface_hub."`):
                Message of the commit that uploads the model.
            private (`bool | None`, *optional*, defaults to `None`):
                Whether the repository is created private. `None` uses the Hub's default (public unless the organization
                defaults to private). Has no effect on an existing repository.
            token (`str | None`, *optional*, defaults to `None`):
                Hugging Face access token with write access. `None` uses the token saved by `hf auth login` (or
                `HF_TOKEN`). Tokens are never written to disk or logged.
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
            max_shard_size (`int | str | None`, *optional*, defaults to `None`):
                Largest weights file to write, in bytes or as a string (`"5GB"`, `"500MiB"`). A model larger than this
                is written as `model-0000i-of-0000n.safetensors` shards plus `model.safetensors.index.json`, as
                transformers does; a smaller one stays a single `model.safetensors`. `None` always writes a single file
                (the one `huggingface_hub.PyTorchModelHubMixin` reads).
            dtype (`torch.dtype | None`, *optional*, defaults to `None`):
                Floating-point dtype to save the weights as (`torch.float16`, `torch.bfloat16`, ...); integer and
                boolean tensors are saved as they are. The model itself is not changed. `None` saves each tensor in its
                current dtype.

        Returns:
            `CommitInfo` of the upload: a `str` holding the commit URL, with `.oid` and `.pr_url`.

        Raises:
            huggingface_hub.errors.HfHubHTTPError: the Hub refused the upload (e.g. no write access).
        """
        return self._hub_push(
            repo_id,
            upload=UploadOptions(
                config=config,
                commit_message=commit_message,
                private=private,
                token=token,
                branch=branch,
                create_pr=create_pr,
                allow_patterns=allow_patterns,
                ignore_patterns=ignore_patterns,
                delete_patterns=delete_patterns,
                model_card_kwargs=model_card_kwargs,
                endpoint=endpoint,
            ),
            save_kwargs={"max_shard_size": max_shard_size, "dtype": dtype},
        )
