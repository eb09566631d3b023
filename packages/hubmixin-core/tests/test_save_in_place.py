"""Saving over a directory others use too: what they write meanwhile, volumes mounted in it, its owner, group and
set-group-ID bit, a parent the saver cannot write, long names, and a save in progress seen from elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import MLP

from hubmixin_core._atomic import _host, remove_interrupted_saves

needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")


def _assert_loads(path: Path, model: MLP) -> None:
    loaded = MLP.from_pretrained(path)
    for name, value in model.weights.items():
        np.testing.assert_array_equal(loaded.weights[name], value)


def test_files_written_into_the_directory_during_saves_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "run"
    MLP().save_pretrained(target)
    written: list[str] = []
    done = threading.Event()

    def log() -> None:
        step = 0
        while not done.is_set():
            name = f"step-{step}.json"
            (target / name).write_text("{}")
            written.append(name)
            step += 1
            time.sleep(0.001)  # a busy logger, not a flood

    logger = threading.Thread(target=log)
    logger.start()
    try:
        for seed in range(15):
            MLP(seed=seed).save_pretrained(target)
    finally:
        done.set()
        logger.join()
    assert sorted(set(written) - {p.name for p in target.iterdir()}) == []
    _assert_loads(target, MLP(seed=14))


@needs_root
def test_a_volume_mounted_in_the_directory_is_left_alone(tmp_path: Path) -> None:
    volume, target = tmp_path / "volume", tmp_path / "run"
    volume.mkdir()
    (volume / "dataset.bin").write_bytes(b"x" * 100)
    MLP().save_pretrained(target)
    (target / "data").mkdir()
    if subprocess.run(["mount", "--bind", str(volume), str(target / "data")], capture_output=True).returncode:
        pytest.skip("cannot bind-mount here")
    try:
        MLP(seed=1).save_pretrained(target)
        assert (volume / "dataset.bin").read_bytes() == b"x" * 100
        assert subprocess.run(["mountpoint", "-q", str(target / "data")]).returncode == 0  # still mounted there
    finally:  # wherever the mount went (a failing save moves it along with the old directory)
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            if str(tmp_path) in line.split(" ")[4]:
                subprocess.run(["umount", line.split(" ")[4]], capture_output=True)
    _assert_loads(target, MLP(seed=1))


@needs_root
def test_an_existing_directory_keeps_its_owner_and_group(tmp_path: Path) -> None:
    target = tmp_path / "team-model"
    MLP().save_pretrained(target)
    os.chown(target, 65534, 100)
    MLP(seed=1).save_pretrained(target)
    status = target.stat()
    assert (status.st_uid, status.st_gid) == (65534, 100)
    _assert_loads(target, MLP(seed=1))


def test_a_new_directory_in_a_group_shared_folder_keeps_the_set_group_id_bit(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    try:
        shared.chmod(0o2775)
    except PermissionError:
        pytest.skip("this user may not set the set-group-ID bit here")
    if not shared.stat().st_mode & stat.S_ISGID:
        pytest.skip("the file system ignores the set-group-ID bit")
    MLP().save_pretrained(shared / "model")
    assert (shared / "model").stat().st_mode & stat.S_ISGID


def test_a_directory_whose_parent_cannot_be_written_is_saved_from_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "mine"
    MLP().save_pretrained(target)
    (target / "notes.md").write_text("kept")
    make = tempfile.mkdtemp

    def refused_beside(*args: Any, **kwargs: Any) -> str:
        if Path(kwargs["dir"]) == tmp_path:  # as for a user owning the folder, not its parent
            raise PermissionError(13, "Permission denied", kwargs["dir"])
        return str(make(*args, **kwargs))

    monkeypatch.setattr(tempfile, "mkdtemp", refused_beside)
    MLP(seed=1).save_pretrained(target)
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "config.json", "model.safetensors", "notes.md"]
    _assert_loads(target, MLP(seed=1))


def test_a_directory_name_of_any_valid_length_is_saved(tmp_path: Path) -> None:
    target = tmp_path / ("run-" + "x" * 240)
    MLP().save_pretrained(target)
    MLP(seed=1).save_pretrained(target)
    _assert_loads(target, MLP(seed=1))
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


@pytest.mark.skipif(sys.platform == "win32", reason="locks are POSIX file locks")
def test_a_save_in_progress_elsewhere_is_not_taken_for_abandoned(tmp_path: Path) -> None:
    import fcntl

    MLP().save_pretrained(tmp_path / "m")
    staging = tmp_path / f".m.hubmixin-{_host()}-{2**22 + 1}-abc.tmp"  # its process unknown here (another PID ns)
    staging.mkdir()
    held = os.open(staging, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_SH)  # as the saving process holds it
    try:
        assert remove_interrupted_saves(tmp_path / "m") == []
    finally:
        os.close(held)
    assert remove_interrupted_saves(tmp_path / "m") == [staging]


@needs_root
def test_entries_of_other_users_keep_their_owner(tmp_path: Path) -> None:
    target = tmp_path / "run"
    MLP().save_pretrained(target)
    (target / "results").mkdir()
    (target / "results" / "eval.json").write_text("{}")
    (target / "secret.txt").write_text("theirs")
    for path in (target / "results", target / "results" / "eval.json", target / "secret.txt"):
        os.chown(path, 2, 2)
    (target / "secret.txt").chmod(0o600)
    MLP(seed=1).save_pretrained(target)
    owners = {p.relative_to(target).as_posix(): p.stat().st_uid for p in target.rglob("*")}
    assert owners["results"] == owners["results/eval.json"] == owners["secret.txt"] == 2
    assert (target / "secret.txt").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    _assert_loads(target, MLP(seed=1))


@pytest.mark.skipif(sys.platform == "win32", reason="locks are POSIX file locks")
def test_a_save_moving_files_in_one_by_one_waits_for_a_load_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubmixin_core._atomic import reading

    target = tmp_path / "run"
    MLP().save_pretrained(target)
    monkeypatch.chdir(target)  # the working directory cannot be exchanged: saved file by file
    done = threading.Event()

    def save() -> None:
        MLP(seed=1).save_pretrained(target)
        done.set()

    with reading(target):  # as a load holds it
        saver = threading.Thread(target=save)
        saver.start()
        time.sleep(0.5)
        assert not done.is_set()
        _assert_loads(target, MLP())  # the old save, whole
    saver.join(timeout=30)
    assert done.is_set()
    _assert_loads(target, MLP(seed=1))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_a_directory_its_user_made_read_only_is_not_saved_over(tmp_path: Path) -> None:
    from hubmixin_core.errors import HubMixinOSError

    target = tmp_path / "frozen"
    MLP().save_pretrained(target)
    target.chmod(0o555)
    try:
        with pytest.raises(HubMixinOSError, match="not writable"):
            MLP(seed=1).save_pretrained(target)
    finally:
        target.chmod(0o755)
    _assert_loads(target, MLP())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frozen"]


_READ_ONLY_FOLDER_SAVE = """
import json, os, shutil, sys
from pathlib import Path
from typing import Any
from hubmixin_core import DownloadOptions, ModelHubMixin

base = Path(sys.argv[1])
assets = base / "assets"  # a packaged tokenizer folder, read-only: copytree keeps its mode
assets.mkdir()
(assets / "vocab.txt").write_text("a")
assets.chmod(0o555)

class M(ModelHubMixin):
    def __init__(self, size: int = 2) -> None:
        self.size = size
    def _save_pretrained(self, save_directory: Path) -> None:
        shutil.copytree(assets, save_directory / "tokenizer")
    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> "M":
        return cls(**model_kwargs)

target = base / "model"
M().save_pretrained(target)
(target / "tokenizer").chmod(0o755)
(target / "tokenizer" / "special_tokens_map.json").write_text("mine")
(target / "tokenizer").chmod(0o555)
if sys.argv[2] == "in-place":
    os.chdir(target)  # a directory a process works in cannot be exchanged: files move one by one
M(size=3).save_pretrained(target)
print(json.dumps(sorted(p.relative_to(base).as_posix() for p in base.rglob("*"))))
"""


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
@pytest.mark.parametrize("how", ["exchanged", "in-place"])
def test_a_read_only_folder_the_save_writes_keeps_the_user_file_added_to_it(how: str) -> None:
    as_user: list[str] = []
    if os.geteuid() == 0:  # root ignores folder modes: run as nobody
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("needs setpriv to drop root")
        as_user = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    base = Path(tempfile.mkdtemp())
    base.chmod(0o777)
    try:
        result = subprocess.run(
            [*as_user, sys.executable, "-c", _READ_ONLY_FOLDER_SAVE, str(base), how], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [
            "assets",
            "assets/vocab.txt",
            "model",
            "model/README.md",
            "model/config.json",
            "model/tokenizer",
            "model/tokenizer/special_tokens_map.json",
            "model/tokenizer/vocab.txt",
        ]  # the user's file kept, and no staging directory left behind
    finally:
        for folder in [base, *base.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)
        shutil.rmtree(base)
