"""Saves cut short: a killed run's staging directory whose process ID another process now has, and the
file-by-file fallback (the target is a working directory) stopped at each step."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from core_models import MLP
from safetensors.numpy import save_file

from hubmixin_core import DownloadOptions, _atomic
from hubmixin_core._atomic import _host, remove_interrupted_saves
from hubmixin_core.errors import HubMixinError
from hubmixin_core.weights import open_checkpoint

posix_locks = pytest.mark.skipif(sys.platform == "win32", reason="locks are POSIX file locks")


def _staging(target: Path, pid: int) -> Path:
    staging = target.parent / f".{target.name}.hubmixin-{_host()}-{pid}-abc.tmp"
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"\0" * 64)
    return staging


@posix_locks
def test_a_killed_runs_staging_with_this_process_pid_is_removed(tmp_path: Path) -> None:
    # A restarted container's entrypoint has the PID of the run that was killed mid-save (PID 1).
    target = tmp_path / "model"
    stale = _staging(target, os.getpid())
    MLP().save_pretrained(target)
    assert not stale.exists()  # was kept forever: "ours, another save of this process may be writing it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The PID of a live process that is not saving anything."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


@posix_locks
def test_an_unlocked_staging_whose_pid_another_process_reused_is_removed_once_old(
    tmp_path: Path, live_pid: int
) -> None:
    target = tmp_path / "model"
    stale = _staging(target, live_pid)
    assert remove_interrupted_saves(target) == []  # fresh: that process may be about to lock it
    old = time.time() - 2 * 60
    os.utime(stale, (old, old))
    assert remove_interrupted_saves(target) == [stale]


@posix_locks
def test_a_locked_staging_of_a_live_process_is_kept_however_old(tmp_path: Path, live_pid: int) -> None:
    import fcntl

    target = tmp_path / "model"
    staging = _staging(target, live_pid)
    old = time.time() - 3600
    os.utime(staging, (old, old))
    held = os.open(staging, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_SH)  # as the saving process holds it
    try:
        assert remove_interrupted_saves(target) == []
    finally:
        os.close(held)


@posix_locks
def test_a_push_removes_the_copies_that_killed_pushes_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, live_pid: int
) -> None:
    import fcntl

    from hubmixin_core._atomic import push_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    left = {pid: tmp_path / f"hubmixin-push-{_host()}-{pid}-x1" for pid in (done.pid, os.getpid(), live_pid)}
    for folder in left.values():
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "model.safetensors").write_bytes(b"\0" * 64)
    held = os.open(left[live_pid], os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_SH)  # a push running in that process
    try:
        with push_folder() as folder:
            assert folder.parent == tmp_path and folder.name.startswith(f"hubmixin-push-{_host()}-{os.getpid()}-")
            with push_folder():  # a second push of this process leaves the first one's folder alone
                assert folder.is_dir()
    finally:
        os.close(held)
    assert sorted(tmp_path.iterdir()) == [left[live_pid]]  # a dead process's, and a killed run's with our PID, gone


class _Killed(BaseException):
    """Stands for a kill: raised in place of one file operation of the save."""


class _ShardedMLP(MLP):
    max_shard_size = 40


def _fail_at(monkeypatch: pytest.MonkeyPatch, step: int) -> list[int]:
    """Make the save's ``step``-th file move or removal raise :class:`_Killed` (once); returns the step counter."""
    count = [0]
    replace, unlink = _atomic._replace_file, Path.unlink

    def tick() -> None:
        count[0] += 1
        if count[0] == step:
            raise _Killed

    def replace_file(source: Path, destination: Path) -> None:
        tick()
        replace(source, destination)

    def remove(path: Path, missing_ok: bool = False) -> None:
        if path.parent.name == "model":  # a file of the target (not of the staging directory)
            tick()
        unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(_atomic, "_replace_file", replace_file)
    monkeypatch.setattr(Path, "unlink", remove)
    return count


class _TwoFolderMLP(MLP):
    """Saves ``fc1`` as ``encoder/model.safetensors``, the rest as ``model.safetensors``: two single files."""

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "encoder").mkdir()
        encoder = {k: v for k, v in self.weights.items() if k.startswith("fc1.")}
        save_file(encoder, save_directory / "encoder" / "model.safetensors")
        rest = {k: v for k, v in self.weights.items() if k not in encoder}
        save_file(rest, save_directory / "model.safetensors")

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Any:
        model = cls(**model_kwargs)
        weights = {}
        for folder in (Path(model_id), Path(model_id) / "encoder"):
            checkpoint = open_checkpoint(str(folder), download)
            weights.update(checkpoint.read(list(checkpoint.infos)))
        assert weights.keys() == model.weights.keys()
        model.weights = weights
        return model


def _state(target: Path, old: MLP, new: MLP) -> str:
    """``"old"``, ``"new"``, ``"error"`` (a typed error), or ``"WEIGHTS+CONFIG"`` saying which save each came from
    (``mixed`` weights: some tensors of each save)."""
    try:
        loaded = type(new).from_pretrained(target)
    except HubMixinError:
        return "error"
    sources = {_source(value, old.weights[name], new.weights[name]) for name, value in loaded.weights.items()}
    weights = sources.pop() if len(sources) == 1 else "mixed"
    config = "new" if loaded.activation == new.activation else "old"
    return weights if weights == config else f"{weights} weights+{config} config"


def _source(value: Any, old: Any, new: Any) -> str:
    return "new" if np.array_equal(value, new) else "old" if np.array_equal(value, old) else "?"


_OVERWRITES = {
    "single-to-sharded": (MLP, _ShardedMLP),
    "sharded-to-single": (_ShardedMLP, MLP),
    "sharded-to-sharded": (_ShardedMLP, _ShardedMLP),  # the same shard names: saved again over itself
    "single-to-single": (MLP, MLP),
    "two-folders": (_TwoFolderMLP, _TwoFolderMLP),
}


@pytest.mark.parametrize("classes", _OVERWRITES.values(), ids=_OVERWRITES.keys())
def test_a_save_moving_files_one_by_one_never_leaves_old_weights_beside_new_ones(
    classes: tuple[type[MLP], type[MLP]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_class, new_class = classes
    old, new = old_class(seed=0, activation="relu"), new_class(seed=1, activation="tanh")
    states: dict[int, str] = {}
    for step in range(1, 40):
        target = tmp_path / str(step) / "model"
        old.save_pretrained(target)
        with monkeypatch.context() as patch:
            patch.chdir(target)  # the working directory cannot be exchanged: files are moved one at a time
            count = _fail_at(patch, step)
            with contextlib.suppress(_Killed):
                new.save_pretrained(target)
        states[step] = _state(target, old, new)
        if count[0] < step:  # the save ran whole
            assert states[step] == "new"
            break
    mixed = {step: state for step, state in states.items() if state not in ("old", "new", "error")}
    # Only a kill between the last weights file and config.json leaves the new weights beside the old config.
    assert list(mixed.values()) in ([], ["new weights+old config"]), states
    if old_class is not MLP or new_class is not MLP:  # (one file replaced in one step: the old stays till then)
        assert "error" in states.values(), states  # the old weights went first
