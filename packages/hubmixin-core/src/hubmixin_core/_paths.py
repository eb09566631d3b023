"""Checks of paths: repository file names stay inside the model directory; a local path meant as one exists."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from huggingface_hub import constants
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils._validators import validate_repo_id

from hubmixin_core.errors import InvalidRepoPathError, WeightsNotFoundError

__all__ = [
    "check_local_location",
    "check_probeable",
    "check_relative_path",
    "location_argument",
    "lookup_failure",
    "not_a_file",
    "path_argument",
    "warn_if_linked_outside",
]

logger = logging.getLogger("hubmixin_core")


def not_a_file(entry: Path) -> str | None:
    """``"not a file (a directory)"`` (or a link to a missing file, a loop of links, a device...) where ``entry``
    is there but is no file to read; ``None`` where it is a file or is not there."""
    if entry.is_file() or not os.path.lexists(entry):
        return None
    if entry.is_dir():
        return "not a file (a directory)"
    try:
        entry.stat()
    except OSError as error:  # (a link whose target is not there, or a loop of links)
        what = "a loop of symbolic links" if error.errno == errno.ELOOP else "a link to a missing file"
    else:  # (there, and no regular file: a device, FIFO or socket, or a link to one)
        what = "a link to a device, FIFO or socket" if entry.is_symlink() else "a device, FIFO or socket"
    return f"not a file ({what})"


def location_argument(text: str) -> str:
    """The ``argparse`` type of a command-line path or repo id: an empty one is a usage error (the shell's
    ``""`` from an unset variable), not the current directory."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path (an unset variable?)")
    return text


def path_argument(text: str) -> Path:
    """The ``argparse`` type of a command-line path: :func:`location_argument`, as a ``Path``."""
    return Path(location_argument(text))


def check_relative_path(name: str, source: str) -> str:
    """Return ``name`` if it is a relative POSIX path that stays inside its directory.

    Raises:
        InvalidRepoPathError: ``name`` is empty, absolute, has a drive, a backslash, or a ``.`` or ``..`` part
            (``"."`` names the directory itself, not a file in it).

    Examples:
        >>> check_relative_path("model-00001-of-00002.safetensors", "index.json")
        'model-00001-of-00002.safetensors'
    """
    path = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or path.is_absolute()
        or any(part in (".", "..", "") for part in name.split("/"))
        or ":" in path.parts[0]
    ):
        raise InvalidRepoPathError(name, source)
    return name


def lookup_failure(location: str | Path) -> str | None:
    """Why the file system cannot even look ``location`` up (``"File name too long (a name in it is longer than
    the file system allows, ...)"``): ``Path.is_dir`` raises the bare ``OSError`` there, where a path that is not
    there answers ``False``; ``None`` where it can be looked up (whether or not it is there).

    Raises:
        OSError: the lookup's other errors (a folder it may not enter: the ``PermissionError`` as it is).
    """
    try:
        Path(location).is_dir()
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG:
            raise
        return f"{error.strerror} (a name in it is longer than the file system allows, 255 bytes on most)"
    return None


def check_probeable(location: str | Path) -> None:
    """Refuse a ``location`` the file system cannot even look up (a name over its length limit, see
    :func:`lookup_failure`).

    Raises:
        WeightsNotFoundError: a name in it is over the length limit (also a ``FileNotFoundError``)."""
    if (failure := lookup_failure(location)) is not None:
        raise WeightsNotFoundError(f"{location}: cannot be looked up: {failure}")


def check_local_location(location: str | Path, takes: str, *, files: bool = False) -> None:
    """Fail clearly when ``location`` is meant as a local path (written as a path: ``./x``, ``a/b/c``) that does
    not exist, instead of letting the Hub client reject it as a malformed repo id.

    A ``Path`` is read as its text, as huggingface_hub reads it: ``Path("user/model")`` may name a repo.

    Args:
        location: A local directory (or, with ``files``, a file) or a repo id.
        takes: Who takes it, for the message (``"from_pretrained takes a model directory or a repo id"``).
        files: Whether a file is a valid local location too.

    Raises:
        WeightsNotFoundError: ``location`` looks like a local path and is not there (or is a file, without
            ``files``).
    """
    path = Path(location)
    if path.is_dir() or (files and path.is_file()):
        return
    text = str(location)
    looks_local = (
        path.exists()  # a file: no repo id is meant
        or text.startswith(("/", "./", "../", "~"))
        or text.count("/") > 1
        or not _valid_repo_id(text)  # ``my-model/``, ``my model``: only a path can be meant
    )
    if looks_local:
        kind = "is a file, not a directory" if path.exists() else "does not exist"
        hint = "" if path.exists() else _url_hint(text) or _repo_id_hint(text)
        if path.is_file():  # (a file of the model directory given for it, or a checkpoint of another form)
            from hubmixin_core._native import given_file_advice  # (it imports this module, through weights)

            advice = given_file_advice(path)
            hint = f": {advice}" if advice else ""
        raise WeightsNotFoundError(f"{text}: {kind}; {takes}{hint}")


def _valid_repo_id(text: str) -> bool:
    """Whether the Hub client takes ``text`` as a repo id (else it raises ``HFValidationError``)."""
    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


_HUB_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co", "www.hf.co"})
_NOT_MODELS = {"datasets": "dataset", "spaces": "Space"}


def _url_hint(text: str) -> str:
    """What to pass for a Hub URL pasted as a repo id (``https://huggingface.co/org/name/tree/main``,
    ``https://hf.co/org/name.git``, ``hf://org/name``, a URL of the configured endpoint): `` (for the Hub
    repository, pass its id: 'org/name')``, or that a dataset's or Space's URL names no model; ``""`` for any
    other text (a malformed URL too: the hint never replaces the error)."""
    if text.startswith("hf://"):
        path = text.removeprefix("hf://")
    else:
        try:
            url, endpoint = urlsplit(text), urlsplit(constants.ENDPOINT)
        except ValueError:  # (``https://[host/...``: an unbalanced IPv6 bracket)
            return ""
        prefix = endpoint.path.rstrip("/") + "/"
        host = url.netloc.lower()
        if url.scheme not in ("http", "https"):
            return ""
        if host in _HUB_HOSTS:
            path = url.path.lstrip("/")
        elif host == endpoint.netloc.lower() and url.path.startswith(prefix):
            path = url.path.removeprefix(prefix)
        else:
            return ""
    parts = path.split("/")
    if parts[0] in _NOT_MODELS:
        return f" (the URL of a Hub {_NOT_MODELS[parts[0]]}, not of a model repository)"
    parts = parts[1:] if parts[0] == "models" else parts
    # (``hf://org/name@main/model.safetensors``: HfFileSystem's revision)
    repo = "/".join(parts[:2]).partition("@")[0].removesuffix(".git")
    if len(parts) < 2 or not _valid_repo_id(repo):
        return ""
    return f" (for the Hub repository, pass its id: {repo!r})"


def _repo_id_hint(text: str) -> str:
    """The repo id (and revision) meant by a text near one: ``" user/model "`` (pasted with spaces),
    ``user/model/``, ``models/user/model``, ``user/model@main``: `` (for the Hub repository, pass its id:
    'user/model', revision='main')``; ``""`` for any other text."""
    repo, _, revision = text.strip().rstrip("/").removeprefix("models/").partition("@")
    if repo == text or repo.count("/") != 1 or not _valid_repo_id(repo):
        return ""
    return f" (for the Hub repository, pass its id: {repo!r}{f', revision={revision!r}' if revision else ''})"


def warn_if_linked_outside(directory: Path, path: Path) -> Path:
    """Return ``path`` (a file of the local model ``directory``), logging a warning when it is a link to a file
    outside ``directory``: a cloned repository's ``config.json`` linked to a file of the user's would be read,
    and saved again by a later save. Links into a Hugging Face cache's blob store are how its snapshots are laid
    out, and pass (see :func:`_cache_blob`)."""
    target = path.resolve()
    home = directory.resolve()
    if not target.is_relative_to(home) and not _cache_blob(home, target):
        logger.warning("%s is a link to %s, outside the model directory %s", path, target, directory)
    return path


_SHARED_BLOB = re.compile(r"[0-9a-f]{2}")
_REPO_FOLDERS = ("models--", "datasets--", "spaces--")


def _cache_blob(directory: Path, target: Path) -> bool:
    """Whether ``target`` (resolved) is a blob of the Hugging Face cache whose snapshot ``directory`` (resolved)
    is: a repository's own ``models--*/blobs/<hash>``, or (huggingface_hub 2.4, Xet files) the cache-wide store
    ``<cache>/blobs/<2 hex>/<hash>`` of the cache holding ``directory``."""
    if target.parent.name == "blobs" and target.parent.parent.name.startswith(_REPO_FOLDERS):
        return True
    prefix, store = target.parent.name, target.parent.parent
    if store.name != "blobs" or _SHARED_BLOB.fullmatch(prefix) is None or not target.name.startswith(prefix):
        return False
    cache = store.parent
    if not directory.is_relative_to(cache):
        return False
    repo = directory.relative_to(cache).parts[:1]  # (the ``models--*`` folder holding the snapshot)
    return bool(repo) and repo[0].startswith(_REPO_FOLDERS)
