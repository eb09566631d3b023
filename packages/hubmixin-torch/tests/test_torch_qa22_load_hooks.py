"""A subclass overriding huggingface_hub's ``_load_as_safetensor`` / ``_load_as_pickle`` (lerobot's policies do, to
rename a checkpoint's keys) is loaded through its override by ``from_pretrained``, as huggingface_hub loads it."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
import safetensors
import safetensors.torch
import torch
from huggingface_hub import HfApi

from hubmixin_core import ModelHubMixin
from hubmixin_core.errors import HubMixinTypeError
from hubmixin_core.testing import LocalHub
from hubmixin_torch import PyTorchModelHubMixin

_M = TypeVar("_M")
_T = TypeVar("_T", bound=ModelHubMixin)  # huggingface_hub's T: an override calling super() declares it


def _renamed(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.replace("net.", "model."): v for k, v in state.items()}


class Renaming(torch.nn.Module, PyTorchModelHubMixin):
    """Files hold ``net.*`` where the model has ``model.*``: the overrides below rename them."""

    calls: ClassVar[list[tuple[str, str, str, bool]]] = []

    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.model = torch.nn.Linear(n, n)


class Policy(Renaming):
    """Overrides both hooks."""

    @classmethod
    def _load_as_safetensor(cls, model: _M, model_file: str, map_location: str, strict: bool) -> _M:
        cls.calls.append(("safetensor", Path(model_file).name, map_location, strict))
        state = safetensors.torch.load_file(model_file, device=map_location)
        model.load_state_dict(_renamed(state), strict=strict)  # type: ignore[attr-defined]
        return model  # not put in eval mode: neither is it by huggingface_hub's loader

    @classmethod
    def _load_as_pickle(cls, model: _M, model_file: str, map_location: str, strict: bool) -> _M:
        cls.calls.append(("pickle", Path(model_file).name, map_location, strict))
        state = torch.load(model_file, map_location=map_location, weights_only=True)
        model.load_state_dict(_renamed(state), strict=strict)  # type: ignore[attr-defined]
        return model.eval()  # type: ignore[attr-defined,no-any-return]


class SafetensorsOnly(Renaming):
    """Overrides ``_load_as_safetensor`` alone: a ``pytorch_model.bin`` loads through hubmixin's own loader."""

    _load_as_safetensor = Policy._load_as_safetensor


def _old_files(directory: Path, *, pickled: bool) -> dict[str, torch.Tensor]:
    """A checkpoint of ``Policy`` under its former names (``net.*``) in ``directory``, with a config."""
    Policy(n=3).save_pretrained(directory)
    (directory / "model.safetensors").unlink()
    state = {"net.weight": torch.arange(9.0).reshape(3, 3), "net.bias": torch.full((3,), 7.0)}
    if pickled:
        torch.save(state, directory / "pytorch_model.bin")
    else:
        safetensors.torch.save_file(state, directory / "model.safetensors")
    return state


def _source(where: str, directory: Path, hub: LocalHub | None) -> str:
    if where == "local":
        return str(directory)
    assert hub is not None
    repo_id = HfApi().create_repo(f"{hub.username}/{directory.name}").repo_id
    HfApi().upload_folder(folder_path=directory, repo_id=repo_id)
    return repo_id


@pytest.fixture(params=["local", "hub"])
def where(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def hub(where: str, request: pytest.FixtureRequest) -> LocalHub | None:
    return request.getfixturevalue("local_hub") if where == "hub" else None


@pytest.mark.parametrize(
    ("pickled", "hook", "file"), [(False, "safetensor", "model.safetensors"), (True, "pickle", "pytorch_model.bin")]
)
def test_the_override_loads_the_single_file(
    pickled: bool, hook: str, file: str, where: str, hub: LocalHub | None, tmp_path: Path
) -> None:
    directory = tmp_path / f"old-{hook}"
    state = _old_files(directory, pickled=pickled)
    Policy.calls.clear()
    loaded = Policy.from_pretrained(_source(where, directory, hub))
    assert Policy.calls == [(hook, file, "cpu", False)]
    assert torch.equal(loaded.model.weight, state["net.weight"])
    assert torch.equal(loaded.model.bias, state["net.bias"])
    assert loaded.training is not pickled  # the model as the override returns it


def test_options_reach_the_override(tmp_path: Path) -> None:
    _old_files(tmp_path, pickled=False)
    Policy.calls.clear()
    loaded = Policy.from_pretrained(tmp_path, map_location=torch.device("cpu"), strict=True, model_kwargs={"n": 3})
    assert Policy.calls == [("safetensor", "model.safetensors", "cpu", True)]
    assert loaded.model.in_features == 3


@pytest.mark.parametrize("option", [{"dtype": torch.float16}, {"key_mapping": {"net.": "model."}}])
def test_an_option_the_override_cannot_apply_is_refused(option: dict[str, Any], tmp_path: Path) -> None:
    _old_files(tmp_path, pickled=False)
    with pytest.raises(
        HubMixinTypeError, match=rf"{next(iter(option))} cannot apply: Policy overrides _load_as_safetensor"
    ):
        Policy.from_pretrained(tmp_path, **option)


def test_a_file_of_the_hook_not_overridden_loads_through_hubmixin(tmp_path: Path) -> None:
    saved = SafetensorsOnly(n=3)
    torch.save(saved.state_dict(), tmp_path / "pytorch_model.bin")
    SafetensorsOnly.calls.clear()
    loaded = SafetensorsOnly.from_pretrained(tmp_path, strict=True)
    assert SafetensorsOnly.calls == []
    assert torch.equal(loaded.model.weight, saved.model.weight)
    assert not loaded.training


def test_shards_load_without_the_override(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    saved = Policy(n=16)
    saved.save_pretrained(tmp_path, max_shard_size="1KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    Policy.calls.clear()
    with caplog.at_level(logging.WARNING, logger="hubmixin_torch"):
        loaded = Policy.from_pretrained(tmp_path, strict=True)
    assert Policy.calls == []
    assert torch.equal(loaded.model.weight, saved.model.weight)
    assert "Policy overrides _load_as_safetensor, which loads one file: the shards of" in caplog.text


class TiedLM(torch.nn.Module, PyTorchModelHubMixin):
    """Ties made by a ``tie_weights()`` taking no arguments (transformers'), outside ``__init__``."""

    def __init__(self, vocab: int = 10, dim: int = 4) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)
        self.head = torch.nn.Linear(dim, vocab, bias=False)

    def tie_weights(self) -> None:
        self.head.weight = self.emb.weight


class TiedPassThrough(TiedLM):
    @classmethod
    def _load_as_safetensor(cls, model: _T, model_file: str, map_location: str, strict: bool) -> _T:
        return super()._load_as_safetensor(model, model_file, map_location, strict)


class TiedSafetensorsHook(TiedLM):
    @classmethod
    def _load_as_safetensor(cls, model: _M, model_file: str, map_location: str, strict: bool) -> _M:
        safetensors.torch.load_model(model, model_file, strict=strict, device=map_location)  # type: ignore[arg-type]
        return model  # (lerobot's)


@pytest.mark.parametrize("cls", [TiedPassThrough, TiedSafetensorsHook])
@pytest.mark.parametrize("strict", [False, True])
def test_tie_weights_is_called_before_the_override_loads(cls: type[TiedLM], strict: bool, tmp_path: Path) -> None:
    saved = cls()
    saved.tie_weights()
    saved.save_pretrained(tmp_path)
    with safetensors.safe_open(tmp_path / "model.safetensors", "pt") as file:
        assert list(file.keys()) == ["emb.weight"]
    loaded = cls.from_pretrained(tmp_path, strict=strict)
    assert loaded.head.weight is loaded.emb.weight
    assert torch.equal(loaded.emb.weight, saved.emb.weight)


def test_an_empty_key_mapping_is_no_renaming(tmp_path: Path) -> None:
    _old_files(tmp_path, pickled=False)
    Policy.calls.clear()
    Policy.from_pretrained(tmp_path, key_mapping={})
    assert Policy.calls == [("safetensor", "model.safetensors", "cpu", False)]


def test_a_dtype_an_encoder_override_alone_writes_as_text_is_saved_by_hubmixin_and_read_as_saved(
    tmp_path: Path,
) -> None:
    class Net(torch.nn.Module, PyTorchModelHubMixin):
        @classmethod
        def _is_jsonable(cls, value: Any) -> bool:
            return isinstance(value, torch.dtype) or super()._is_jsonable(value)

        @classmethod
        def _encode_arg(cls, arg: Any) -> Any:
            return str(arg) if isinstance(arg, torch.dtype) else super()._encode_arg(arg)

        def __init__(self, n: int = 2, dtype: torch.dtype = torch.float32) -> None:
            super().__init__()
            if isinstance(dtype, str):  # (huggingface_hub gives it so: "torch.bfloat16")
                dtype = getattr(torch, dtype.removeprefix("torch."))
            self.fc = torch.nn.Linear(n, n, dtype=dtype)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Net(dtype=torch.bfloat16).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["dtype"] == "bfloat16"  # (hubmixin's rule: the hook has only what hubmixin cannot encode)
    assert Net.from_pretrained(tmp_path).fc.weight.dtype == torch.bfloat16
    (tmp_path / "config.json").write_text(json.dumps({**config, "dtype": "torch.bfloat16"}))  # (as hf saves it)
    assert Net.from_pretrained(tmp_path).fc.weight.dtype == torch.bfloat16  # (given to __init__ as saved)
