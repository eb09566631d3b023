"""A sharded push filtered to its shards (``allow_patterns="*.safetensors"``) is refused instead of publishing shards
without their index beside an earlier push's ``model.safetensors``; a huggingface_hub-style ``_save_pretrained``
override given a save option is told how to take it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from huggingface_hub import HfApi
from torch import nn

from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError
from hubmixin_core.testing import LocalHub
from hubmixin_torch import PyTorchModelHubMixin


class Stack(nn.Module, PyTorchModelHubMixin):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(width, width) for _ in range(3)])


@pytest.mark.parametrize("patterns", [{"allow_patterns": "*.safetensors"}, {"ignore_patterns": ["*.json", "*.md"]}])
def test_a_push_of_the_shards_without_their_index_is_refused(local_hub: LocalHub, patterns: dict[str, Any]) -> None:
    repo_id = f"{local_hub.username}/stack-{len(str(patterns))}"
    first = Stack()
    first.push_to_hub(repo_id)  # one model.safetensors
    with pytest.raises(HubMixinValueError, match=r"leave out 'model\.safetensors\.index\.json'"):
        Stack().push_to_hub(repo_id, max_shard_size=300, **patterns)
    assert sorted(f for f in HfApi().list_repo_files(repo_id) if f.startswith("model")) == ["model.safetensors"]
    Stack().push_to_hub(repo_id, max_shard_size=300, allow_patterns=["*.safetensors", "*.json"])  # as suggested
    second = Stack.from_pretrained(repo_id)
    weight = "layers.0.weight"
    assert not torch.equal(second.state_dict()[weight], first.state_dict()[weight])  # the new weights, not the old file


class HubStyleSave(nn.Module, PyTorchModelHubMixin):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)

    def _save_pretrained(self, save_directory: Path) -> None:  # huggingface_hub's signature
        super()._save_pretrained(save_directory)
        (save_directory / "extra.json").write_text("{}")


@pytest.mark.parametrize("option", [{"max_shard_size": "1KB"}, {"dtype": torch.float16}])
def test_a_save_option_refused_by_a_hub_style_override_says_how_to_take_it(
    tmp_path: Path, option: dict[str, Any]
) -> None:
    message = (
        rf"HubStyleSave\._save_pretrained does not accept {next(iter(option))}=.*Add \*\*kwargs to its signature and "
        r"pass them on \(`super\(\)\._save_pretrained\(save_directory, \*\*kwargs\)`\)"
    )
    with pytest.raises(HubMixinTypeError, match=message):
        HubStyleSave().save_pretrained(tmp_path / "m", **option)
    assert not (tmp_path / "m").exists()
