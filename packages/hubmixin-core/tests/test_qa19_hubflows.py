"""push_to_hub flows of QA round 19: a pull request racing a push to main, legacy ``pytorch_model*.bin`` files,
``branch="refs/heads/<name>"``, and LocalHub's 403 text for an added user."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from core_models import MLP
from huggingface_hub import CommitInfo, HfApi
from huggingface_hub.errors import HfHubHTTPError

from hubmixin_core.testing import Fault, LocalHub
from hubmixin_core.testing.xet import xet_available


def _sharded(seed: int, max_shard_size: int) -> MLP:
    model = MLP(seed=seed)
    model.max_shard_size = max_shard_size  # bytes: several shards
    return model


@pytest.mark.parametrize(
    "xet",
    [
        pytest.param(
            True,
            marks=pytest.mark.skipif(not xet_available(), reason="LocalHub's Xet storage needs hubmixin-core[hub]"),
        ),
        False,
    ],
)
@pytest.mark.parametrize(
    ("main_shards", "pr_shards"),
    [(100, 100), (60, 100)],  # the same shard names (nothing listed to delete), fewer shards (some listed)
)
def test_a_pull_request_racing_a_push_to_main_holds_its_own_weights(
    local_hub: LocalHub, xet: bool, main_shards: int, pr_shards: int
) -> None:
    repo_id = f"localuser/pr-race-{xet}-{main_shards}"
    api = HfApi()
    _sharded(1, main_shards).push_to_hub(repo_id)
    with local_hub.configure_client(xet=xet):
        # the PR push waits after listing the files (its commit, at refs/pr/1: the content went first)
        fault = local_hub.inject_fault(Fault("commit", delay=1.0, path="refs(/|%2F)pr"))
        pushed: dict[str, CommitInfo | BaseException] = {}

        def push() -> None:
            try:
                pushed["pr"] = _sharded(2, pr_shards).push_to_hub(repo_id, create_pr=True)
            except BaseException as error:  # (re-raised below, in the test's thread)
                pushed["pr"] = error

        thread = threading.Thread(target=push)
        thread.start()
        while fault.hits == 0:
            time.sleep(0.01)
        MLP(seed=3).push_to_hub(repo_id)  # another push lands on main: one model.safetensors
        thread.join()
        commit = pushed["pr"]
        if isinstance(commit, BaseException):
            raise commit
        assert commit.pr_revision == "refs/pr/1"
        files = api.list_repo_files(repo_id, revision=commit.pr_revision)
        assert "model.safetensors" not in files and "model.safetensors.index.json" in files
        loaded = MLP.from_pretrained(repo_id, revision=commit.pr_revision)
        np.testing.assert_array_equal(loaded.weights["fc1.weight"], MLP(seed=2).weights["fc1.weight"])
        assert [d.num for d in api.get_repo_discussions(repo_id)] == [1]  # one pull request, not empty ones


def test_a_pull_request_push_without_changes_leaves_no_open_pull_request(local_hub: LocalHub) -> None:
    repo_id = "localuser/pr-unchanged"
    MLP(seed=1).push_to_hub(repo_id)
    commit = MLP(seed=1).push_to_hub(repo_id, create_pr=True)
    assert commit.pr_url is None  # as huggingface_hub, which opens none
    assert list(HfApi().get_repo_discussions(repo_id, discussion_status="open")) == []
    commit = MLP(seed=2).push_to_hub(repo_id, create_pr=True)
    assert commit.pr_revision is not None
    loaded = MLP.from_pretrained(repo_id, revision=commit.pr_revision)
    np.testing.assert_array_equal(loaded.weights["fc1.weight"], MLP(seed=2).weights["fc1.weight"])


_LEGACY = ["pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin"]


def test_a_weights_push_deletes_the_legacy_pytorch_weight_files(local_hub: LocalHub) -> None:
    repo_id = "localuser/legacy-bin"
    api = HfApi()
    api.create_repo(repo_id)
    for name in _LEGACY:
        api.upload_file(path_or_fileobj=b"old weights", path_in_repo=name, repo_id=repo_id)
    MLP(seed=1).push_to_hub(repo_id, allow_patterns=["*.json"])  # leaves its weights out: deletes none
    assert set(_LEGACY) <= set(api.list_repo_files(repo_id))
    _sharded(1, 100).push_to_hub(repo_id)
    files = api.list_repo_files(repo_id)
    assert not set(_LEGACY) & set(files) and "model.safetensors.index.json" in files


@pytest.mark.parametrize("existing", [True, False])
def test_a_push_to_a_branchs_full_ref_name_goes_to_the_branch(local_hub: LocalHub, existing: bool) -> None:
    repo_id = f"localuser/full-ref-{existing}"
    api = HfApi()
    MLP(seed=1).push_to_hub(repo_id)
    if existing:
        api.create_branch(repo_id, branch="dev")
    MLP(seed=2).push_to_hub(repo_id, branch="refs/heads/dev")
    assert sorted(b.name for b in api.list_repo_refs(repo_id).branches) == ["dev", "main"]
    loaded = MLP.from_pretrained(repo_id, revision="dev")
    np.testing.assert_array_equal(loaded.weights["fc1.weight"], MLP(seed=2).weights["fc1.weight"])


def test_a_403_for_an_added_user_does_not_call_it_the_localhubs_username(local_hub: LocalHub) -> None:
    bob = local_hub.add_user("bob")
    with pytest.raises(HfHubHTTPError, match="403") as refused:
        HfApi(token=bob).create_repo(f"{local_hub.username}/not-bobs")
    assert "this token belongs to the user 'bob': create the repository as 'bob/<name>'" in str(refused.value)
    assert "LocalHub's username" not in str(refused.value)


def test_a_failed_pull_request_push_leaves_no_open_pull_request(local_hub: LocalHub) -> None:
    repo_id = "localuser/pr-failed"
    MLP(seed=1).push_to_hub(repo_id)
    local_hub.inject_fault(Fault("commit", method="POST", status=422, times=None, message="refused"))
    with pytest.raises(HfHubHTTPError, match="refused"):
        MLP(seed=2).push_to_hub(repo_id, create_pr=True)
    local_hub.clear_faults()
    assert list(HfApi().get_repo_discussions(repo_id, discussion_status="open")) == []
