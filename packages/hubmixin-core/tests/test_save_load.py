"""save_pretrained / from_pretrained against local directories: files written, atomicity, library files kept."""

from __future__ import annotations

import errno
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Self

import numpy as np
import pytest
from core_models import MLP

from hubmixin_core import ModelHubMixin, _atomic
from hubmixin_core._atomic import _host, remove_interrupted_saves
from hubmixin_core.errors import (
    ConfigError,
    HubMixinOSError,
    SaveLocationError,
    WeightsError,
    WeightsNotFoundError,
    WeightsShapeError,
)


def test_save_writes_weights_config_and_card_and_load_restores_weights(tmp_path: Path) -> None:
    model = MLP(seed=3)
    assert model.save_pretrained(tmp_path / "m") is None
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    loaded = MLP.from_pretrained(tmp_path / "m")
    assert isinstance(loaded, MLP)
    for name, array in model.weights.items():
        np.testing.assert_array_equal(loaded.weights[name], array)


def test_from_pretrained_returns_the_calling_subclass(tmp_path: Path) -> None:
    class Sub(MLP):
        pass

    Sub().save_pretrained(tmp_path)
    assert type(Sub.from_pretrained(tmp_path)) is Sub


def test_library_written_config_is_kept(tmp_path: Path) -> None:
    class OwnConfig(MLP):
        def _save_pretrained(self, save_directory: Path) -> None:
            super()._save_pretrained(save_directory)
            (save_directory / "config.json").write_text('{"hidden": 8, "written_by": "library"}')

    OwnConfig().save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"hidden": 8, "written_by": "library"}


def test_failing_save_leaves_no_partial_directory(tmp_path: Path) -> None:
    class Broken(MLP):
        def _save_pretrained(self, save_directory: Path) -> None:
            (save_directory / "model.safetensors").write_bytes(b"half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        Broken().save_pretrained(tmp_path / "new")
    assert list(tmp_path.iterdir()) == []


def test_failing_save_leaves_an_existing_directory_untouched(tmp_path: Path) -> None:
    MLP(seed=1).save_pretrained(tmp_path / "m")
    before = {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()}

    class Broken(MLP):
        def _save_pretrained(self, save_directory: Path) -> None:
            super()._save_pretrained(save_directory)
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        Broken(seed=2).save_pretrained(tmp_path / "m")
    assert {p.name: p.read_bytes() for p in (tmp_path / "m").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no staging directory left behind


def test_resave_replaces_stale_shards_and_keeps_other_files(tmp_path: Path) -> None:
    sharded = MLP(hidden=64)
    sharded.max_shard_size = 300
    sharded.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors.index.json").exists()
    (tmp_path / "notes.txt").write_text("mine")
    MLP(hidden=64).save_pretrained(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["README.md", "config.json", "model.safetensors", "notes.txt"]
    MLP.from_pretrained(tmp_path)


def test_resave_keeps_user_files_inside_folders_the_library_writes(tmp_path: Path) -> None:
    class WithTokenizer(MLP):
        def _save_pretrained(self, save_directory: Path) -> None:
            super()._save_pretrained(save_directory)
            (save_directory / "tokenizer").mkdir()
            (save_directory / "tokenizer" / "vocab.json").write_text(f'{{"hidden": {self.hidden}}}')

    WithTokenizer(hidden=8).save_pretrained(tmp_path)
    (tmp_path / "tokenizer" / "special_tokens_map.json").write_text("mine")
    (tmp_path / "tokenizer" / "extra").mkdir()
    (tmp_path / "tokenizer" / "extra" / "merges.txt").write_text("mine too")
    WithTokenizer(hidden=16).save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer" / "vocab.json").read_text() == '{"hidden": 16}'  # the new save's
    assert (tmp_path / "tokenizer" / "special_tokens_map.json").read_text() == "mine"
    assert (tmp_path / "tokenizer" / "extra" / "merges.txt").read_text() == "mine too"
    assert WithTokenizer.from_pretrained(tmp_path).hidden == 16


class WithEncoder(MLP):
    """Saves a sub-model into ``encoder/`` with its own save_pretrained, as composite models do."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.seed = seed

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        encoder = MLP(hidden=64, seed=self.seed)
        encoder.max_shard_size = self.max_shard_size
        encoder.save_pretrained(save_directory / "encoder")


@pytest.mark.parametrize("in_place", [False, True], ids=["exchanged", "moved-file-by-file"])
def test_resave_replaces_the_stale_weights_of_a_sub_folder_the_save_writes(
    tmp_path: Path, in_place: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "pipe"
    WithEncoder(seed=1).save_pretrained(target)  # encoder/model.safetensors
    (target / "encoder" / "notes.txt").write_text("mine")
    elsewhere = tmp_path / "elsewhere.safetensors"  # the old weights, kept elsewhere and linked
    (target / "encoder" / "model.safetensors").rename(elsewhere)
    (target / "encoder" / "model.safetensors").symlink_to(elsewhere)
    if in_place:
        monkeypatch.chdir(target)  # a directory a process works in cannot be exchanged: files move one by one
    sharded = WithEncoder(seed=2)
    sharded.max_shard_size = 300
    sharded.save_pretrained(target)  # encoder/ shards and their index
    names = sorted(p.name for p in (target / "encoder").iterdir())
    assert "model.safetensors" not in names and "model.safetensors.index.json" in names and "notes.txt" in names
    assert elsewhere.is_file()  # the link went, not what it pointed to
    loaded = MLP.from_pretrained(target / "encoder")
    np.testing.assert_array_equal(loaded.weights["fc1.weight"], MLP(hidden=64, seed=2).weights["fc1.weight"])


class RefreshesEncoderWeights(MLP):
    """Writes only the weights of ``encoder/`` (its config was written once, by another save)."""

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        (save_directory / "encoder").mkdir()
        super()._save_pretrained(save_directory / "encoder")
        (save_directory / "empty").mkdir()  # a folder the save makes and leaves empty


@pytest.mark.parametrize("in_place", [False, True], ids=["exchanged", "moved-file-by-file"])
def test_resave_keeps_the_files_of_a_sub_folder_it_writes_no_such_file_into(
    tmp_path: Path, in_place: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "pipe"
    MLP().save_pretrained(target / "encoder")  # the sub-model's own save: config.json, README.md, weights
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "model.safetensors").write_text("not this save's")
    (target / "linked").symlink_to(shared)  # a folder of the user's, elsewhere
    if in_place:
        monkeypatch.chdir(target)
    RefreshesEncoderWeights(seed=3).save_pretrained(target)
    assert sorted(p.name for p in (target / "encoder").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert (shared / "model.safetensors").read_text() == "not this save's" and (target / "linked").is_symlink()
    np.testing.assert_array_equal(
        MLP.from_pretrained(target / "encoder").weights["fc1.weight"], MLP(seed=3).weights["fc1.weight"]
    )


def test_sharded_model_roundtrips(tmp_path: Path) -> None:
    model = MLP(hidden=64)
    model.max_shard_size = 300
    model.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) >= 3
    loaded = MLP.from_pretrained(tmp_path)
    for name, array in model.weights.items():
        np.testing.assert_array_equal(loaded.weights[name], array)


def test_directory_without_config_loads_with_defaults(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    MLP().save_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    assert MLP.from_pretrained(tmp_path).hidden == 8
    assert "config.json not found" in caplog.text


def test_invalid_config_json_names_the_file(tmp_path: Path) -> None:
    MLP().save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json"):
        MLP.from_pretrained(tmp_path)


def test_missing_weights_name_the_directory(tmp_path: Path) -> None:
    MLP().save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(WeightsNotFoundError, match=r"model\.safetensors"):
        MLP.from_pretrained(tmp_path)


def test_shape_mismatch_names_the_key(tmp_path: Path) -> None:
    MLP(hidden=4).save_pretrained(tmp_path)
    with pytest.raises(WeightsShapeError, match=r"'fc1.bias' has shape \(4,\), the model expects \(5,\)"):
        MLP.from_pretrained(tmp_path, model_kwargs={"hidden": 5})


def test_reference_style_implementation_still_works(tmp_path: Path) -> None:
    """A `_from_pretrained` written for huggingface_hub (no endpoint, no max_workers) is called as before."""

    class Legacy(ModelHubMixin):
        def __init__(self, size: int = 1) -> None:
            self.size = size

        def _save_pretrained(self, save_directory: Path) -> None:
            (save_directory / "weights.txt").write_text(str(self.size))

        @classmethod
        def _from_pretrained(  # huggingface_hub's signature: no endpoint, no max_workers
            cls,
            *,
            model_id: str,
            revision: str | None,
            cache_dir: str | Path | None,
            force_download: bool,
            local_files_only: bool,
            token: str | bool | None,
            **model_kwargs: Any,
        ) -> Self:
            return cls(**model_kwargs)

    Legacy(size=4).save_pretrained(tmp_path)
    assert Legacy.from_pretrained(tmp_path).size == 4
    with pytest.raises(TypeError, match="endpoint"):
        Legacy.from_pretrained(tmp_path, endpoint="http://127.0.0.1:1")


@pytest.mark.parametrize("where", ["./missing-model", "/no/such/model", "a/b/c"])
def test_missing_local_directory_is_reported_as_such(where: str) -> None:
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        MLP.from_pretrained(where)


def test_missing_path_object_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MLP.from_pretrained(tmp_path / "nothing")


def _saved_hidden(path: Path | str) -> int:
    return int(json.loads((Path(path) / "config.json").read_text())["hidden"])


def test_save_through_a_symlink_writes_where_it_points(tmp_path: Path) -> None:
    real = tmp_path / "real"
    MLP(hidden=3).save_pretrained(real)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    MLP(hidden=5).save_pretrained(tmp_path / "link")
    assert (tmp_path / "link").is_symlink()  # still the link
    assert _saved_hidden(real) == 5 and MLP.from_pretrained(tmp_path / "link").hidden == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]  # no leftovers


def test_save_into_the_working_directory_keeps_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    MLP(hidden=4).save_pretrained(".")
    MLP(hidden=6).save_pretrained(".")
    assert Path.cwd() == work and Path("config.json").is_file()  # the process did not lose its directory
    assert _saved_hidden(".") == 6 and (work / "notes.txt").read_text() == "mine"
    MLP(hidden=7).save_pretrained(work / "sub")
    MLP(hidden=8).save_pretrained("sub/..")  # ".." resolved: the working directory again
    assert _saved_hidden(work) == 8


def test_save_into_a_file_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file") as info:  # as huggingface_hub's mixin raises
        MLP().save_pretrained(tmp_path / "file")
    assert isinstance(info.value, SaveLocationError) and isinstance(info.value, HubMixinOSError)
    with pytest.raises(NotADirectoryError, match=f"its parent {tmp_path / 'file'} is a file") as below:  # hf's too
        MLP().save_pretrained(tmp_path / "file" / "model")
    assert isinstance(below.value, SaveLocationError)
    assert (tmp_path / "file").read_text() == "x"


def test_leftovers_of_this_machine_go_and_those_of_others_wait_a_day(tmp_path: Path) -> None:
    MLP().save_pretrained(tmp_path / "m")
    dead = 2**22 + 1  # above Linux's highest pid_max: no process has this id
    ours = tmp_path / f".m.hubmixin-{_host()}-{dead}-abc.tmp"
    legacy = tmp_path / f".m.hubmixin-{dead}-abc.tmp"  # named before hosts were
    other = tmp_path / f".m.hubmixin-h00000000-{dead}-abc.tmp"  # another node of a cluster, on a shared disk
    old_other = tmp_path / f".m.hubmixin-h00000000-{dead}-old.tmp"
    for path in (ours, legacy, other, old_other):
        path.mkdir()
    os.utime(old_other, (0, 0))
    assert sorted(remove_interrupted_saves(tmp_path / "m")) == sorted([ours, legacy, old_other])
    assert other.is_dir()


def test_a_load_by_a_string_path_cleans_up_too(tmp_path: Path) -> None:
    MLP().save_pretrained(tmp_path / "m")
    leftover = tmp_path / f".m.hubmixin-{_host()}-{2**22 + 1}-abc.tmp"
    leftover.mkdir()
    os.chdir(tmp_path)
    MLP.from_pretrained("m")  # relative, as a string
    assert not leftover.exists()


_FULL_DISK = """
import resource, signal, sys
import numpy as np
from hubmixin_core.weights import TensorInfo, write_safetensors
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
weight = np.ones((64, 64), np.float32)
try:
    write_safetensors(sys.argv[1], {"w": TensorInfo((64, 64), "F32")}, lambda name: weight.view(np.uint8))
except Exception as error:
    print(type(error).__name__, isinstance(error, OSError), error)
"""


def test_a_write_failing_for_lack_of_space_is_a_typed_error_naming_the_file(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(tmp_path)], capture_output=True, text=True, env=env, timeout=120
    )
    output = done.stdout + done.stderr
    assert done.stdout.startswith("HubMixinOSError True") and "cannot write model.safetensors" in output, output


def test_part_files_of_a_killed_file_by_file_save_go_with_its_process(tmp_path: Path) -> None:
    MLP().save_pretrained(tmp_path / "m")
    dead = 2**22 + 1
    ours = tmp_path / "m" / f".model.safetensors.hubmixin-{_host()}-{dead}.part"
    live = tmp_path / "m" / f".model.safetensors.hubmixin-{_host()}-{os.getpid()}.part"  # a save in progress
    other = tmp_path / "m" / f".config.json.hubmixin-h00000000-{dead}.part"  # another node's, until a day old
    mine = tmp_path / "m" / "notes.part"  # not ours
    for path in (ours, live, other, mine):
        path.write_bytes(b"partial")
    assert remove_interrupted_saves(tmp_path / "m") == [ours]
    assert live.is_file() and other.is_file() and mine.is_file()
    os.utime(other, (0, 0))
    assert remove_interrupted_saves(tmp_path / "m") == [other]
    MLP.from_pretrained(tmp_path / "m")  # a load cleans up as well
    assert live.is_file() and mine.is_file()


def test_a_failed_copy_across_file_systems_leaves_no_part_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, destination = tmp_path / "staged", tmp_path / "target" / "model.safetensors"
    source.write_bytes(b"new")
    destination.parent.mkdir()
    destination.write_bytes(b"old")
    replace = Path.replace

    def across_devices(self: Path, target: str | os.PathLike[str]) -> Path:
        if self == source:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return replace(self, target)

    def disk_full(src: Path, dst: Path) -> None:
        Path(dst).write_bytes(b"ne")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "replace", across_devices)
    monkeypatch.setattr(shutil, "copy2", disk_full)
    with pytest.raises(OSError, match="No space left"):
        _atomic._replace_file(source, destination)
    assert sorted(p.name for p in destination.parent.iterdir()) == ["model.safetensors"]
    assert destination.read_bytes() == b"old"
    monkeypatch.undo()
    _atomic._replace_file(source, destination)
    assert destination.read_bytes() == b"new"


def test_a_load_of_a_target_never_saved_removes_the_staging_of_its_killed_first_save(tmp_path: Path) -> None:
    dead = 2**22 + 1
    staging = tmp_path / f".m.hubmixin-{_host()}-{dead}-abcd1234.tmp"  # killed before "m" first existed
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"partial")
    live, _ = _atomic._make_staging(tmp_path / "m")  # a save of this process in progress (one it knows as its own)
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        MLP.from_pretrained(tmp_path / "m")
    assert not staging.exists() and live.is_dir()
    _atomic._OURS.discard(live.name)


def test_a_load_racing_saves_to_the_same_directory_reads_one_save(tmp_path: Path) -> None:
    models = [MLP(seed=0, activation="relu"), MLP(seed=1, activation="gelu")]
    target = tmp_path / "m"
    models[0].save_pretrained(target)
    stop = threading.Event()

    def keep_saving() -> None:
        for i in itertools.count():
            if stop.wait(0.005):  # (a pause between saves, as training leaves: a load gets a window on a busy CI)
                return
            models[i % 2].save_pretrained(target)

    saver = threading.Thread(target=keep_saving)
    saver.start()
    try:
        for _ in range(60):
            loaded = MLP.from_pretrained(target)
            source = models[0] if loaded.activation == "relu" else models[1]  # the config says which save
            for name, array in source.weights.items():
                np.testing.assert_array_equal(loaded.weights[name], array)  # and the weights are that save's
    finally:
        stop.set()
        saver.join()


def test_a_directory_that_never_holds_still_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    MLP().save_pretrained(tmp_path)
    stamps = itertools.count()
    monkeypatch.setattr("hubmixin_core._base.save_stamp", lambda target, read: next(stamps))  # a save lands every time
    with pytest.raises(WeightsError, match="changed while it was read, 5 times in a row"):
        MLP.from_pretrained(tmp_path)
