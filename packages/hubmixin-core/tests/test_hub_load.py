"""from_pretrained(repo_id) through the local Hub: revision, cache_dir, force_download, local_files_only, endpoint."""

from __future__ import annotations

import gc
import json
import pickle
import re
import threading
import time
import weakref
from dataclasses import replace
from pathlib import Path

import huggingface_hub.errors
import numpy as np
import pytest
from core_models import MLP
from huggingface_hub import HfApi, create_repo, create_tag, upload_file
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from hubmixin_core import DownloadOptions, download_file
from hubmixin_core._hub import one_commit
from hubmixin_core.errors import WeightsNotFoundError
from hubmixin_core.testing import Fault, LocalHub
from hubmixin_core.testing.xet import xet_available


@pytest.mark.skipif(not xet_available(), reason="LocalHub's Xet storage needs hubmixin-core[hub]")
def test_download_options_are_honoured(local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = f"{local_hub.username}/mlp"
    first = MLP(seed=1).push_to_hub(repo_id)
    MLP(seed=2).push_to_hub(repo_id)
    cache = tmp_path / "cache"
    downloads = local_hub.inject_fault(Fault(route="resolve", method="GET", delay=0.001, times=None))
    # The weights are stored through Xet: the client asks the CAS for their reconstruction, not /resolve/.
    xet_downloads = local_hub.inject_fault(
        Fault(route="xet-cas", method="GET", path="reconstructions", delay=0.001, times=None)
    )

    latest = MLP.from_pretrained(repo_id, cache_dir=cache)
    np.testing.assert_array_equal(latest.weights["fc2.weight"], MLP(seed=2).weights["fc2.weight"])
    # config.json; model.safetensors in one reconstruction or more (hf_xet before 1.8 asks for byte ranges
    # ahead of the file's end too, answered 416)
    assert downloads.hits == 1 and xet_downloads.hits >= 1
    assert any(cache.rglob("model.safetensors"))
    reconstructions = xet_downloads.hits

    MLP.from_pretrained(repo_id, cache_dir=cache)
    assert (downloads.hits, xet_downloads.hits) == (1, reconstructions)  # served from the cache
    MLP.from_pretrained(repo_id, cache_dir=cache, force_download=True)
    assert downloads.hits == 2 and xet_downloads.hits > reconstructions

    old = MLP.from_pretrained(repo_id, cache_dir=cache, revision=first.oid)
    np.testing.assert_array_equal(old.weights["fc2.weight"], MLP(seed=1).weights["fc2.weight"])

    local_hub.inject_fault(Fault(route="*", status=500, times=None))
    offline = MLP.from_pretrained(repo_id, cache_dir=cache, local_files_only=True)
    np.testing.assert_array_equal(offline.weights["fc2.weight"], latest.weights["fc2.weight"])
    with pytest.raises(LocalEntryNotFoundError):
        MLP.from_pretrained(repo_id, cache_dir=tmp_path / "empty", local_files_only=True)


def test_endpoint_selects_the_hub(local_hub: LocalHub, tmp_path: Path) -> None:
    with LocalHub() as other:
        repo_id = f"{other.username}/mlp"
        MLP(seed=3).push_to_hub(repo_id, endpoint=other.endpoint, token=other.token)
        loaded = MLP.from_pretrained(repo_id, endpoint=other.endpoint, token=other.token, cache_dir=tmp_path)
    np.testing.assert_array_equal(loaded.weights["fc1.bias"], MLP(seed=3).weights["fc1.bias"])


def test_repo_without_config_loads_offline_once_cached(local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = f"{local_hub.username}/no-config"
    MLP(seed=5).push_to_hub(repo_id, ignore_patterns=["config.json"])
    MLP.from_pretrained(repo_id, cache_dir=tmp_path)  # records config.json as missing in the cache
    local_hub.stop()
    offline = MLP.from_pretrained(repo_id, cache_dir=tmp_path, local_files_only=True)
    np.testing.assert_array_equal(offline.weights["fc1.weight"], MLP(seed=5).weights["fc1.weight"])
    assert offline._hub_mixin_config == {"in_features": 4, "hidden": 8, "activation": "relu", "seed": 0}


@pytest.mark.parametrize("shards", [None, 64])
def test_a_push_landing_during_a_load_does_not_mix_two_commits(
    local_hub: LocalHub, tmp_path: Path, shards: int | None
) -> None:
    repo_id = f"{local_hub.username}/raced"
    first, second = MLP(seed=1, activation="relu"), MLP(seed=2, activation="gelu")
    first.max_shard_size = second.max_shard_size = shards
    first.push_to_hub(repo_id)
    weights = "model.safetensors" if shards is None else "model.safetensors.index.json"
    held = local_hub.inject_fault(Fault(route="resolve", method="HEAD", path=weights, delay=1.0))
    loaded: list[MLP] = []
    loader = threading.Thread(target=lambda: loaded.append(MLP.from_pretrained(repo_id, cache_dir=tmp_path)))
    loader.start()
    deadline = time.monotonic() + 10
    while held.hits == 0 and time.monotonic() < deadline:  # the config is read; the weights' request is held
        time.sleep(0.01)
    second.push_to_hub(repo_id)  # lands before the weights are asked for
    loader.join()
    assert held.hits == 1 and loaded[0].activation == "relu"  # the first push's config ...
    for name, array in first.weights.items():
        np.testing.assert_array_equal(loaded[0].weights[name], array)  # ... with the first push's weights
    assert MLP.from_pretrained(repo_id, cache_dir=tmp_path).activation == "gelu"  # the next load: the second push


def test_one_commit_pins_each_revision_asked_for_apart(local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = f"{local_hub.username}/pinned"
    first = MLP(activation="relu").push_to_hub(repo_id)
    MLP(activation="gelu").push_to_hub(repo_id)
    options = DownloadOptions(cache_dir=tmp_path)
    with one_commit():
        latest = json.loads(download_file(repo_id, "config.json", options).read_text())
        older = json.loads(download_file(repo_id, "config.json", replace(options, revision=first.oid)).read_text())
        again = json.loads(download_file(repo_id, "config.json", options).read_text())
    assert (latest["activation"], older["activation"], again["activation"]) == ("gelu", "relu", "gelu")


def test_a_mistyped_revision_names_the_branches_and_tags_and_the_closest(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/refs"
    MLP().push_to_hub(repo_id)
    create_tag(repo_id, tag="v1.0")
    for revision, guess in (("mian", "; did you mean 'main'?"), ("v1.O", "; did you mean 'v1.0'?"), ("zzzz", "")):
        refs = rf"has no revision '{revision}' \(branches \['main'\], tags \['v1\.0'\]{re.escape(guess)}\)\. 404"
        with pytest.raises(RevisionNotFoundError, match=rf"^{repo_id} {refs}"):
            MLP.from_pretrained(repo_id, revision=revision)


def test_an_offline_load_missing_one_shard_names_it(local_hub: LocalHub, tmp_path: Path) -> None:
    repo_id = f"{local_hub.username}/offline-shards"
    model = MLP()
    model.max_shard_size = 64
    model.push_to_hub(repo_id)
    MLP.from_pretrained(repo_id, cache_dir=tmp_path)  # every shard cached
    shards = sorted(tmp_path.rglob("model-*-of-*.safetensors"))
    assert len(shards) > 1
    shards[-1].unlink()
    with pytest.raises(
        LocalEntryNotFoundError, match=rf"{shards[-1].name} of {repo_id}@[0-9a-f]{{40}} is not in the cache"
    ):
        MLP.from_pretrained(repo_id, cache_dir=tmp_path, local_files_only=True)


def test_a_sharded_snapshot_fetched_ahead_loads_offline(local_hub: LocalHub, tmp_path: Path) -> None:
    from huggingface_hub import snapshot_download

    repo_id = f"{local_hub.username}/snapshot-shards"
    model = MLP(seed=3)
    model.max_shard_size = 64
    model.push_to_hub(repo_id)
    snapshot_download(repo_id, cache_dir=tmp_path)  # records no model.safetensors as absent (.no_exist)

    offline = MLP.from_pretrained(repo_id, cache_dir=tmp_path, local_files_only=True)

    assert offline.weights.keys() == model.weights.keys()
    for name, value in model.weights.items():
        np.testing.assert_array_equal(offline.weights[name], value)
    with pytest.raises(LocalEntryNotFoundError, match="is not in the cache"):  # nothing cached: still refused
        MLP.from_pretrained(repo_id, cache_dir=tmp_path / "empty", local_files_only=True)


def test_a_repository_missing_a_shard_its_index_names_is_a_shard_index_error(
    local_hub: LocalHub, tmp_path: Path
) -> None:
    from huggingface_hub import HfApi

    from hubmixin_core.errors import ShardIndexError

    repo_id = f"{local_hub.username}/missing-shard"
    model = MLP()
    model.max_shard_size = 64
    model.save_pretrained(tmp_path / "saved")
    shards = sorted(p.name for p in (tmp_path / "saved").glob("model-*-of-*.safetensors"))
    HfApi().create_repo(repo_id)
    HfApi().upload_folder(folder_path=tmp_path / "saved", repo_id=repo_id, ignore_patterns=[shards[1]])
    with pytest.raises(ShardIndexError, match=rf"{repo_id}: model\.safetensors\.index\.json: shard '{shards[1]}'"):
        MLP.from_pretrained(repo_id, cache_dir=tmp_path / "cache")


def test_a_path_naming_a_repo_loads_it_as_huggingface_hub_does(
    local_hub: LocalHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Path("user/model")`` is read as its text (a config may keep every location in a ``Path``)."""
    repo_id = f"{local_hub.username}/mlp"
    MLP(seed=4).push_to_hub(repo_id)
    monkeypatch.chdir(tmp_path)  # no such local directory
    loaded = MLP.from_pretrained(Path(repo_id))
    np.testing.assert_array_equal(loaded.weights["fc1.bias"], MLP(seed=4).weights["fc1.bias"])
    with pytest.raises(RepositoryNotFoundError, match=r"'runs/ckpt' is neither a local directory .* nor a repo"):
        MLP.from_pretrained(Path("runs/ckpt"))
    with pytest.raises(WeightsNotFoundError, match=r"a/b/c: does not exist"):  # only a path can be meant
        MLP.from_pretrained(Path("a/b/c"))


def test_a_repository_without_weights_is_the_clients_remote_entry_not_found_error(local_hub: LocalHub) -> None:
    """huggingface_hub's mixin raises the client's RemoteEntryNotFoundError (an HfHubHTTPError) there: code
    catching it keeps catching ours, which carries the Hub's 404 and survives pickling."""
    repo_id = f"{local_hub.username}/no-weights"
    create_repo(repo_id)
    upload_file(path_or_fileobj=json.dumps({"hidden": 4}).encode(), path_in_repo="config.json", repo_id=repo_id)
    with pytest.raises(RemoteEntryNotFoundError) as raised:
        MLP.from_pretrained(repo_id)
    error = raised.value
    assert isinstance(error, HfHubHTTPError) and isinstance(error, EntryNotFoundError)
    assert isinstance(error, WeightsNotFoundError) and "found neither model.safetensors" in str(error)
    assert error.response.status_code == 404 and repo_id in str(error.response.url)
    restored = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert type(restored) is type(error) and restored.args == error.args

    # Offline, the cache knows the files are absent: no Hub answer to give (not the earlier online 404).
    with pytest.raises(WeightsNotFoundError) as offline:
        MLP.from_pretrained(repo_id, local_files_only=True)
    assert not isinstance(offline.value, HfHubHTTPError)


def test_a_model_loaded_from_shards_is_freed_with_its_last_reference(local_hub: LocalHub) -> None:
    """The Hub's 404 for the absent single file is not kept past the load (with the load's frames and model)."""
    repo_id = f"{local_hub.username}/sharded-freed"
    model = MLP()
    model.max_shard_size = 64
    model.push_to_hub(repo_id)
    loaded = MLP.from_pretrained(repo_id)
    gone = weakref.ref(loaded)
    del loaded
    gc.collect()
    assert gone() is None


def test_a_path_to_a_file_is_refused_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file given for the model's directory names no repository: said so before any request."""
    monkeypatch.chdir(tmp_path)
    Path("ckpt.safetensors").write_bytes(b"")
    for given in (Path("ckpt.safetensors"), "ckpt.safetensors"):
        with pytest.raises(WeightsNotFoundError, match=r"ckpt\.safetensors: is a file, not a directory"):
            MLP.from_pretrained(given, endpoint="http://127.0.0.1:9")  # (no request reaches it)


def test_force_download_keeps_the_hubs_typed_errors(local_hub: LocalHub) -> None:
    """huggingface_hub wraps them in a bare ValueError under force_download=True; a load raises them as without."""
    with pytest.raises(RepositoryNotFoundError):
        MLP.from_pretrained(f"{local_hub.username}/no-such-model", force_download=True)
    repo_id = f"{local_hub.username}/gated-mlp"
    MLP(seed=1).push_to_hub(repo_id)
    HfApi().update_repo_settings(repo_id, gated="manual")
    other = local_hub.add_user("bob")
    for force in (False, True):
        with pytest.raises(GatedRepoError):
            MLP.from_pretrained(repo_id, token=other, force_download=force)
    np.testing.assert_array_equal(
        MLP.from_pretrained(repo_id, force_download=True).weights["fc1.bias"], MLP(seed=1).weights["fc1.bias"]
    )


@pytest.mark.skipif(not hasattr(huggingface_hub.errors, "EgressLimitError"), reason="huggingface_hub 2.5 on")
def test_a_reached_egress_limit_is_raised_as_the_clients_error(local_hub: LocalHub, tmp_path: Path) -> None:
    """A 402 ``EgressLimitReached`` reaches the caller as huggingface_hub's typed error (not as "not cached"),
    while a cached model still loads."""
    repo_id = f"{local_hub.username}/egress"
    MLP(seed=4).push_to_hub(repo_id)
    egress = Fault(route="resolve", method="HEAD", status=402, error_code="EgressLimitReached", times=None)
    local_hub.inject_fault(egress)
    with pytest.raises(huggingface_hub.errors.EgressLimitError):
        MLP.from_pretrained(repo_id, cache_dir=tmp_path / "empty")
    local_hub.clear_faults()
    MLP.from_pretrained(repo_id, cache_dir=tmp_path / "cache")
    local_hub.inject_fault(egress)
    cached = MLP.from_pretrained(repo_id, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(cached.weights["fc1.bias"], MLP(seed=4).weights["fc1.bias"])
