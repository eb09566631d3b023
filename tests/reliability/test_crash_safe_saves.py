"""Saves killed at every step: the directory holds the complete old save or the complete new one, never a mix.

Each trial forks a process that saves a model, and SIGKILLs itself just before its k-th file-system mutation
(a ``mkdir``, a file opened for writing, a link, a chmod, a rename or exchange, an unlink, an ``rmdir``); k runs
from 1 until a save completes. After each kill, the directory is checked file by file and loaded: every
tensor and the config must all come from one save, the user's own files must be intact, and the load must have
removed what the killed save left beside the directory. Fresh saves and overwrites, switching between a
single file and shards.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import numpy as np
import pytest
from numpy.typing import NDArray
from safetensors.numpy import save_file

from hubmixin_core import DownloadOptions, ModelHubMixin, _atomic, _path_exchange
from hubmixin_core.weights import check_checkpoint, open_checkpoint, save_safetensors

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

Array = NDArray[Any]
USER_FILES = {"notes.txt": "mine\n", "README.md": "# my card\n", "extra/data.json": "{}\n"}
MUTATIONS = ("mkdir", "rename", "replace", "link", "unlink", "rmdir", "chmod", "symlink")


class Net(ModelHubMixin):
    """Four 8x8 tensors whose values say which save (``version``) they come from; sharded: two shards."""

    def __init__(self, version: int = 0, sharded: bool = False) -> None:
        self.version, self.sharded = version, sharded
        self.weights = {f"layer{i}.weight": np.full((8, 8), version * 10 + i, np.float32) for i in range(4)}

    def _save_pretrained(self, save_directory: Path) -> None:
        shard = 600 if self.sharded else None  # two 256-byte tensors per shard
        save_safetensors(
            self.weights, save_directory, save_file=save_file, nbytes=lambda a: a.nbytes, max_shard_size=shard
        )

    @classmethod
    def _from_pretrained(cls, *, model_id: str, download: DownloadOptions, model_kwargs: dict[str, Any]) -> Self:
        checkpoint = open_checkpoint(model_id, download)
        model = cls(**model_kwargs)
        check_checkpoint({k: info for k, info in checkpoint.infos.items()}, checkpoint, strict=True)
        model.weights = checkpoint.read(list(checkpoint.infos))
        return model


def _files(model: Net) -> set[str]:
    if not model.sharded:
        return {"model.safetensors", "config.json"}
    shards = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
    return {*shards, "model.safetensors.index.json", "config.json"}


@contextlib.contextmanager
def _killed_at(step: int) -> Iterator[None]:
    """SIGKILL this process just before its ``step``-th file-system mutation."""
    count = 0

    def counted(function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            nonlocal count
            count += 1
            if count == step:
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args, **kwargs)

        return call

    def opened(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(c in mode for c in "wax+"):
            return counted(original_open)(file, mode, *args, **kwargs)
        return original_open(file, mode, *args, **kwargs)

    original_open = builtins.open
    for name in MUTATIONS:
        setattr(os, name, counted(getattr(os, name)))
    builtins.open = io.open = opened
    _atomic.exchange = counted(_path_exchange.exchange)  # type: ignore[attr-defined]  # (_atomic calls its import)
    yield


def _save_in_child(directory: Path, model: Net, step: int) -> bool:
    """Save ``model`` in a forked process killed at ``step``; whether it was killed."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            with _killed_at(step):
                model.save_pretrained(directory)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        assert os.WTERMSIG(status) == signal.SIGKILL
        return True
    assert os.WEXITSTATUS(status) == 0, "the save failed on its own"
    return False


def _state(directory: Path, candidates: list[Net], *, fresh: bool) -> Net | None:
    """The save ``directory`` holds completely (``None``: no directory), after checking it file by file.

    A fresh save writes its model card too; an overwrite keeps the user's files (their README among them).
    """
    if not directory.exists():
        return None
    names = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    user = {"README.md"} if fresh else {name for name in names if name in USER_FILES}
    for name in user - {"README.md"} if fresh else user:
        assert (directory / name).read_text() == USER_FILES[name], name
    if not fresh:
        assert user == set(USER_FILES), f"user files lost: {sorted(set(USER_FILES) - user)}"
    config = json.loads((directory / "config.json").read_text())
    saved = next(m for m in candidates if m.version == config["version"])
    assert names - user == _files(saved), f"files {sorted(names)} are not those of save {saved.version}"
    loaded = Net.from_pretrained(directory)
    assert loaded.weights.keys() == saved.weights.keys()
    for name, array in saved.weights.items():
        np.testing.assert_array_equal(loaded.weights[name], array, err_msg=f"{name} of save {saved.version}")
    return saved


def _staging_left(directory: Path) -> list[str]:
    return [p.name for p in directory.parent.iterdir() if p.name.startswith(f".{directory.name}.")]


@pytest.mark.parametrize(
    ("old_sharded", "new_sharded"),
    [(None, False), (None, True), (False, False), (False, True), (True, False), (True, True)],
)
def test_a_save_killed_at_any_step_leaves_the_old_or_the_new(
    tmp_path: Path, old_sharded: bool | None, new_sharded: bool
) -> None:
    """``old_sharded`` None: a fresh save; else an overwrite of a directory holding the user's own files."""
    directory = tmp_path / "model"
    old, new = Net(version=1, sharded=bool(old_sharded)), Net(version=2, sharded=new_sharded)
    steps_killed = 0
    for step in range(1, 200):
        if directory.exists():
            Net.from_pretrained(directory)  # a load cleans up what the last kill left
            assert not _staging_left(directory)
        shutil.rmtree(directory, ignore_errors=True)
        if old_sharded is not None:
            old.save_pretrained(directory)
            for name, text in USER_FILES.items():
                (directory / name).parent.mkdir(exist_ok=True)
                (directory / name).write_text(text)
        killed = _save_in_child(directory, new, step)
        state = _state(directory, [old, new], fresh=old_sharded is None)
        if not killed:
            assert state is new
            assert not _staging_left(directory)
            break
        steps_killed += 1
        assert state is (None if old_sharded is None else old) or state is new
    else:
        pytest.fail("the save never completed")
    assert steps_killed >= 5  # the save had that many steps to be killed at


def test_a_fresh_save_gets_the_umask_s_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        Net().save_pretrained(tmp_path / "model")
    finally:
        os.umask(previous)
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "model" / "config.json").stat().st_mode & 0o777 == 0o640


def test_an_overwrite_keeps_the_directory_s_own_permissions(tmp_path: Path) -> None:
    Net().save_pretrained(tmp_path / "model")
    (tmp_path / "model").chmod(0o711)
    Net(version=3).save_pretrained(tmp_path / "model")
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o711
    assert Net.from_pretrained(tmp_path / "model").version == 3


if sys.platform.startswith("linux"):

    def test_the_overwrite_is_one_exchange_on_linux(tmp_path: Path) -> None:
        Net(version=1).save_pretrained(tmp_path / "model")
        inode = (tmp_path / "model").stat().st_ino
        Net(version=2).save_pretrained(tmp_path / "model")
        assert (tmp_path / "model").stat().st_ino != inode  # the directory itself was swapped
