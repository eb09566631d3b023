"""``~name`` of no user taken as it is (CLI and API), any ``os.PathLike`` for ``inspect_checkpoint``, ``hubmixin
inspect REPO`` from the Hub cache while the Hub answers 5xx, a malformed Hub index named as a repository file, and
LocalHub's model info for shapes whose count no 64-bit integer holds."""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from core_models import MLP
from huggingface_hub import HfApi
from safetensors.numpy import save_file

from hubmixin_core import cli
from hubmixin_core._checks import expand_location
from hubmixin_core._inspect import inspect_checkpoint
from hubmixin_core.cli import main
from hubmixin_core.errors import HubMixinError
from hubmixin_core.testing import Fault, LocalHub
from hubmixin_core.testing.pytest_plugin import LFS_UPLOAD_WARNING_FILTER

pytestmark = pytest.mark.filterwarnings(LFS_UPLOAD_WARNING_FILTER)

_NO_USER = "~nosuchuser_qa15"  # a folder of that name, as a shell passes it


@pytest.fixture
def no_user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding ``~nosuchuser_qa15/model.safetensors`` (two parameters)."""
    if sys.platform == "win32":
        pytest.skip("Windows expands ~name to a sibling of the home folder")
    import pwd

    with pytest.raises(KeyError):
        pwd.getpwnam(_NO_USER[1:])
    (tmp_path / _NO_USER).mkdir()
    save_file({"w": np.zeros(2, np.float32)}, str(tmp_path / _NO_USER / "model.safetensors"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.skipif(importlib.util.find_spec("hubmixin_flax") is None, reason="converts --to flax: needs hubmixin-flax")
def test_the_cli_takes_a_tilde_name_of_no_user_as_it_is(
    no_user_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argument in (_NO_USER, f"{_NO_USER}/model.safetensors"):
        assert main(["inspect", argument, "--json"]) == 0  # was a 16-line RuntimeError traceback
        assert json.loads(capsys.readouterr().out)["parameters"] == 2
    assert main(["inspect", "~nosuchuser_qa15_typo/model"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "hubmixin: error: ~nosuchuser_qa15_typo/model: does not exist; give a .safetensors file, a model directory "
        "or a repo id"
    ]
    argv = ["convert", f"{_NO_USER}/model.safetensors", f"{_NO_USER}/out", "--to", "flax", "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    assert (no_user_folder / _NO_USER / "out" / "model.safetensors").is_file()


def test_the_api_takes_a_tilde_name_of_no_user_as_it_is(no_user_folder: Path) -> None:
    assert expand_location(f"{_NO_USER}/model") == f"{_NO_USER}/model"
    assert expand_location(Path(_NO_USER)) == Path(_NO_USER)
    assert inspect_checkpoint(_NO_USER).parameters == 2  # was RuntimeError: Could not determine home directory
    with pytest.raises(HubMixinError, match="does not exist"):  # was RuntimeError
        MLP.from_pretrained(f"{_NO_USER}/missing")
    MLP(activation="gelu").save_pretrained(f"{_NO_USER}/saved")  # was RuntimeError
    assert MLP.from_pretrained(no_user_folder / _NO_USER / "saved").activation == "gelu"


def test_a_path_the_cli_cannot_expand_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(location: object) -> object:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(cli, "expand_location", refuse)
    with pytest.raises(SystemExit) as exited:
        main(["inspect", "~x/model"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "hubmixin: error: '~x/model': cannot expand ~ (RuntimeError: Could not determine home directory.)"
    ]


class _PathLike:
    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


def test_inspect_checkpoint_takes_any_path_like(tmp_path: Path) -> None:
    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "model.safetensors"))
    with os.scandir(tmp_path) as entries:
        entry = next(entries)
        assert inspect_checkpoint(entry).parameters == 3  # was AttributeError: no attribute 'startswith'
    assert inspect_checkpoint(_PathLike(str(tmp_path))).parameters == 3
    assert inspect_checkpoint(str(tmp_path)).source == str(tmp_path)


@pytest.mark.parametrize("status", [500, 503, 504])
def test_inspect_reads_the_hub_cache_while_the_hub_answers_a_server_error(
    status: int, local_hub: LocalHub, capsys: pytest.CaptureFixture[str]
) -> None:
    cached, uncached = f"{local_hub.username}/cached", f"{local_hub.username}/uncached"
    for repo_id in (cached, uncached):
        MLP().push_to_hub(repo_id)
    MLP.from_pretrained(cached)  # into the Hub cache
    capsys.readouterr()
    local_hub.inject_fault(Fault(status=status, times=None))
    assert main(["inspect", cached, "--json"]) == 0, capsys.readouterr().err  # as from_pretrained loads it
    assert json.loads(capsys.readouterr().out)["parameters"] == sum(w.size for w in MLP().weights.values())
    assert main(["inspect", uncached]) == 1  # not cached: both readings of the name, and the Hub's own error
    assert capsys.readouterr().err.splitlines() == [
        f"hubmixin: error: {uncached!r} is neither a local file or directory ({Path(uncached).absolute()} does not "
        "exist) nor a repository in the Hub cache, and the Hub answered HfHubHTTPError: Fault injected by LocalHub "
        f"({status} on route 'repo-info')"  # (the first request: the revision's commit)
    ]


@pytest.mark.parametrize(
    ("index", "says"),
    [
        (b"{nope", "cannot read shard index"),
        (b"[1]", "shard index has no 'weight_map' object"),
        (json.dumps({"weight_map": {"a": "../a.safetensors"}}).encode(), "refusing file name '../a.safetensors'"),
    ],
    ids=["not-json", "a-list", "escaping"],
)
def test_a_malformed_hub_index_is_named_as_a_file_of_the_repository(
    index: bytes, says: str, local_hub: LocalHub, capsys: pytest.CaptureFixture[str]
) -> None:
    repo_id = f"{local_hub.username}/bad-index"
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=index, path_in_repo="model.safetensors.index.json", repo_id=repo_id)
    capsys.readouterr()
    assert main(["inspect", repo_id]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"hubmixin: error: {repo_id}/model.safetensors.index.json: "), error  # was the cache path
    assert says in error and len(error.splitlines()) == 1


def _header(*shapes: list[int]) -> bytes:
    raw = json.dumps({f"t{i}": {"dtype": "F32", "shape": s, "data_offsets": [0, 0]} for i, s in enumerate(shapes)})
    return struct.pack("<Q", len(raw)) + raw.encode()


@pytest.mark.parametrize(
    "shapes",
    [[[10**18] * 260], [[2**63], [2**63]]],
    ids=["a-count-of-4680-digits", "a-total-past-2**64"],
)
def test_local_hub_model_info_omits_a_count_no_64_bit_integer_holds(
    shapes: list[list[int]], local_hub: LocalHub
) -> None:
    repo_id = f"{local_hub.username}/huge"
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=_header(*shapes), path_in_repo="model.safetensors", repo_id=repo_id)
    assert api.model_info(repo_id).safetensors is None  # was a 500 (the count could not be written as JSON)
    MLP().push_to_hub(repo_id)  # (a push asks repo_info first: was refused by that 500)
    info = api.model_info(repo_id).safetensors
    assert info is not None and info.total == sum(w.size for w in MLP().weights.values())


def test_local_hub_model_info_counts_an_empty_tensor_of_large_dimensions(local_hub: LocalHub) -> None:
    repo_id = f"{local_hub.username}/empty"
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=_header([2**63, 2**63, 0], [3]), path_in_repo="model.safetensors", repo_id=repo_id)
    info = api.model_info(repo_id).safetensors
    assert info is not None and info.total == 3


def test_a_local_hub_root_named_tilde_name_of_no_user_is_taken_as_it_is(no_user_folder: Path) -> None:
    with LocalHub(f"{_NO_USER}/hub-data") as hub:  # was RuntimeError: Could not determine home directory
        assert hub.root == no_user_folder / _NO_USER / "hub-data"
