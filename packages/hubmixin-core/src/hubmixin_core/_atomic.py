"""Write a model directory completely or not at all, even when the process is killed midway.

A save is written into a staging directory beside the target, ``.NAME.hubmixin-HOST-PID-XXXXXXXX.tmp`` (``HOST``: a
short hash of the machine's name); then:

- a new target appears with one ``rename``;
- an existing target is exchanged with the staging directory in one atomic step (Linux ``renameat2`` with
  ``RENAME_EXCHANGE``, macOS ``renamex_np`` with ``RENAME_SWAP``). Before it, the files of the target that the
  save does not manage (a README the user edited, notes, sub-folders, a file added to a folder the save writes)
  are hard-linked into the staging directory, so they are kept (in time that grows with their number); the
  managed ones (weights, ``config.json``) of the old save leave with the old directory, which then sits at the
  staging path and is removed.

So at any instant the target holds the complete old save or the complete new one; a load, which reads its files
one after the other, compares :func:`save_stamp` before and after and reads again if a save landed meanwhile, so
it never mixes them.
Files a user (or another program) creates in the target while the save runs are moved back after the exchange,
so nothing the save does not manage is lost. The old directory is removed without crossing into a file system
mounted inside it.
A kill leaves at most a staging directory (and, in a target saved file by file across file systems, one ``.part``
file); the next save or load of the same target removes those whose process is gone (directories and files
themselves: a symbolic link named like one is never followed, nor one inside). Where no atomic exchange exists
(Windows, some network file systems), or the target cannot move (a mount point, the working directory of this
process or, on Linux, which lists them in ``/proc``, of another, or one of its parents), or exchanging it would
change what the directory is (another owner or group than the saver's, another user's entries, access control lists,
a file system mounted inside it), files are moved one at a time, each whole, under an exclusive lock on the target
that loads share (:func:`reading`), so a load never reads two saves' files: the old save's stale weights removed
first, and its index (or single files) where the new save writes the same names and more than one weights file (a
checkpoint saved again with the same shard names: the old index would take the new shards beside the old ones),
then the new save's files, what completes its weights (the index, or ``model.safetensors``) last but one,
``config.json`` last. A kill or failure (Windows refuses to remove or replace a file in use) midway leaves the old
``config.json`` with the old weights or with none a load would take (a typed error); only a kill after the last
weights file moved in, before ``config.json`` does, leaves the new weights beside the old ``config.json``. Where
the target's parent cannot be written, the staging directory is made inside the target, and files are moved so too.
A symlink to a directory is followed: the save goes where it points.

The target gets the permissions a plain ``mkdir`` would give under the user's umask (the set-group-ID bit of a
group-shared parent included; an existing one keeps its own, its owner, its group and the extended attributes this
process may set); files get those ``open`` gives. A save in progress holds a lock on its staging directory, so no
other process (another container's PID namespace included) takes it for abandoned; an unlocked one is abandoned
once its process is gone, or, where its process ID now belongs to another process (a restarted container's
entrypoint has the killed one's), once it is a minute old (at once if that process is the one judging), on a file
system that enforces locks.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from hubmixin_core._path_exchange import exchange, exchanging_system
from hubmixin_core._processes import alive, holds_cwd, locked, locks_enforced
from hubmixin_core._tree_removal import RUNNING_AS_ROOT, mounts_below, real_directory, remove_tree
from hubmixin_core.errors import HubMixinOSError, SaveLocationError

if sys.platform != "win32":  # (Windows: no locks; a staging directory is judged by its process alone)
    import fcntl

__all__ = ["atomic_directory", "push_folder", "reading", "remove_interrupted_saves", "save_stamp"]

_STAGING = re.compile(r"^\.(?P<name>.+)\.hubmixin-(?:(?P<host>h[0-9a-f]{8})-)?(?P<pid>\d+)-[^.]+\.tmp$")
_PART = re.compile(r"^\..+\.hubmixin-(?:(?P<host>h[0-9a-f]{8})-)?(?P<pid>\d+)\.part$")
_PUSH = re.compile(r"^hubmixin-push-(?P<host>h[0-9a-f]{8})-(?P<pid>\d+)-[^.]+$")
_FOREIGN_AFTER_S = 24 * 3600  # another machine's staging directory is taken for abandoned after a day


@functools.cache
def _host() -> str:
    """This machine, in staging names: a process id means something on its own machine only (shared disks)."""
    return "h" + hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


_STEM_MAX = 160  # longest target name kept whole in a staging name (255 bytes at most; the rest takes ~45)


def _stem(name: str) -> str:
    """``name`` as staging names hold it: whole, or cut with a hash of it where a staging name would be too long."""
    encoded = os.fsencode(name)
    if len(encoded) <= _STEM_MAX:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:12]
    return encoded[:100].decode("utf-8", "ignore") + "~" + digest


_OURS: set[str] = set()
"""Names of the staging directories (and push folders) this process uses: one with our PID not here is a killed
run's."""
_OURS_LOCK = threading.Lock()


def _make_staging(target: Path) -> tuple[Path, bool]:
    """A fresh staging directory for ``target`` (see :func:`_new_staging`), known as ours before anyone sees it."""
    with _OURS_LOCK:
        staging, inside = _new_staging(target)
        _OURS.add(staging.name)
    return staging, inside


def _new_staging(target: Path) -> tuple[Path, bool]:
    """A fresh staging directory for ``target``: beside it, else (its parent cannot be written) inside it; and
    whether it is inside."""
    prefix = f".{_stem(target.name)}.hubmixin-{_host()}-{os.getpid()}-"
    try:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=target.parent)), False
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):  # (the OS names the staging directory)
            detail = f"cannot create a directory in {target.parent} ({e.strerror})"
            raise HubMixinOSError(e.errno, f"cannot save into {target}: {detail}") from e
        if target.is_dir() and os.access(target, os.W_OK | os.X_OK):
            return Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=target)), True
        where = target.parent if target.is_dir() or not target.exists() else target
        raise HubMixinOSError(e.errno, f"cannot save into {target}: {where} cannot be written ({e.strerror})") from e


@contextlib.contextmanager
def _naming_target(target: Path) -> Iterator[None]:
    """OS errors of the block (a name too long, a parent that cannot be made) as ``HubMixinOSError`` naming
    ``target``."""
    try:
        yield
    except HubMixinOSError:
        raise
    except OSError as e:
        where = f" ({e.filename})" if e.filename and Path(e.filename) in target.parents else ""
        raise HubMixinOSError(e.errno, f"cannot save into {target}: {e.strerror}{where}") from e


@contextlib.contextmanager
def atomic_directory(
    target: Path,
    *,
    replaces: Callable[[str], bool] = lambda _: False,
    replaces_in_folders: Callable[[str], bool] = lambda _: False,
) -> Iterator[Path]:
    """Yield an empty staging directory beside ``target``; on success it becomes ``target`` in one step.

    Files of an existing ``target`` that the save did not write are kept (at any depth), unless ``replaces(name)``
    claims them at the top (stale weight shards, an old ``config.json``), or ``replaces_in_folders(name)`` claims
    them in a sub-folder where the save writes such a file too (a sub-model's stale shards beside its new single
    file). If the body raises, ``target`` is left untouched and the staging directory is removed.
    """
    target = Path(os.path.realpath(target))  # a symlink's directory, and ".." resolved: saved where it points
    with _naming_target(target):
        if target.is_symlink():  # (what realpath leaves: a loop of links)
            raise SaveLocationError(errno.ELOOP, f"cannot save into {target}: a loop of symbolic links")
        if target.exists() and not target.is_dir():
            raise SaveLocationError(errno.EEXIST, f"cannot save into {target}: it is a file, not a directory")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as e:
            blocker = next((p for p in reversed(target.parents) if os.path.lexists(p) and not p.is_dir()), None)
            what = "a loop of symbolic links" if blocker is not None and blocker.is_symlink() else "a file"
            raise SaveLocationError(errno.ENOTDIR, f"cannot save into {target}: its parent {blocker} is {what}") from e
        remove_interrupted_saves(target)
        staging, inside = _make_staging(target)
    try:
        with contextlib.ExitStack() as locks:
            locks.enter_context(_locking(staging, exclusive=False))  # while it runs: no one takes it for abandoned
            yield staging
            managed = _managed_by(staging, replaces, replaces_in_folders)
            if inside:
                _move_into(staging, target, managed)
            else:
                _commit(staging, target, managed, locks)
    finally:
        remove_tree(staging)
        with _OURS_LOCK:
            _OURS.discard(staging.name)


def _commit(staging: Path, target: Path, managed: Callable[[str], bool], locks: contextlib.ExitStack) -> None:
    if not target.exists():
        staging.chmod(0o777 & ~_umask() | staging.stat().st_mode & stat.S_ISGID)  # a group-shared parent's
        try:
            staging.rename(target)
            return
        except OSError:  # created meanwhile by someone else: exchange with it
            pass
    if not os.access(target, os.W_OK | os.X_OK):  # the exchange needs only the parent's: refuse as a write would
        raise HubMixinOSError(errno.EACCES, f"cannot save into {target}: it is not writable")
    kept = _not_written(target, staging, managed)
    if os.path.ismount(target) or holds_cwd(target) or not _exchangeable(staging, target, kept):
        _move_into(staging, target, managed)  # the cwd cannot move either: the process would lose it
        return
    with _naming_target(target):
        for path in kept:
            destination = staging / path.relative_to(target)
            with contextlib.suppress(FileNotFoundError), _writable(destination.parent):  # (gone meanwhile)
                _link_tree(path, destination)
    _copy_attributes(target, staging)
    staging.chmod(target.stat().st_mode & 0o7777)
    old = contextlib.ExitStack()
    old.enter_context(_locking(target, exclusive=False))  # the old directory, at the staging path once exchanged
    if not exchange(staging, target):
        old.close()  # (_move_into locks the target exclusively: this shared lock would hold it up)
        _move_into(staging, target, managed)
        return
    locks.push(old)
    # staging now holds the old save: what was created in it meanwhile goes back; the caller's finally removes it
    _move_back(staging, target, managed)


def _copy_attributes(source: Path, destination: Path) -> None:
    """``source``'s extended attributes (a desktop tool's tags, a parallel file system's striping of new files) on
    ``destination`` too, those this process may set; none where the system has none (Linux alone tells them)."""
    if not hasattr(os, "listxattr"):
        return
    with contextlib.suppress(OSError):
        for name in os.listxattr(source, follow_symlinks=False):
            with contextlib.suppress(OSError):  # (one reserved to root, or the file system takes no such name)
                value = os.getxattr(source, name, follow_symlinks=False)
                os.setxattr(destination, name, value, follow_symlinks=False)


def _managed_by(
    staging: Path, replaces: Callable[[str], bool], replaces_in_folders: Callable[[str], bool]
) -> Callable[[str], bool]:
    """Whether the save in ``staging`` manages the entry at a path relative to the target: it wrote it, or it is
    one ``replaces`` claims at the top, or one ``replaces_in_folders`` claims in a sub-folder where the save wrote
    one too (``encoder/`` of a library saving a sub-model there: an old shard beside a new single file would be
    read instead; a folder the save writes no weights into keeps its files)."""
    written = {p.relative_to(staging).as_posix() for p in staging.rglob("*")}
    claimed = {name.rpartition("/")[0] for name in written if replaces_in_folders(name.rpartition("/")[2])}

    def managed(name: str) -> bool:
        folder, _, base = name.rpartition("/")
        if name in written:
            return True
        return replaces(base) if not folder else folder in claimed and replaces_in_folders(base)

    return managed


def _not_written(target: Path, staging: Path, managed: Callable[[str], bool]) -> list[Path]:
    """The entries of ``target`` the save did not write, at any depth (a folder both hold is merged: a file the
    user added to the library's ``tokenizer/`` is kept), except those the save manages (see :func:`_managed_by`)."""
    kept: list[Path] = []

    def walk(old: Path, new: Path) -> None:
        for entry in old.iterdir():
            counterpart = new / entry.name
            if not counterpart.exists() and not counterpart.is_symlink():
                if not managed(entry.relative_to(target).as_posix()):
                    kept.append(entry)
            elif _real_dir(entry) and _real_dir(counterpart):
                walk(entry, counterpart)

    walk(target, staging)
    return kept


@contextlib.contextmanager
def _writable(folder: Path) -> Iterator[None]:
    """``folder`` writable by its owner for the block (a read-only folder a save copied, to keep a user's file
    in it), then given its mode back."""
    mode = folder.stat().st_mode
    if RUNNING_AS_ROOT or os.access(folder, os.W_OK | os.X_OK):
        yield
        return
    folder.chmod(mode | stat.S_IWUSR | stat.S_IXUSR)
    try:
        yield
    finally:
        folder.chmod(stat.S_IMODE(mode))


def _real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _exchangeable(staging: Path, target: Path, kept: list[Path]) -> bool:
    """Whether the staging directory can take ``target``'s place and be the same directory to its users: the
    same owner and group (set where this process may), no access control lists, no file system mounted inside,
    and every entry kept ours to link (another user's file may not be hard-linked, nor its folder re-created as
    its own, except by root); never off Linux and macOS, which alone have an atomic exchange."""
    if not exchanging_system():
        return False
    status = target.stat()
    try:
        if status.st_uid != staging.stat().st_uid or status.st_gid != staging.stat().st_gid:
            os.chown(staging, status.st_uid, status.st_gid)  # root may; a member of the group may set the group
    except OSError:
        return False
    if hasattr(os, "listxattr"):
        with contextlib.suppress(OSError):
            if any(name.startswith("system.posix_acl") for name in os.listxattr(target)):
                return False
    return not mounts_below(target) and (RUNNING_AS_ROOT or all(_owned(path) for path in kept))


def _owned(path: Path) -> bool:
    """Whether ``path`` and everything under it belongs to this process' user (``True`` where it vanished)."""
    if not hasattr(os, "geteuid"):
        return True
    try:
        if path.lstat().st_uid != os.geteuid():
            return False
        if path.is_dir() and not path.is_symlink():
            return all(_owned(child) for child in path.iterdir())
    except FileNotFoundError:
        pass
    except OSError:  # unreadable: not ours to re-create
        return False
    return True


def _move_back(old: Path, new: Path, managed: Callable[[str], bool], prefix: str = "") -> None:
    """Move into ``new`` what was created (or replaced) in ``old`` after its entries were linked into ``new``:
    files another program wrote into the target while the save ran. ``managed`` names the save's own files, by
    their paths relative to the target."""
    with contextlib.suppress(OSError):
        for entry in old.iterdir():
            destination = new / entry.name
            if managed(prefix + entry.name):
                if _real_dir(entry) and _real_dir(destination):  # a folder the save wrote: what else came in it
                    _move_back(entry, destination, managed, f"{prefix}{entry.name}/")
                continue
            with contextlib.suppress(OSError):
                if not destination.exists() and not destination.is_symlink():
                    entry.rename(destination)
                elif _real_dir(entry) and destination.is_dir():
                    _move_back(entry, destination, managed, f"{prefix}{entry.name}/")
                elif entry.is_file() and not entry.is_symlink() and not entry.samefile(destination):
                    entry.replace(destination)  # replaced in the old directory after it was linked


def _link_tree(source: Path, destination: Path) -> None:
    """``source`` at ``destination`` too: files hard-linked (copied where links fail), folders re-created."""
    if source.is_symlink():
        destination.symlink_to(source.readlink())
    elif source.is_dir():
        destination.mkdir()
        for child in source.iterdir():
            with contextlib.suppress(FileNotFoundError):
                _link_tree(child, destination / child.name)
        shutil.copystat(source, destination)  # after its entries: a read-only folder takes none once its mode is set
        if RUNNING_AS_ROOT:  # a folder of another user stays theirs
            status = source.lstat()
            os.chown(destination, status.st_uid, status.st_gid)
    else:
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)


@contextlib.contextmanager
def reading(directory: str | Path) -> Iterator[None]:
    """Hold a shared lock on ``directory`` while a load reads it: a save moving files into it one at a time (see
    :func:`atomic_directory`) waits for the load to end, and the load for the save, so a load never reads the
    files of two saves (a save exchanging the directory whole needs no lock: loads compare :func:`save_stamp`)."""
    with _locking(Path(directory), exclusive=False):
        yield


@contextlib.contextmanager
def _locking(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """A lock on ``directory``, waited for, held for the block (none where locks are not to be had). A save holds
    a shared one on its staging directory while it runs (see :func:`locked`), and an exclusive one on a target
    it moves files into one at a time; a load holds a shared one (:func:`reading`)."""
    descriptor = None
    if sys.platform != "win32" and directory.is_dir():
        with contextlib.suppress(OSError):
            descriptor = os.open(directory, os.O_RDONLY)
    try:
        if descriptor is not None:
            with contextlib.suppress(OSError):  # (a file system without locks: loads compare stamps alone)
                fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        if descriptor is not None:
            os.close(descriptor)  # releases the lock


def _move_into(staging: Path, target: Path, managed: Callable[[str], bool]) -> None:
    """The fallback without an atomic exchange: each staged file moved over its counterpart, under an exclusive
    lock on ``target``, so that no load (:func:`reading`) sees half of it.

    The old save's stale files (an old single file where shards come, old shards and index where a single file
    comes) go first, its index before its weights; so do the old files that complete weights which the save
    rewrites (an index naming the same shard files, a ``model.safetensors`` beside another folder's), where it
    writes more than one weights file. So a kill midway leaves no old weights that a load would take beside the
    new ones: until the new weights are in, the folder holds the old ``config.json`` and no loadable weights. Then
    weights, their index, ``config.json`` last.
    """
    written = {p.relative_to(staging).as_posix() for p in staging.rglob("*") if not p.is_dir()}
    folders = [target, *(target / p.relative_to(staging) for p in staging.rglob("*") if _real_dir(p))]
    with _naming_target(target), _locking(target, exclusive=True):
        _remove_stale(target, folders, written, managed)
        for path in _superseded(staging, target, written):
            with _writable(path.parent), _in_use(path, target):
                path.unlink()
        for name in sorted(written, key=_move_order):
            destination = target / name
            if destination.exists() and not destination.is_file():
                continue  # a kept folder, linked into staging: already there
            destination.parent.mkdir(parents=True, exist_ok=True)
            if not (destination.exists() and (staging / name).samefile(destination)):
                source = staging / name
                with _writable(source.parent), _writable(destination.parent):  # (a read-only folder the save copies)
                    _replace_in_use(source, destination, target)


def _remove_stale(target: Path, folders: list[Path], written: set[str], managed: Callable[[str], bool]) -> None:
    """Remove the files the save manages but did not write, in the folders it writes (never through a link);
    indexes first, so that no index outlives a shard it names."""
    stale = []
    for folder in folders:
        if not folder.is_dir() or folder.resolve() != folder:  # (none there yet, or a link out of the target)
            continue
        for path in [p for p in folder.iterdir() if p.is_file()]:  # (a link to one too: the link goes)
            name = path.relative_to(target).as_posix()
            if name not in written and managed(name):
                stale.append(path)
    for path in sorted(stale, key=lambda p: not p.name.endswith(".index.json")):
        with _writable(path.parent):
            path.unlink()


def _superseded(staging: Path, target: Path, written: set[str]) -> list[Path]:
    """The target's files that complete weights (see :func:`_completes_weights`) which the save rewrites, indexes
    first, where it writes more than one weights file: an old index left while the shards it names are replaced
    one by one would make a load take old and new shards together (a checkpoint saved again with the same shard
    names), and an old single file would be taken beside a new one in another folder. (A save of one weights file
    replaces it in one step: no one sees a mix, and the old save stays loadable until then.)"""
    weights = [name for name in written if name.endswith((".safetensors", ".index.json"))]
    if len(weights) < 2:
        return []
    old = []
    for name in sorted(weights, key=lambda n: not n.endswith(".index.json")):
        path = target / name
        if _completes_weights(name) and path.is_file() and not path.samefile(staging / name):  # (not a kept link)
            old.append(path)
    return old


def _replace_in_use(source: Path, destination: Path, target: Path) -> None:
    """:func:`_replace_file`, saying why Windows refused: a file in use there cannot be replaced."""
    with _in_use(destination, target):
        _replace_file(source, destination)


@contextlib.contextmanager
def _in_use(path: Path, target: Path) -> Iterator[None]:
    """Windows' refusal to replace or remove ``path`` in the block said as such: a file in use there cannot be."""
    try:
        yield
    except PermissionError as e:
        if sys.platform == "win32":
            name = path.relative_to(target).as_posix()
            detail = "Windows replaces no file a program holds open or mapped, such as a model loaded from this folder"
            raise HubMixinOSError(e.errno, f"cannot save into {target}: {name} is in use ({detail})") from e
        raise


def _completes_weights(name: str) -> bool:
    """Whether a load takes the file ``name`` as a whole checkpoint: an index, or a single ``model.safetensors``."""
    base = name.rpartition("/")[2]
    return base.endswith(".index.json") or base == "model.safetensors"


def _move_order(name: str) -> tuple[bool, bool, str]:
    """Weights first, then what completes them (their index, or a single ``model.safetensors``), ``config.json``
    last: a save failing midway (Windows refuses to replace a file in use) leaves the old config, and only a kill
    between the last two moves leaves new weights beside it."""
    return name == "config.json", _completes_weights(name), name


def _replace_file(source: Path, destination: Path) -> None:
    """Move a file over ``destination`` in one step; across file systems, copied beside it first."""
    try:
        source.replace(destination)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        part = destination.with_name(f".{destination.name}.hubmixin-{_host()}-{os.getpid()}.part")
        try:
            shutil.copy2(source, part)
            part.replace(destination)
        except BaseException:
            part.unlink(missing_ok=True)
            raise


def new_file_mode() -> int:
    """The permissions a file this process creates gets by default: ``0o666`` less the umask."""
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process' umask, read without changing it where the system tells it (Linux), else set back at once."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_interrupted_saves(target: str | Path) -> list[Path]:
    """Remove the staging directories of saves to ``target`` whose process is gone (killed, crashed), and the
    ``.part`` files such a save left inside ``target`` (a target saved file by file: a mount point, the working
    directory, across file systems).

    Only this machine's processes can be checked: another machine's staging directory (a disk shared by the nodes
    of a cluster) is left alone until it is a day old, so that a load on one node never removes a save in progress
    on another.

    Returns:
        The directories removed.
    """
    target = Path(os.path.realpath(target))
    removed = []
    for folder in (target.parent, target):  # beside it; inside it where its parent could not be written
        for path in _entries(folder):
            match = _STAGING.match(path.name)
            if not match or match["name"] != _stem(target.name):
                continue
            with contextlib.suppress(OSError):  # (per entry: one that cannot be judged stops no other)
                # a directory itself, never a link named like one (a tarball, a clone, another user may plant it)
                if real_directory(path.lstat()) and _abandoned(path, match):
                    remove_tree(path)
                    removed.append(path)
    for path in _entries(target):
        match = _PART.match(path.name)
        with contextlib.suppress(OSError):
            if match and stat.S_ISREG(path.lstat().st_mode) and _abandoned(path, match):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


@contextlib.contextmanager
def push_folder() -> Iterator[Path]:
    """A fresh folder for a push's copy of the model, ``hubmixin-push-HOST-PID-XXXXXXXX`` in the system's temporary
    directory, locked while in use and removed after; the folders that killed pushes left there are removed first,
    judged as staging directories are (:func:`remove_interrupted_saves`)."""
    root = Path(tempfile.gettempdir())
    for path in _entries(root):
        match = _PUSH.match(path.name)
        with contextlib.suppress(OSError):  # (another user's, or gone meanwhile)
            if match and real_directory(path.lstat()) and _abandoned(path, match):
                remove_tree(path)
    with _OURS_LOCK:
        folder = Path(tempfile.mkdtemp(prefix=f"hubmixin-push-{_host()}-{os.getpid()}-", dir=root))
        _OURS.add(folder.name)
    try:
        with _locking(folder, exclusive=False):
            yield folder
    finally:
        remove_tree(folder)
        with _OURS_LOCK:
            _OURS.discard(folder.name)


def _entries(folder: Path) -> list[Path]:
    """The entries of ``folder``; none where it is no readable directory."""
    try:
        return list(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return []


def _abandoned(path: Path, match: re.Match[str]) -> bool:
    if match["host"] not in (None, _host()):
        return time.time() - path.stat().st_mtime > _FOREIGN_AFTER_S
    # This machine's: is its save still running (locked), its process there?
    if path.is_dir() and locked(path):
        return False
    pid = int(match["pid"])
    if pid == os.getpid() and path.is_dir():  # ours only if this process made it: else a killed run had our PID
        with _OURS_LOCK:
            return path.name not in _OURS
    if not alive(pid):
        return True
    # The PID is another live process's: a killed run's reused, or a save between making the directory and
    # locking it (an instant). Where locks work, an unlocked directory that no one wrote into lately is abandoned.
    old = time.time() - path.stat().st_mtime > _REUSED_PID_AFTER_S
    return old and path.is_dir() and locks_enforced(path.parent)


_REUSED_PID_AFTER_S = 60


def save_stamp(target: Path, read: Callable[[str], bool]) -> object:
    """What changes whenever a save to ``target`` lands: the directory's identity (an exchange swaps it) and each
    file's identity (a save moving files one at a time replaces them), with the size and time of those a load
    reads (``read(name)``: the weights and config). ``None`` if unreadable.

    A load compares the stamps from before and after reading to know that it read one save, not parts of two. A
    file written in place beside the model (a training log appended to) does not change the stamp: a load
    would otherwise be done again, and given up, for every line logged meanwhile. A scan a save keeps cutting
    short (an entry renamed away between listing and reading it) gives a stamp equal to no other.
    """
    for _ in range(_STAMP_ATTEMPTS):
        try:
            status = target.stat()
            with os.scandir(target) as entries:
                files = sorted(
                    (entry.name, info.st_ino, *((info.st_size, info.st_mtime_ns) if read(entry.name) else ()))
                    for entry in entries
                    if entry.is_file() and (info := entry.stat())
                )
        except FileNotFoundError:  # a save landing meanwhile: scanned again
            continue
        except OSError:
            return None
        return status.st_dev, status.st_ino, files
    return object()


_STAMP_ATTEMPTS = 3
