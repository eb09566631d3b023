"""A legacy ``pytorch_model.bin`` named for a Hub repository as for a folder, and what reading one needs where
hubmixin-torch is not installed; LocalHub's repository names as the Hub client takes them."""

from __future__ import annotations

import dataclasses
import http.client
import importlib.util
import json
import logging
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import huggingface_hub as hf
import numpy as np
import pytest
from huggingface_hub.utils._validators import validate_repo_id
from safetensors.numpy import save_file

from hubmixin_core import DownloadOptions, ModelHubMixin
from hubmixin_core._convert import ConvertError, convert_checkpoint
from hubmixin_core._inspect import inspect_checkpoint
from hubmixin_core.cli import main
from hubmixin_core.errors import ConfigEncodingWarning, MissingArgumentError, WeightsNotFoundError
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights import LoadReport, open_checkpoint
from hubmixin_core.weights._report import HeldReports

_NEEDS_TORCH = "reading it needs hubmixin-torch, which is not installed: pip install hubmixin-torch"
_with_torch = pytest.mark.skipif(
    importlib.util.find_spec("hubmixin_torch") is None, reason="the hint where hubmixin-torch is installed"
)
_with_flax = pytest.mark.skipif(importlib.util.find_spec("hubmixin_flax") is None, reason="converts --to flax")


def _legacy(folder: Path, name: str = "pytorch_model.bin") -> Path:
    """A folder as huggingface_hub's PyTorch mixin saved before safetensors (the bytes are never read)."""
    folder.mkdir()
    (folder / name).write_bytes(b"PK\x03\x04 not read")
    (folder / "config.json").write_text("{}")
    return folder


def _pushed(hub: LocalHub, folder: Path, name: str) -> str:
    repo = f"{hub.username}/{name}"
    hf.create_repo(repo)
    hf.upload_folder(repo_id=repo, folder_path=folder)
    return repo


@pytest.fixture
def no_torch_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """hubmixin-torch not installed: its ``hubmixin.converters`` entry point absent (as in a flax-only install)."""
    real = metadata.entry_points

    def entry_points(**params: Any) -> Any:
        if params != {"group": "hubmixin.converters"}:
            return real(**params)
        return [ep for ep in real(group="hubmixin.converters") if ep.name != "torch"]

    monkeypatch.setattr(metadata, "entry_points", entry_points)


# A Hub repository holding a legacy PyTorch checkpoint


@_with_torch
@pytest.mark.parametrize("name", ["pytorch_model.bin", "pytorch_model.bin.index.json"])
def test_a_hub_repository_holding_a_legacy_checkpoint_is_named_with_the_convert(
    local_hub: LocalHub, tmp_path: Path, name: str
) -> None:
    repo = _pushed(local_hub, _legacy(tmp_path / "legacy", name), "legacy")
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(repo)  # what Flax's and Keras' from_pretrained open
    assert str(info.value) == (
        f"{repo}: found neither model.safetensors nor model.safetensors.index.json: a PyTorch checkpoint ({name}): "
        f"download it (`hf download {repo} --local-dir DIR`), then convert it with "
        "`hubmixin convert DIR DST --to torch|flax|keras`"
    )
    with pytest.raises(WeightsNotFoundError, match=r"--revision main --local-dir DIR"):
        open_checkpoint(repo, DownloadOptions(revision="main"))


@_with_torch
def test_inspect_of_a_hub_repository_without_safetensors_names_the_legacy_checkpoint(
    local_hub: LocalHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _pushed(local_hub, _legacy(tmp_path / "legacy"), "legacy")
    assert main(["inspect", repo]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"hubmixin: error: {repo}: found neither model.safetensors nor")
    assert "NotASafetensorsRepoError" not in error
    assert f"(pytorch_model.bin): download it (`hf download {repo} --local-dir DIR`)" in error
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("no weights")
    plain = _pushed(local_hub, tmp_path / "empty", "empty")
    with pytest.raises(WeightsNotFoundError) as info:
        inspect_checkpoint(plain)
    assert str(info.value) == f"{plain}: found neither model.safetensors nor model.safetensors.index.json"


def test_local_files_only_asks_the_hub_nothing_for_the_hint(local_hub: LocalHub, tmp_path: Path) -> None:
    repo = _pushed(local_hub, _legacy(tmp_path / "legacy"), "legacy")
    with pytest.raises(WeightsNotFoundError, match="hubmixin convert"):
        open_checkpoint(repo)  # online: the cache records model.safetensors and its index as absent
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(repo, DownloadOptions(local_files_only=True))
    assert str(info.value) == f"{repo}: found neither model.safetensors nor model.safetensors.index.json"


# Without hubmixin-torch


def test_the_folder_hint_says_reading_the_checkpoint_needs_hubmixin_torch(
    tmp_path: Path, no_torch_reader: None
) -> None:
    folder = _legacy(tmp_path / "legacy")
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(folder)
    assert str(info.value).endswith(f"--to torch|flax|keras` ({_NEEDS_TORCH})")


@_with_flax
def test_convert_says_reading_the_checkpoint_needs_hubmixin_torch(tmp_path: Path, no_torch_reader: None) -> None:
    folder = _legacy(tmp_path / "legacy")
    with pytest.raises(ConvertError) as info:
        convert_checkpoint(folder, tmp_path / "out", to="flax")
    assert str(info.value) == f"{folder}: a folder holding pytorch_model.bin: {_NEEDS_TORCH}"
    with pytest.raises(ConvertError) as info:
        convert_checkpoint(folder / "pytorch_model.bin", tmp_path / "out", to="flax")
    assert str(info.value) == f"{folder / 'pytorch_model.bin'}: a PyTorch checkpoint: {_NEEDS_TORCH}"
    assert not (tmp_path / "out").exists()


@_with_torch
@_with_flax
def test_with_hubmixin_torch_the_hint_needs_nothing_more(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        open_checkpoint(_legacy(tmp_path / "legacy"))
    assert str(info.value).endswith("--to torch|flax|keras`")
    save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / "x.safetensors"))
    (tmp_path / "other").mkdir()
    with pytest.raises(ConvertError, match="a folder holding no checkpoint hubmixin converts"):
        convert_checkpoint(tmp_path / "other", tmp_path / "out", to="flax")


# LocalHub repository names


@pytest.mark.parametrize("name", ["model_", "_model", "_", "my_model_", "a.b-c_d"])
def test_local_hub_accepts_the_names_the_client_accepts(local_hub: LocalHub, name: str) -> None:
    repo = f"{local_hub.username}/{name}"
    validate_repo_id(repo)
    hf.create_repo(repo)
    assert hf.model_info(repo).id == repo


@pytest.mark.parametrize("name", ["model-", ".model", "a--b", "a..b", "m.git", "x" * 97])
def test_local_hub_refuses_other_names_naming_the_rule(local_hub: LocalHub, name: str) -> None:
    with pytest.raises(hf.errors.HFValidationError):
        validate_repo_id(f"{local_hub.username}/{name}")  # the client refuses them too
    url = urlsplit(local_hub.endpoint)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {local_hub.token}", "Content-Type": "application/json"}
        connection.request("POST", "/api/repos/create", json.dumps({"name": name}).encode(), headers)
        response = connection.getresponse()
        status, body = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert status == 400
    assert body["error"] == (
        f"Invalid repository name {name!r}: up to 96 letters, digits, '-', '_' and '.', neither starting nor ending "
        "with '-' or '.', without '--' or '..', not ending in '.git'"
    )


class _LibraryBase:
    """A base class with an ``__init__`` of its own (``torch.nn.Module``, ``keras.Layer``, a library's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.base_ready = True


@dataclasses.dataclass
class _DataclassModel(_LibraryBase, ModelHubMixin):
    width: int = 3
    name: str = "x"

    def __post_init__(self) -> None:
        super().__init__()

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "weights.txt").write_text(str(self.width))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Any:
        return cls(**model_kwargs)


def test_a_dataclass_model_over_a_base_with_its_own_init_gets_the_dataclass_init(tmp_path: Path) -> None:
    model = _DataclassModel(5, "y")
    assert (model.width, model.name, model.base_ready) == (5, "y", True)  # __post_init__ ran
    assert model._hub_mixin_config == {"width": 5, "name": "y"}
    model.save_pretrained(tmp_path)
    loaded = _DataclassModel.from_pretrained(tmp_path)
    assert (loaded.width, loaded.name, loaded.base_ready) == (5, "y", True)


def test_a_plugin_command_named_like_cores_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """Entry points are found in sys.path order: core's command keeps its name whatever the order."""
    (tmp_path / "dup_cli.py").write_text(
        "def add(subparsers):\n    subparsers.add_parser('convert').set_defaults(func=lambda args: 7)\n"
    )
    info = tmp_path / "dup_cli-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dup-cli\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[hubmixin.commands]\nconvert = dup_cli:add\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "hubmixin_core.cli", "convert", "--help"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and "--to" in done.stdout  # core's convert
    assert "skipping sub-command 'convert' (dup_cli:add, group hubmixin.commands)" in done.stderr
    assert "hubmixin_core.cli:_add_convert already adds 'convert'" in done.stderr


class _NamesCls(ModelHubMixin):
    def __init__(self, cls: int = 1, n: int = 2) -> None:
        self.kind, self.n = cls, n

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "weights.txt").write_text("")

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Any:
        return cls(**model_kwargs)


def test_an_argument_named_cls_is_given_by_keyword_and_round_trips(tmp_path: Path) -> None:
    model = _NamesCls(cls=7)
    assert model.kind == 7 and model._hub_mixin_config == {"cls": 7, "n": 2}
    model.save_pretrained(tmp_path)
    assert _NamesCls.from_pretrained(tmp_path).kind == 7


class _SavedOverWhileLoading(ModelHubMixin):
    """Its first load finds a tensor missing, then a save lands (the load is done again and finds it whole)."""

    attempts = 0

    def __init__(self, width: int = 2) -> None:
        self.width = width

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "weights.txt").write_text(str(self.width))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Any:
        cls.attempts += 1
        if cls.attempts == 1:
            LoadReport(missing=["head.weight"]).log(logging.getLogger("hubmixin_core"), cls.__qualname__, model_id)
            cls(width=3).save_pretrained(model_id)  # lands while this load reads
        return cls(**model_kwargs)


def test_a_load_done_again_says_nothing_of_the_attempt_given_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _SavedOverWhileLoading().save_pretrained(tmp_path)
    with caplog.at_level(logging.WARNING):
        loaded = _SavedOverWhileLoading.from_pretrained(tmp_path)
    assert _SavedOverWhileLoading.attempts == 2 and loaded.width == 3
    assert not [r for r in caplog.records if "keep the model's own initialisation" in r.getMessage()]
    with caplog.at_level(logging.WARNING):  # a report of the load that is kept is logged
        with HeldReports() as held:
            LoadReport(unexpected=["x"]).log(logging.getLogger("hubmixin_core"), "M", "file")
        assert not caplog.records
        held.release()
    assert "1 tensor of file is not used by the model" in caplog.records[-1].getMessage()


class _TakesAFunction(ModelHubMixin):
    def __init__(self, act: Any = None) -> None:
        self.act = act

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "weights.txt").write_text("")


def test_the_advice_for_an_unsaved_function_names_its_type_as_code(tmp_path: Path) -> None:
    with pytest.warns(ConfigEncodingWarning):
        _TakesAFunction(act=len).save_pretrained(tmp_path / "builtin")
    with pytest.raises(MissingArgumentError, match=r"`coders=\{types\.BuiltinFunctionType: \(encode, decode\)\}`"):
        _TakesAFunction.from_pretrained(tmp_path / "builtin")
