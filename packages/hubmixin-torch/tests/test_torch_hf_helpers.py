"""huggingface_hub's ``_load_as_safetensor`` / ``_load_as_pickle``, as ``_from_pretrained`` overrides call them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import pytest
import safetensors.torch
import torch
from huggingface_hub import HfApi
from torch_models import NetLayers, assert_same_tensors, trained_net

from hubmixin_core.errors import WeightsFileError, WeightsKeyError, WeightsShapeError
from hubmixin_core.testing import LocalHub
from hubmixin_torch import PyTorchModelHubMixin


class OwnLoader(NetLayers, PyTorchModelHubMixin):
    """The override found in libraries written for huggingface_hub: build the model, then load one file."""

    @classmethod
    def _from_pretrained(  # type: ignore[override]  # huggingface_hub's signature
        cls,
        *,
        model_id: str,
        map_location: str = "cpu",
        strict: bool = False,
        **model_kwargs: Any,
    ) -> Self:
        model = cls(**{k: v for k, v in model_kwargs.items() if k in ("dim", "vocab")})
        safetensors_file = Path(model_id) / "model.safetensors"
        if safetensors_file.exists():
            return cls._load_as_safetensor(model, str(safetensors_file), map_location, strict)
        return cls._load_as_pickle(model, str(Path(model_id) / "pytorch_model.bin"), map_location, strict)


def test_load_as_safetensor_in_an_override(tmp_path: Path) -> None:
    saved = trained_net(OwnLoader)
    saved.save_pretrained(tmp_path)
    loaded = OwnLoader.from_pretrained(tmp_path)
    assert_same_tensors(saved.eval(), loaded)
    assert not loaded.training
    assert loaded.embed.weight is loaded.head.weight  # the tie holds


def test_load_as_pickle_reads_weights_only(tmp_path: Path) -> None:
    saved = trained_net(OwnLoader)
    torch.save(saved.state_dict(), tmp_path / "pytorch_model.bin")
    loaded = OwnLoader.from_pretrained(tmp_path)
    assert_same_tensors(saved.eval(), loaded)
    (tmp_path / "pytorch_model.bin").unlink()
    torch.save({"weight": torch.zeros(2), "code": print}, tmp_path / "pytorch_model.bin")
    with pytest.raises(WeightsFileError, match=r"pytorch_model\.bin"):
        OwnLoader.from_pretrained(tmp_path)


@pytest.mark.parametrize("loader", ["_load_as_safetensor", "_load_as_pickle"])
def test_a_missing_file_is_a_file_not_found_error(loader: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent\.bin"):  # as safetensors' and torch.load's are
        getattr(OwnLoader, loader)(OwnLoader(), str(tmp_path / "absent.bin"), "cpu", True)


def test_strict_and_shape_errors_name_the_keys(tmp_path: Path) -> None:
    other = OwnLoader(dim=4)
    file = tmp_path / "model.safetensors"
    other.save_pretrained(tmp_path)
    with pytest.raises(WeightsShapeError, match=r"embed\.weight") as shape:
        OwnLoader._load_as_safetensor(OwnLoader(dim=8), str(file), "cpu", False)
    assert isinstance(shape.value, RuntimeError)  # as torch's load_state_dict raises
    partial = {k: v for k, v in other.state_dict().items() if not k.startswith("norm.")}
    safetensors.torch.save_file({k: v.contiguous() for k, v in partial.items() if k != "head.weight"}, file)
    with pytest.raises(WeightsKeyError, match="norm"):
        OwnLoader._load_as_safetensor(OwnLoader(dim=4), str(file), "cpu", True)
    loose = OwnLoader._load_as_safetensor(OwnLoader(dim=4), str(file), "cpu", False)
    assert torch.equal(loose.embed.weight, other.embed.weight)


class WithTokenizer(NetLayers, PyTorchModelHubMixin):
    """A save_pretrained override writing one more file: push_to_hub saves through it, as huggingface_hub's does."""

    def save_pretrained(self, save_directory: str | Path, **kwargs: Any) -> None:  # type: ignore[override]
        super().save_pretrained(save_directory, **kwargs)
        (Path(save_directory) / "tokenizer.json").write_text("{}")


def test_push_to_hub_saves_through_an_overridden_save_pretrained(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/tok"
    saved = trained_net(WithTokenizer)
    saved.push_to_hub(repo_id, max_shard_size="1KB")  # a save option reaches the override
    files = HfApi().list_repo_files(repo_id)
    assert "tokenizer.json" in files and "model.safetensors.index.json" in files
    assert_same_tensors(saved.eval(), WithTokenizer.from_pretrained(repo_id))


class NarrowSave(NetLayers, PyTorchModelHubMixin):
    """Overrides save_pretrained with huggingface_hub's parameters only (no ``max_shard_size``)."""

    def save_pretrained(  # type: ignore[override]
        self, save_directory: str | Path, *, config: dict[str, Any] | None = None, **hub: Any
    ) -> str | None:
        return super().save_pretrained(save_directory, config=config)


class NarrowerSave(NetLayers, PyTorchModelHubMixin):
    """huggingface_hub's save_pretrained parameters, without its ``**push_to_hub_kwargs``."""

    def save_pretrained(  # type: ignore[override]
        self,
        save_directory: str | Path,
        *,
        config: dict[str, Any] | None = None,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        model_card_kwargs: dict[str, Any] | None = None,
    ) -> str | None:
        return super().save_pretrained(save_directory, config=config, model_card_kwargs=model_card_kwargs)


def test_a_save_option_the_override_cannot_take_is_named(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/narrow"
    trained_net(NarrowerSave).push_to_hub(repo_id)  # no save option given: the override is called as it is
    assert "model.safetensors" in HfApi().list_repo_files(repo_id)
    with pytest.raises(TypeError, match=r"max_shard_size= given, but NarrowerSave\.save_pretrained.*does not take it"):
        trained_net(NarrowerSave).push_to_hub(repo_id, max_shard_size="1KB")
    trained_net(NarrowSave).push_to_hub(repo_id, max_shard_size="1KB")  # **kwargs takes it
