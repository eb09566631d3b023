"""Torch's "no weights found" (round 23, first use #2, #8): a folder's message lists what it holds and names its
safetensors under another name with the renaming; a Hub repository holding a framework's own checkpoint is named
with its download and ``hubmixin convert``, as its folder is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import huggingface_hub as hf
import pytest
import torch
from torch_models import Net

from hubmixin_core.errors import WeightsNotFoundError
from hubmixin_core.testing import LocalHub

_LOOKED_FOR = "no weights found: looked for model.safetensors, model.safetensors.index.json and pytorch_model.bin"


def test_a_folder_with_safetensors_under_another_name_lists_it_with_the_renaming(saved: Path, net: Net) -> None:
    (saved / "model.safetensors").rename(saved / "diffusion_pytorch_model.safetensors")
    with pytest.raises(WeightsNotFoundError) as info:
        Net.from_pretrained(saved)
    assert str(info.value) == (
        f"{saved}: {_LOOKED_FOR} (it holds ['README.md', 'config.json', 'diffusion_pytorch_model.safetensors']): a "
        "safetensors file under another name (diffusion_pytorch_model.safetensors): rename "
        "diffusion_pytorch_model.safetensors to model.safetensors"
    )
    (saved / "diffusion_pytorch_model.safetensors").rename(saved / "model.safetensors")  # as told
    loaded = Net.from_pretrained(saved)
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_an_empty_folder_lists_what_it_holds(saved: Path) -> None:
    (saved / "model.safetensors").unlink()
    with pytest.raises(WeightsNotFoundError) as info:
        Net.from_pretrained(saved)
    assert str(info.value) == f"{saved}: {_LOOKED_FOR} (it holds ['README.md', 'config.json'])"


def test_a_hub_repository_holding_a_torch_save_file_is_named_with_its_two_steps(
    local_hub: LocalHub, saved: Path, net: Net
) -> None:
    (saved / "model.safetensors").unlink()
    torch.save(net.state_dict(), saved / "model.pt")
    repo = f"{local_hub.username}/pt"
    hf.create_repo(repo)
    hf.upload_folder(repo_id=repo, folder_path=saved)
    with pytest.raises(WeightsNotFoundError) as info:
        Net.from_pretrained(repo)
    assert str(info.value) == (
        f"{repo}: {_LOOKED_FOR}: a torch.save state dict (model.pt): download it (`hf download {repo} --local-dir "
        "DIR`), then convert it with `hubmixin convert DIR/model.pt DST --to torch|flax|keras`"
    )


def test_a_legacy_repository_loads_without_listing_its_files(local_hub: LocalHub, saved: Path, net: Net) -> None:
    """The listing is for the error's hint only: a load that finds pytorch_model.bin never asks for it (reg23d #1)."""
    (saved / "model.safetensors").unlink()
    torch.save(net.state_dict(), saved / "pytorch_model.bin")
    repo = f"{local_hub.username}/legacy"
    hf.create_repo(repo)
    hf.upload_folder(repo_id=repo, folder_path=saved)
    seen: list[str] = []
    client = hf.utils._http.default_client_factory  # (the client's own requests, recorded: nothing is replaced)

    def recording() -> Any:
        made = client()
        made.event_hooks["request"].append(lambda request: seen.append(request.url.path))
        return made

    hf.set_client_factory(recording)
    try:
        for _ in range(2):  # (the second from the cache)
            Net.from_pretrained(repo)
    finally:
        hf.set_client_factory(client)
    assert seen and not [path for path in seen if "/tree/" in path]
