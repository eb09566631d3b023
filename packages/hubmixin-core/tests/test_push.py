"""push_to_hub through the local Hub: one commit, and tokens never written or logged."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from core_models import MLP, NumpyModelMixin
from huggingface_hub import CommitInfo, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from hubmixin_core import UploadOptions
from hubmixin_core.errors import HubMixinValueError
from hubmixin_core.testing import Fault, LocalHub


def test_push_makes_one_commit_with_weights_config_and_card(local_hub: LocalHub) -> None:
    api = HfApi()
    api.create_repo("localuser/mlp")
    before = len(api.list_repo_commits("localuser/mlp"))
    commit = MLP(seed=4).push_to_hub("localuser/mlp", commit_message="first weights")
    commits = api.list_repo_commits("localuser/mlp")
    assert len(commits) == before + 1 and commits[0].title == "first weights"
    assert commits[0].commit_id == commit.oid
    files = set(api.list_repo_files("localuser/mlp"))
    assert {"README.md", "config.json", "model.safetensors"} <= files
    loaded = MLP.from_pretrained("localuser/mlp")
    np.testing.assert_array_equal(loaded.weights["fc1.weight"], MLP(seed=4).weights["fc1.weight"])


def _weights_files(repo_id: str) -> list[str]:
    return sorted(f for f in HfApi().list_repo_files(repo_id) if f.startswith("model"))


def test_a_push_replaces_the_weight_files_of_the_last_one(local_hub: LocalHub) -> None:
    repo_id = "localuser/resharded"
    MLP(seed=1).push_to_hub(repo_id)
    assert _weights_files(repo_id) == ["model.safetensors"]
    sharded = MLP(seed=2)
    sharded.max_shard_size = 100  # bytes: several shards
    sharded.push_to_hub(repo_id)
    shards = _weights_files(repo_id)
    assert "model.safetensors" not in shards and "model.safetensors.index.json" in shards and len(shards) >= 3
    loaded = MLP.from_pretrained(repo_id)  # the new weights, not the single file of the first push
    np.testing.assert_array_equal(loaded.weights["fc1.weight"], MLP(seed=2).weights["fc1.weight"])
    MLP(seed=3).push_to_hub(repo_id, allow_patterns=["README.md"])  # a card update keeps the weights
    assert _weights_files(repo_id) == shards
    MLP(seed=3).push_to_hub(repo_id, delete_patterns="notes.txt")
    assert _weights_files(repo_id) == ["model.safetensors"]  # the shards and their index are gone
    np.testing.assert_array_equal(MLP.from_pretrained(repo_id).weights["fc2.weight"], MLP(seed=3).weights["fc2.weight"])


@pytest.mark.parametrize("patterns", [{"allow_patterns": ["config.json"]}, {"ignore_patterns": ["model*"]}])
def test_a_push_filtered_to_none_of_the_weights_deletes_none(local_hub: LocalHub, patterns: dict[str, Any]) -> None:
    repo_id = f"localuser/filtered-{len(str(patterns))}"
    sharded = MLP(seed=1)
    sharded.max_shard_size = 100
    sharded.push_to_hub(repo_id)
    before = _weights_files(repo_id)
    again = MLP(seed=2)
    again.max_shard_size = 150  # (other shard names)
    again.push_to_hub(repo_id, **patterns)
    assert _weights_files(repo_id) == before  # as huggingface_hub: a config-only push deletes nothing
    np.testing.assert_array_equal(MLP.from_pretrained(repo_id).weights["fc1.weight"], MLP(seed=1).weights["fc1.weight"])


def test_the_callers_pattern_lists_are_left_as_given(local_hub: LocalHub) -> None:
    ignore, allow = ["*.md"], ["*.json", "*.safetensors", "*.md"]
    for _ in range(2):
        MLP(seed=1).push_to_hub("localuser/patterns", ignore_patterns=ignore, allow_patterns=allow)
    assert (ignore, allow) == (["*.md"], ["*.json", "*.safetensors", "*.md"])  # the client appends to ignore's
    assert "README.md" not in HfApi().list_repo_files("localuser/patterns")


def test_an_overlapping_push_is_made_again_on_the_new_head(local_hub: LocalHub) -> None:
    repo_id = "localuser/overlapping"
    HfApi().create_repo(repo_id)
    sharded = MLP(seed=2)
    sharded.max_shard_size = 100  # bytes: several shards
    fault = local_hub.inject_fault(Fault("commit", delay=1.0))  # the sharded push's commit waits
    pushed: dict[str, CommitInfo] = {}
    thread = threading.Thread(target=lambda: pushed.setdefault("sharded", sharded.push_to_hub(repo_id)))
    thread.start()
    while fault.hits == 0:  # it has listed the repository's files and is committing
        time.sleep(0.01)
    MLP(seed=1).push_to_hub(repo_id)  # one model.safetensors, landing first
    thread.join()
    files = HfApi().list_repo_files(repo_id, revision=pushed["sharded"].oid)
    assert "model.safetensors" not in files and "model.safetensors.index.json" in files  # made on the new head
    np.testing.assert_array_equal(MLP.from_pretrained(repo_id).weights["fc1.weight"], sharded.weights["fc1.weight"])


def test_a_push_to_a_pull_request_adds_a_commit_to_it(local_hub: LocalHub) -> None:
    repo_id = "localuser/reviewed"
    MLP(seed=1).push_to_hub(repo_id)
    MLP(seed=2).push_to_hub(repo_id, create_pr=True)  # opens refs/pr/1
    MLP(seed=3).push_to_hub(repo_id, branch="refs/pr/1", commit_message="follow-up")
    assert HfApi().list_repo_commits(repo_id, revision="refs/pr/1")[0].title == "follow-up"
    loaded = MLP.from_pretrained(repo_id, revision="refs/pr/1")
    np.testing.assert_array_equal(loaded.weights["fc1.weight"], MLP(seed=3).weights["fc1.weight"])


def test_a_push_to_a_tags_name_is_refused(local_hub: LocalHub) -> None:
    repo_id = "localuser/released"
    MLP(seed=1).push_to_hub(repo_id)
    HfApi().create_tag(repo_id, tag="v1.0")
    with pytest.raises(HubMixinValueError, match="tag"):
        MLP(seed=2).push_to_hub(repo_id, branch="v1.0")
    assert [ref.name for ref in HfApi().list_repo_refs(repo_id).branches] == ["main"]
    np.testing.assert_array_equal(
        MLP.from_pretrained(repo_id, revision="v1.0").weights["fc1.weight"], MLP(seed=1).weights["fc1.weight"]
    )


def test_save_pretrained_with_push_to_hub_defaults_repo_to_folder_name(local_hub: LocalHub, tmp_path: Path) -> None:
    commit = MLP().save_pretrained(tmp_path / "my-mlp", push_to_hub=True)
    assert "/localuser/my-mlp/commit/" in commit
    assert (tmp_path / "my-mlp" / "model.safetensors").is_file()


def test_push_into_an_organization_the_user_writes(local_hub: LocalHub, tmp_path: Path) -> None:
    reader, outsider = local_hub.add_user("reader"), local_hub.add_user("outsider")
    local_hub.add_organization("my-org", members={local_hub.username: "write", "reader": "read"})
    commit = MLP(seed=7).push_to_hub("my-org/mlp", private=True)
    assert "/my-org/mlp/commit/" in commit
    assert {"README.md", "config.json", "model.safetensors"} <= set(HfApi().list_repo_files("my-org/mlp", token=reader))
    loaded = MLP.from_pretrained("my-org/mlp", token=reader)  # read members read the org's private models
    np.testing.assert_array_equal(loaded.weights["fc1.weight"], MLP(seed=7).weights["fc1.weight"])
    for token in (reader, outsider):
        with pytest.raises(HfHubHTTPError) as excinfo:
            MLP().push_to_hub("my-org/other", token=token)
        assert excinfo.value.response.status_code == 403
    with pytest.raises(RepositoryNotFoundError):  # an empty cache: the client serves cached files whatever the error
        MLP.from_pretrained("my-org/mlp", token=outsider, cache_dir=tmp_path / "cache")


def test_token_is_never_written_or_logged(
    local_hub: LocalHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = local_hub.add_user("carol")
    caplog.set_level(logging.DEBUG)
    model = MLP()
    model.save_pretrained(tmp_path / "saved", repo_id="carol/mlp", push_to_hub=True, token=token)
    loaded = MLP.from_pretrained("carol/mlp", token=token, cache_dir=tmp_path / "cache")
    loaded.save_pretrained(tmp_path / "resaved")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    for path in written:
        assert token.encode() not in path.read_bytes(), path
    for name in ("README.md", "config.json"):
        assert token.encode() not in Path(HfApi().hf_hub_download("carol/mlp", name, token=token)).read_bytes()
    assert token not in caplog.text
    assert token not in repr(UploadOptions(token=token))


class PushRecorder(MLP):
    """A library overriding push_to_hub, as huggingface_hub's mixin allows."""

    calls: list[dict[str, object]]

    def push_to_hub(self, repo_id: str, **kwargs: object) -> CommitInfo:
        type(self).calls.append({"repo_id": repo_id, **kwargs})
        kwargs.pop("note")  # the override's own keyword
        return super().push_to_hub(repo_id, **kwargs)  # type: ignore[arg-type]


def test_save_pretrained_ends_with_an_overridden_push_to_hub(local_hub: LocalHub, tmp_path: Path) -> None:
    PushRecorder.calls = []
    model = PushRecorder(seed=2)
    commit = model.save_pretrained(  # type: ignore[call-overload]  # `note`: an extra keyword, for the override
        tmp_path / "saved",
        push_to_hub=True,
        repo_id="localuser/recorded",
        commit_message="via save",
        model_card_kwargs={"note": "x"},
        note="hi",
    )
    ((call,),) = [PushRecorder.calls]
    assert call["repo_id"] == "localuser/recorded" and call["note"] == "hi"
    assert call["config"] == model._hub_mixin_config and call["model_card_kwargs"] == {"note": "x"}
    assert call["commit_message"] == "via save"
    assert HfApi().list_repo_commits("localuser/recorded")[0].commit_id == commit.oid


@dataclass
class Sizes:
    hidden: int = 4
    activation: str = "tanh"


class DataclassPushRecorder(NumpyModelMixin):
    """A dataclass config, and a push_to_hub override that records its keywords."""

    calls: list[dict[str, object]]

    def __init__(self, config: Sizes) -> None:
        self.config = config
        self.weights = {"w": np.arange(config.hidden, dtype=np.float32)}

    def push_to_hub(self, repo_id: str, **kwargs: object) -> CommitInfo:
        type(self).calls.append({"repo_id": repo_id, **kwargs})
        return super().push_to_hub(repo_id, **kwargs)  # type: ignore[arg-type]


def test_the_overridden_push_gets_the_config_as_a_dict_and_card_kwargs(local_hub: LocalHub, tmp_path: Path) -> None:
    DataclassPushRecorder.calls = []
    model = DataclassPushRecorder(Sizes(hidden=3))
    model.save_pretrained(tmp_path / "saved", push_to_hub=True, repo_id=f"{local_hub.username}/sizes")
    ((call,),) = [DataclassPushRecorder.calls]
    assert call == {  # as huggingface_hub calls it: the config as a dict, model_card_kwargs always
        "repo_id": f"{local_hub.username}/sizes",
        "config": {"hidden": 3, "activation": "tanh"},
        "model_card_kwargs": {},
    }
    loaded = DataclassPushRecorder.from_pretrained(f"{local_hub.username}/sizes", cache_dir=tmp_path / "cache")
    assert loaded.config == Sizes(hidden=3)


class WithVocabulary(MLP):
    """A library's save_pretrained writing one more file, as huggingface_hub's push_to_hub runs it."""

    calls: ClassVar[list[dict[str, object]]] = []

    def save_pretrained(  # type: ignore[override]  # huggingface_hub's narrow signature
        self, save_directory: str | Path, *, config: Any = None, model_card_kwargs: Any = None, **kwargs: Any
    ) -> None:
        WithVocabulary.calls.append({"config": config, "model_card_kwargs": model_card_kwargs, **kwargs})
        base: Any = super()
        base.save_pretrained(save_directory, config=config, model_card_kwargs=model_card_kwargs, **kwargs)
        (Path(save_directory) / "vocab.txt").write_text("a\nb\n")


def test_push_saves_through_an_overridden_save_pretrained(local_hub: LocalHub, tmp_path: Path) -> None:
    WithVocabulary.calls.clear()
    WithVocabulary().push_to_hub("localuser/vocab", model_card_kwargs={"title": "t"})
    api = HfApi()
    assert "vocab.txt" in api.list_repo_files("localuser/vocab")
    assert WithVocabulary.calls == [{"config": None, "model_card_kwargs": {"title": "t"}}]
    WithVocabulary().save_pretrained(tmp_path / "local", push_to_hub=True, repo_id="localuser/vocab2")
    assert (tmp_path / "local" / "vocab.txt").is_file()
    assert "vocab.txt" in api.list_repo_files("localuser/vocab2")
    loaded = WithVocabulary.from_pretrained("localuser/vocab2")
    np.testing.assert_array_equal(loaded.weights["fc1.weight"], MLP().weights["fc1.weight"])
