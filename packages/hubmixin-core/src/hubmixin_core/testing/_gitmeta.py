"""Git-compatible identifiers and repository path rules of the local Hub."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import uuid
from collections.abc import Iterable

from hubmixin_core._paths import check_relative_path
from hubmixin_core.errors import HubMixinValueError, InvalidRepoPathError

__all__ = [
    "folders_of",
    "DEFAULT_GITATTRIBUTES",
    "InvalidPathError",
    "git_blob_oid",
    "is_lfs_path",
    "lfs_patterns",
    "lfs_pointer",
    "new_commit_oid",
    "tree_oid",
    "validate_repo_path",
    "validate_ref_name",
]

_LFS_EXTENSIONS = [
    "7z",
    "arrow",
    "bin",
    "bz2",
    "ckpt",
    "ftz",
    "gz",
    "h5",
    "joblib",
    "mlmodel",
    "model",
    "msgpack",
    "npy",
    "npz",
    "onnx",
    "ot",
    "parquet",
    "pb",
    "pickle",
    "pkl",
    "pt",
    "pth",
    "rar",
    "safetensors",
    "tar",
    "tflite",
    "tgz",
    "wasm",
    "xz",
    "zip",
    "zst",
]

DEFAULT_GITATTRIBUTES = (
    "".join(f"*.{ext} filter=lfs diff=lfs merge=lfs -text\n" for ext in _LFS_EXTENSIONS)
    + "*.lfs.* filter=lfs diff=lfs merge=lfs -text\n"
    + "saved_model/**/* filter=lfs diff=lfs merge=lfs -text\n"
    + "*.tar.* filter=lfs diff=lfs merge=lfs -text\n"
    + "*tfevents* filter=lfs diff=lfs merge=lfs -text\n"
)
"""The ``.gitattributes`` of a new repository, as the Hub writes it in the initial commit."""

_REF_NAME = re.compile(r"[A-Za-z0-9._\-/]{1,200}")


class InvalidPathError(HubMixinValueError):
    """A path in a repository is empty, absolute, or escapes the repository."""


def git_blob_oid(data: bytes) -> str:
    """The git blob id (sha1 of ``blob <size>\\0<data>``) of ``data``."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file stored in git for an LFS object."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def tree_oid(entries: list[tuple[str, str]]) -> str:
    """A stable 40-hex id for a folder, from its ``(path, oid)`` entries."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path, oid in sorted(entries):
        digest.update(f"{path}\x00{oid}\n".encode())
    return digest.hexdigest()


def new_commit_oid(parent: str | None, title: str, author: str, date: str) -> str:
    """A fresh 40-hex commit id (unique even for identical content)."""
    payload = json.dumps([parent, title, author, date, uuid.uuid4().hex]).encode()
    return hashlib.sha1(payload, usedforsecurity=False).hexdigest()


def validate_repo_path(path: str) -> str:
    """Return ``path`` if it is a safe relative POSIX path inside a repository; raise otherwise.

    The client-side rules of :func:`hubmixin_core.weights.check_relative_path`, plus the server's own: a length
    limit, no ``.`` segment, and no ``.git`` segment (in any case, at any depth).
    """
    if len(path) > 1024:
        raise InvalidPathError(f"Invalid path {path!r}: too long")
    try:
        check_relative_path(path, "repository")
    except InvalidRepoPathError as exc:
        raise InvalidPathError(f"Invalid path {path!r}: absolute, empty, or escaping the repository") from exc
    parts = path.split("/")
    if "." in parts:
        raise InvalidPathError(f"Invalid path {path!r}: '.' segments are refused")
    if any(part.lower() == ".git" for part in parts):  # git refuses them in any folder, in any case
        raise InvalidPathError(f"Invalid path {path!r}: .git is reserved")
    return path


def validate_ref_name(name: str) -> str:
    """Return ``name`` if it can name a branch or tag; raise ``ValueError`` otherwise."""
    if not _REF_NAME.fullmatch(name) or ".." in name or name.startswith(("/", "refs/")) or name.endswith("/"):
        raise HubMixinValueError(f"Invalid reference name {name!r}")
    if re.fullmatch(r"[0-9a-f]{40}", name):
        raise HubMixinValueError(f"Invalid reference name {name!r}: it looks like a commit id")
    return name


def lfs_patterns(gitattributes: str) -> list[str]:
    """The path patterns that ``gitattributes`` routes through LFS (``filter=lfs``)."""
    patterns = []
    for line in gitattributes.splitlines():
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#") and "filter=lfs" in fields[1:]:
            patterns.append(fields[0])
    return patterns


def is_lfs_path(path: str, patterns: list[str]) -> bool:
    """Whether ``path`` matches one of ``patterns`` (git semantics, approximated with fnmatch)."""
    basename = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        if "/" in pattern:
            if fnmatch.fnmatchcase(path, pattern.lstrip("/")):
                return True
        elif fnmatch.fnmatchcase(basename, pattern):
            return True
    return False


def folders_of(paths: Iterable[str]) -> set[str]:
    """Every folder that holds one of ``paths`` (``"a/b/c.txt"`` -> ``{"a", "a/b"}``)."""
    return {path.rsplit("/", i)[0] for path in paths for i in range(1, path.count("/") + 1)}
