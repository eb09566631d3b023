"""A push whose patterns keep part of a sharded save's weight files is refused before anything is created; a class
keyword given to save_pretrained/push_to_hub says where it goes, naming the user's class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import MLP
from huggingface_hub import HfApi

from hubmixin_core.errors import HubMixinValueError
from hubmixin_core.testing import LocalHub


def _sharded(seed: int) -> MLP:
    model = MLP(seed=seed)
    model.max_shard_size = 100  # bytes: several shards and their index
    return model


_PART_OF_THE_WEIGHTS = [
    ({"allow_patterns": "*.safetensors"}, "'model.safetensors.index.json'"),  # the shards, not their index
    ({"allow_patterns": ["model-*"]}, "'model.safetensors.index.json'"),
    ({"ignore_patterns": ["*.json", "*.md"]}, "'model.safetensors.index.json'"),  # "keep the Hub's config"
    ({"ignore_patterns": "model.safetensors.index.json"}, "'model.safetensors.index.json'"),
    ({"allow_patterns": ["*.json"]}, r"'model-00001-of-0000\d\.safetensors'"),  # the index, not its shards
]


@pytest.mark.parametrize(("patterns", "left_out"), _PART_OF_THE_WEIGHTS)
def test_a_push_keeping_part_of_a_sharded_save_is_refused_before_the_repo_is_created(
    local_hub: LocalHub, patterns: dict[str, Any], left_out: str
) -> None:
    with pytest.raises(HubMixinValueError, match=rf"leave out {left_out}.*allow_patterns=\[\"\*\.safetensors\", "):
        _sharded(1).push_to_hub("localuser/half", **patterns)
    assert not HfApi().repo_exists("localuser/half")


def test_a_refused_push_leaves_the_earlier_weights_as_they_were(local_hub: LocalHub) -> None:
    repo_id = "localuser/released"
    api = HfApi()
    MLP(seed=1).push_to_hub(repo_id)
    commits = len(api.list_repo_commits(repo_id))
    with pytest.raises(HubMixinValueError, match=r"half a checkpoint"):
        _sharded(2).push_to_hub(repo_id, allow_patterns="*.safetensors")
    assert len(api.list_repo_commits(repo_id)) == commits
    assert not any(name.startswith("model-") for name in api.list_repo_files(repo_id))


def test_save_pretrained_with_push_refuses_before_writing_the_directory(local_hub: LocalHub, tmp_path: Path) -> None:
    with pytest.raises(HubMixinValueError, match=r"allow_patterns='\*\.safetensors'.*index\.json"):
        _sharded(1).save_pretrained(
            tmp_path / "saved", push_to_hub=True, repo_id="localuser/saved", allow_patterns="*.safetensors"
        )
    assert not (tmp_path / "saved").exists() and not HfApi().repo_exists("localuser/saved")


@pytest.mark.parametrize(
    "patterns",
    [
        {"allow_patterns": ["*.safetensors", "*.json"]},  # every weight file
        {"ignore_patterns": ["*.md"]},
    ],
)
def test_a_push_keeping_every_weight_file_is_made(local_hub: LocalHub, patterns: dict[str, Any]) -> None:
    repo_id = f"localuser/whole-{len(str(patterns))}"
    MLP(seed=1).push_to_hub(repo_id)
    _sharded(2).push_to_hub(repo_id, **patterns)
    assert "model.safetensors" not in HfApi().list_repo_files(repo_id)  # replaced by the shards
    np.testing.assert_array_equal(MLP.from_pretrained(repo_id).weights["fc1.weight"], MLP(seed=2).weights["fc1.weight"])


def test_a_config_only_push_of_a_single_file_save_is_made(local_hub: LocalHub) -> None:
    repo_id = "localuser/config-only"
    MLP(seed=1).push_to_hub(repo_id)
    MLP(seed=2).push_to_hub(repo_id, allow_patterns=["*.json"])  # as docs/differences.md documents
    np.testing.assert_array_equal(MLP.from_pretrained(repo_id).weights["fc1.weight"], MLP(seed=1).weights["fc1.weight"])


# the class-keyword hint of save_pretrained and push_to_hub


@pytest.mark.parametrize(
    ("call", "keyword"),
    [
        (lambda path: MLP().save_pretrained(path, strict_config=True), "strict_config"),  # type: ignore[call-overload]
        (lambda path: MLP().save_pretrained(path, push_to_hub=True, runtime_args=[]), "runtime_args"),  # type: ignore[call-overload]
        (lambda path: MLP().push_to_hub("localuser/unused", coders={}), "coders"),  # type: ignore[call-arg]
    ],
)
def test_a_class_keyword_given_to_save_or_push_says_where_it_goes(call: Any, keyword: str, tmp_path: Path) -> None:
    with pytest.raises(
        TypeError, match=rf"{keyword!r}: it is a class keyword.*`class MLP\(\.\.\., {keyword}=\.\.\.\)`"
    ):
        call(tmp_path / "m")
    assert not (tmp_path / "m").exists()  # nothing written


def test_the_class_keyword_hint_names_a_class_defined_in_a_function(tmp_path: Path) -> None:
    class Local(MLP):
        pass

    with pytest.raises(TypeError, match=r"`class Local\(\.\.\., strict_config=\.\.\.\)`"):
        Local().save_pretrained(tmp_path, strict_config=True)  # type: ignore[call-overload]
