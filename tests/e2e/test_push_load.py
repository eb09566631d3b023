"""End to end: push_to_hub then from_pretrained(repo_id) through the local Hub with the real client."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import RepositoryNotFoundError
from tinylib import LinearRegressor, TinyClassifier
from tinylib.linear import RegressorConfig

from hubmixin_core.testing import Fault, LocalHub


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)


def _classifier(seed: int) -> TinyClassifier:
    torch.manual_seed(seed)
    return TinyClassifier(features=4, classes=3, hidden=8)


def test_files_on_the_hub_are_what_was_saved(local_hub: LocalHub, tmp_path: Path) -> None:
    model = _classifier(0)
    commit = model.push_to_hub(f"{local_hub.username}/clf")
    assert commit.commit_url.startswith(local_hub.endpoint) and len(commit.oid) == 40
    model.save_pretrained(tmp_path)
    files = HfApi().list_repo_files(f"{local_hub.username}/clf")
    assert sorted(f for f in files if f != ".gitattributes") == ["README.md", "config.json", "model.safetensors"]
    for name in ("config.json", "model.safetensors"):
        assert Path(hf_hub_download(f"{local_hub.username}/clf", name)).read_bytes() == (tmp_path / name).read_bytes()
    loaded = TinyClassifier.from_pretrained(f"{local_hub.username}/clf")
    assert (loaded.body.in_features, loaded.head.out_features) == (4, 3)
    _assert_same_weights(model, loaded)


def test_core_mixin_roundtrip_with_dataclass_config(local_hub: LocalHub) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 3))
    model = LinearRegressor(RegressorConfig(features=3, l2=0.5)).fit(x, x @ np.array([1.0, -2.0, 0.5]))
    model.push_to_hub(f"{local_hub.username}/reg")
    loaded = LinearRegressor.from_pretrained(f"{local_hub.username}/reg")
    assert loaded.config == RegressorConfig(features=3, l2=0.5)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_branch_and_revision(local_hub: LocalHub) -> None:
    first = _classifier(1)
    main_commit = first.push_to_hub(f"{local_hub.username}/clf")
    second = _classifier(2)
    second.push_to_hub(f"{local_hub.username}/clf", branch="dev")
    _assert_same_weights(TinyClassifier.from_pretrained(f"{local_hub.username}/clf", revision="dev"), second)
    _assert_same_weights(TinyClassifier.from_pretrained(f"{local_hub.username}/clf"), first)
    third = _classifier(3)
    third.push_to_hub(f"{local_hub.username}/clf")
    _assert_same_weights(TinyClassifier.from_pretrained(f"{local_hub.username}/clf"), third)
    _assert_same_weights(TinyClassifier.from_pretrained(f"{local_hub.username}/clf", revision=main_commit.oid), first)


def test_create_pr(local_hub: LocalHub) -> None:
    base = _classifier(1)
    base.push_to_hub(f"{local_hub.username}/clf")
    proposal = _classifier(2)
    commit = proposal.push_to_hub(f"{local_hub.username}/clf", create_pr=True)
    assert commit.pr_url is not None and commit.pr_num == 1
    _assert_same_weights(TinyClassifier.from_pretrained(f"{local_hub.username}/clf", revision="refs/pr/1"), proposal)
    _assert_same_weights(TinyClassifier.from_pretrained(f"{local_hub.username}/clf"), base)


def test_private_repo_needs_the_token(local_hub: LocalHub, tmp_path: Path) -> None:
    model = _classifier(0)
    model.push_to_hub(f"{local_hub.username}/secret", private=True)
    assert HfApi().repo_info(f"{local_hub.username}/secret").private
    with pytest.raises(RepositoryNotFoundError):
        TinyClassifier.from_pretrained(f"{local_hub.username}/secret", token=False, cache_dir=tmp_path)
    _assert_same_weights(TinyClassifier.from_pretrained(f"{local_hub.username}/secret", token=local_hub.token), model)


def test_allow_ignore_and_delete_patterns(local_hub: LocalHub) -> None:
    model = _classifier(0)
    model.push_to_hub(f"{local_hub.username}/clf", ignore_patterns=["README.md"])
    assert "README.md" not in HfApi().list_repo_files(f"{local_hub.username}/clf")
    HfApi().upload_file(path_or_fileobj=b"old notes", path_in_repo="notes.txt", repo_id=f"{local_hub.username}/clf")
    model.push_to_hub(f"{local_hub.username}/clf", allow_patterns=["*.json"], delete_patterns=["*.txt"])
    files = set(HfApi().list_repo_files(f"{local_hub.username}/clf"))
    assert "notes.txt" not in files and "README.md" not in files and "config.json" in files


def test_second_load_reuses_the_cache(local_hub: LocalHub) -> None:
    model = _classifier(0)
    model.push_to_hub(f"{local_hub.username}/clf")
    TinyClassifier.from_pretrained(f"{local_hub.username}/clf")
    no_downloads = local_hub.inject_fault(Fault(route="resolve", method="GET", status=500, times=None))
    _assert_same_weights(TinyClassifier.from_pretrained(f"{local_hub.username}/clf"), model)
    assert no_downloads.hits == 0


def test_explicit_endpoint_and_token(tmp_path: Path) -> None:
    """Without the fixture: a second hub addressed only through `endpoint=` and `token=`."""
    with LocalHub() as hub, hub.configure_client(cache_dir=tmp_path / "cache"):
        with LocalHub() as other:
            model = _classifier(5)
            repo = f"{other.username}/clf"
            model.push_to_hub(repo, endpoint=other.endpoint, token=other.token)
            loaded = TinyClassifier.from_pretrained(repo, endpoint=other.endpoint, token=other.token)
            _assert_same_weights(loaded, model)
        assert not HfApi(endpoint=hub.endpoint).repo_exists(repo)  # it went to `other` only
