"""The clean-up of interrupted saves never follows a symbolic link: one named like a killed run's staging directory
(a tarball, a clone, another user of a shared folder can plant it) is left alone, with what it points to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from core_models import MLP

from hubmixin_core import _tree_removal
from hubmixin_core._atomic import _host, remove_interrupted_saves

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _victim(folder: Path) -> Path:
    """A folder of precious files outside the model folder."""
    victim = folder / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "important.txt").write_text("precious")
    (victim / "sub" / "thesis.tex").write_text("precious")
    return victim


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_link_named_like_a_staging_directory_inside_the_target_is_not_followed_by_a_load(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    target = tmp_path / "model"
    MLP().save_pretrained(target)
    link = target / f".model.hubmixin-{_dead_pid()}-evil.tmp"
    link.symlink_to("../victim")
    MLP.from_pretrained(target)
    assert _files(victim) == ["important.txt", "sub/thesis.tex"]  # were all deleted through the link
    assert link.is_symlink()  # not ours: left as it is


def test_a_link_named_like_a_staging_directory_beside_the_target_is_not_followed_by_a_save(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    target = tmp_path / "model"
    MLP().save_pretrained(target)
    link = tmp_path / f".model.hubmixin-{_host()}-{_dead_pid()}-evil.tmp"
    link.symlink_to("victim")
    MLP().save_pretrained(target)
    assert _files(victim) == ["important.txt", "sub/thesis.tex"]
    assert remove_interrupted_saves(target) == []
    assert link.is_symlink()


def test_a_real_abandoned_staging_directory_is_still_removed_and_its_links_not_followed(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    target = tmp_path / "model"
    staging = tmp_path / f".model.hubmixin-{_host()}-{_dead_pid()}-abc.tmp"
    (staging / "ro").mkdir(parents=True)
    (staging / "ro" / "weights").write_bytes(b"\0" * 8)
    (staging / "ro" / "out").symlink_to(victim)
    (staging / "file").symlink_to(victim / "important.txt")
    (staging / "ro").chmod(0o555)  # a read-only folder a save copied
    assert remove_interrupted_saves(target) == [staging]
    assert not os.path.lexists(staging)
    assert _files(victim) == ["important.txt", "sub/thesis.tex"]


def test_the_tree_removal_leaves_a_link_at_the_top_and_what_it_points_to(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(victim)
    _tree_removal.remove_tree(link)
    assert link.is_symlink()
    assert _files(victim) == ["important.txt", "sub/thesis.tex"]


def test_a_folder_swapped_for_a_link_after_its_check_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another user of a shared parent renames the checked folder away and puts a link in its place, between the
    # check and the walk: the walk opens folders without following links, and checks they are the checked ones.
    victim = _victim(tmp_path)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a").write_text("x")
    mounts_below = _tree_removal.mounts_below

    def swap(path: Path) -> list[Path]:  # (called between the check and the walk)
        folder.rename(tmp_path / "moved")
        folder.symlink_to(victim)
        return mounts_below(path)

    monkeypatch.setattr(_tree_removal, "mounts_below", swap)
    _tree_removal.remove_tree(folder)
    assert _files(victim) == ["important.txt", "sub/thesis.tex"]


def test_the_walk_by_path_follows_no_link_either(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What systems without directory descriptors (Windows) use.
    monkeypatch.setattr(_tree_removal, "_BY_DESCRIPTOR", False)
    victim = _victim(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(victim)
    _tree_removal.remove_tree(link)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "out").symlink_to(victim)
    _tree_removal.remove_tree(folder)
    assert link.is_symlink() and not os.path.lexists(folder)
    assert _files(victim) == ["important.txt", "sub/thesis.tex"]


def test_a_link_named_like_a_part_file_is_left(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    target = tmp_path / "model"
    MLP().save_pretrained(target)
    link = target / f".model.safetensors.hubmixin-{_dead_pid()}.part"
    link.symlink_to(victim / "important.txt")
    assert remove_interrupted_saves(target) == []
    assert link.is_symlink() and _files(victim) == ["important.txt", "sub/thesis.tex"]


@pytest.mark.skipif(not hasattr(os, "setxattr"), reason="extended attributes are read and set on Linux only")
def test_an_overwrite_keeps_the_directorys_extended_attributes(tmp_path: Path) -> None:
    target = tmp_path / "model"
    MLP().save_pretrained(target)
    try:
        os.setxattr(target, "user.origin", b"v1")
    except OSError as e:
        pytest.skip(f"no user extended attributes here ({e.strerror})")
    inode = target.stat().st_ino
    MLP().save_pretrained(target)
    assert target.stat().st_ino != inode  # (exchanged: the staging directory took its place)
    assert os.getxattr(target, "user.origin") == b"v1"  # was lost with the old directory
