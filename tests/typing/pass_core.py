"""Positive typing cases for hubmixin_core: checked by mypy --strict and pyright (no errors allowed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self, assert_type

from huggingface_hub import CommitInfo

from hubmixin_core import DownloadOptions, ModelHubMixin


class Model(ModelHubMixin, library_name="typed-lib", tags=["x"]):
    def __init__(self, size: int = 1) -> None:
        self.size = size

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "w.txt").write_text(str(self.size))

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        **model_kwargs: Any,
    ) -> Self:
        return cls(**model_kwargs)


class SubModel(Model):
    pass


class LoggingModel(Model):
    """A ``save_pretrained`` override in huggingface_hub's style, its return declared ``Any`` (docs/differences.md)."""

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> Any:
        return super().save_pretrained(save_directory, **kwargs)


class OptionsModel(ModelHubMixin, runtime_args=["rng"]):
    """The loader options as one argument, the model's arguments as one dict."""

    def __init__(self, revision: str = "v1", rng: object = None) -> None:
        self.revision = revision

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        assert_type(download.revision, str | None)
        return cls(**model_kwargs)


def check(model: Model, flag: bool) -> None:
    assert_type(OptionsModel.from_pretrained("user/model", model_kwargs={"revision": "v2"}), OptionsModel)
    assert_type(Model.from_pretrained("user/model"), Model)
    frozen: Mapping[str, Any] = MappingProxyType({"size": 2})  # any mapping, a TypedDict too
    assert_type(Model.from_pretrained("user/model", model_kwargs=frozen), Model)
    assert_type(SubModel.from_pretrained(Path("dir"), revision="main", token=False), SubModel)
    assert_type(
        Model.from_pretrained(
            "user/model",
            revision="v1",
            cache_dir=Path("cache"),
            force_download=True,
            local_files_only=False,
            token="hf_x",
            endpoint="http://127.0.0.1:8080",
            max_workers=4,
            model_kwargs={"size": 2},
        ),
        Model,
    )
    assert_type(model.save_pretrained("out"), None)
    assert_type(model.save_pretrained("out", push_to_hub=True, repo_id="u/m"), CommitInfo)
    assert_type(model.save_pretrained("out", push_to_hub=flag), CommitInfo | None)
    assert_type(
        model.push_to_hub(
            "u/m",
            config={"size": 1},
            commit_message="msg",
            private=True,
            token="hf_x",
            branch="dev",
            create_pr=False,
            allow_patterns=["*.txt"],
            ignore_patterns="*.bin",
            delete_patterns=None,
            model_card_kwargs={"k": "v"},
            endpoint=None,
        ),
        CommitInfo,
    )
