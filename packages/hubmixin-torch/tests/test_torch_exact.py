"""A loaded model computes exactly what the saved one did: every tensor it ends up with is 64-byte aligned."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import huggingface_hub
import pytest
import torch
from huggingface_hub import CommitInfo
from torch import nn

from hubmixin_core.errors import WeightsNotFoundError
from hubmixin_core.testing import LocalHub
from hubmixin_core.weights import ALIGNMENT, read_header
from hubmixin_torch import PyTorchModelHubMixin


class OddLayers(nn.Module):
    """Odd-sized tensors (biases of 11 and 7 floats), an embedding and a convolution."""

    def __init__(self, dim: int = 7, hidden: int = 11, dtype: str = "float32") -> None:
        super().__init__()
        kind = getattr(torch, dtype)
        self.embed = nn.Embedding(13, dim, dtype=kind)
        self.fc1 = nn.Linear(dim, hidden, dtype=kind)
        self.conv = nn.Conv1d(hidden, hidden, 3, padding=1, dtype=kind)
        self.fc2 = nn.Linear(hidden, dim, dtype=kind)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(self.embed(ids)))
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        out: torch.Tensor = self.fc2(torch.tanh(x))
        return out


class Odd(OddLayers, PyTorchModelHubMixin):
    """With hubmixin's mixin."""


class RefOdd(OddLayers, huggingface_hub.PyTorchModelHubMixin):
    """With huggingface_hub's mixin (the reference), to write files."""


def _aligned(module: nn.Module) -> bool:
    return all(t.data_ptr() % ALIGNMENT == 0 for t in [*module.parameters(), *module.buffers()])


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize("writer", [Odd, RefOdd], ids=["ours", "huggingface_hub"])
def test_outputs_are_bit_identical_after_load(tmp_path: Path, dtype: str, writer: type[OddLayers]) -> None:
    ids = torch.randint(0, 13, (3, 5), generator=torch.Generator().manual_seed(0))
    runs = 100 if dtype == "float32" else 10
    for run in range(runs):
        torch.manual_seed(run)
        saved = writer(dtype=dtype).eval()
        folder = tmp_path / f"{run}"
        saved.save_pretrained(folder)  # type: ignore[operator]
        loaded = Odd.from_pretrained(folder)
        assert _aligned(loaded), f"run {run}: a tensor of the loaded model is not {ALIGNMENT}-byte aligned"
        with torch.no_grad():
            assert torch.equal(saved(ids), loaded(ids)), f"run {run}: outputs differ"


def test_our_files_align_every_tensor_of_a_multiple_of_64_bytes(tmp_path: Path) -> None:
    Odd().save_pretrained(tmp_path)
    header = read_header(tmp_path / "model.safetensors")
    assert header.data_start % ALIGNMENT == 0
    for name, (begin, _) in header.offsets.items():
        if header.tensors[name].nbytes % ALIGNMENT == 0:
            assert begin % ALIGNMENT == 0, name


def test_strict_and_shape_failures_are_runtime_errors_as_in_torch(tmp_path: Path) -> None:
    Odd(dim=7).save_pretrained(tmp_path)
    with pytest.raises(RuntimeError, match="has shape"):
        Odd.from_pretrained(tmp_path, model_kwargs={"dim": 5})  # shape mismatch, strict or not
    (tmp_path / "config.json").unlink()

    class Bigger(OddLayers, PyTorchModelHubMixin):
        def __init__(self) -> None:
            super().__init__()
            self.extra = nn.Linear(2, 2)

    with pytest.raises(RuntimeError, match=r"extra\.weight"):
        Bigger.from_pretrained(tmp_path, strict=True)


class PushingOdd(Odd):
    """A library that overrides push_to_hub (huggingface_hub's mixin lets it)."""

    seen: ClassVar[dict[str, object]] = {}

    def push_to_hub(self, repo_id: str, **kwargs: object) -> CommitInfo:
        type(self).seen = {"repo_id": repo_id, **kwargs}
        kwargs.pop("revision_note")
        return super().push_to_hub(repo_id, **kwargs)  # type: ignore[arg-type]


def test_save_pretrained_pushes_through_an_overridden_push_to_hub(local_hub: LocalHub, tmp_path: Path) -> None:
    model = PushingOdd(hidden=5)
    model.save_pretrained(  # type: ignore[call-overload]  # revision_note: for the override
        tmp_path / "m", push_to_hub=True, repo_id="localuser/odd", max_shard_size="1MB", revision_note="v1"
    )
    seen = PushingOdd.seen
    assert seen["repo_id"] == "localuser/odd" and seen["revision_note"] == "v1"
    assert seen["config"] == {"dim": 7, "hidden": 5, "dtype": "float32"} and seen["max_shard_size"] == "1MB"
    assert Odd.from_pretrained("localuser/odd").fc1.out_features == 5


def test_a_repository_without_weights_raises_what_huggingface_hub_raises(local_hub: LocalHub) -> None:
    """The client's RemoteEntryNotFoundError (an HfHubHTTPError) for both mixins: drop-in ``except`` clauses hold."""
    repo_id = f"{local_hub.username}/config-only"
    huggingface_hub.create_repo(repo_id)
    huggingface_hub.upload_file(path_or_fileobj=b'{"dim": 7}', path_in_repo="config.json", repo_id=repo_id)
    for mixin in (RefOdd, Odd):
        with pytest.raises(huggingface_hub.errors.RemoteEntryNotFoundError) as raised:
            mixin.from_pretrained(repo_id)
        assert isinstance(raised.value, huggingface_hub.errors.HfHubHTTPError)
    assert isinstance(raised.value, WeightsNotFoundError) and "pytorch_model.bin" in str(raised.value)
