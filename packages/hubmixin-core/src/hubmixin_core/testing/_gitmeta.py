"""Git-compatible identifiers and repository path rules of the local Hub."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from hubmixin_core.errors import HubMixinValueError

__all__ = [
    "folders_of",
    "DEFAULT_GITATTRIBUTES",
    "InvalidPathError",
    "git_blob_oid",
    "LfsRule",
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

    Refused: an empty path, a leading ``/``, a backslash, a NUL, an empty, ``.`` or ``..`` segment, a ``.git``
    segment (in any case, at any depth), and more than 1024 characters. A ``:`` is a character like another (git
    and the Hub take ``eval_2024-01-01T10:00:00.json``): the client-side check of local paths,
    :func:`hubmixin_core._paths.check_relative_path`, refuses it at the top for Windows drives, which a
    repository has none of.
    """
    if len(path) > 1024:
        raise InvalidPathError(f"Invalid path {path!r}: too long")
    parts = path.split("/")
    if not path or "\\" in path or "\x00" in path or any(part in ("", "..") for part in parts):
        raise InvalidPathError(f"Invalid path {path!r}: absolute, empty, or escaping the repository")
    if "." in parts:
        raise InvalidPathError(f"Invalid path {path!r}: '.' segments are refused")
    if any(part.lower() == ".git" for part in parts):  # git refuses them in any folder, in any case
        raise InvalidPathError(f"Invalid path {path!r}: .git is reserved")
    return path


def validate_ref_name(name: str) -> str:
    """Return ``name`` if it can name a branch or tag; raise ``ValueError`` otherwise.

    What ``git check-ref-format`` refuses is refused (the Hub keeps refs in git): ``..``, an empty component
    (``a//b``, a leading or trailing ``/``), a component starting with ``.`` or ending with ``.lock``, and a trailing
    ``.``; and so are a leading ``refs/``, 40 hex digits and, stricter than git, any character outside
    ``[A-Za-z0-9._-/]`` (git takes ``+``, ``@``, ``#``).
    """
    if not _REF_NAME.fullmatch(name) or ".." in name or name.startswith("refs/") or name.endswith("."):
        raise HubMixinValueError(f"Invalid reference name {name!r}")
    if any(not part or part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        raise HubMixinValueError(
            f"Invalid reference name {name!r}: git refuses empty components and components starting with '.' "
            "or ending with '.lock'"
        )
    if re.fullmatch(r"[0-9a-f]{40}", name):
        raise HubMixinValueError(f"Invalid reference name {name!r}: it looks like a commit id")
    return name


class LfsRule(NamedTuple):
    """A ``.gitattributes`` line that sets or unsets ``filter``: its pattern compiled, whether it matches the whole
    path (else the file name), and whether it routes the paths it matches through LFS."""

    regex: re.Pattern[str]
    whole_path: bool
    sets_lfs: bool


@functools.lru_cache(maxsize=32)  # by text: a preupload reads the revision's .gitattributes again each time
def lfs_patterns(gitattributes: str) -> tuple[LfsRule, ...]:
    """The lines of ``gitattributes`` that set or unset the ``filter`` attribute, in order, compiled: each pattern
    with whether it routes its paths through LFS (``filter=lfs``; ``-filter``, ``!filter`` or another filter do not).
    A pattern that matches nothing (an unclosed ``[``) is left out."""
    rules = []
    for line in gitattributes.splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0].startswith(("#", "[attr]")) or fields[0].endswith("/"):
            continue  # (a pattern ending in "/" names folders only: it gives files no attribute)
        filters = [field for field in fields[1:] if field.lstrip("-!").partition("=")[0] == "filter"]
        if filters:
            regex, whole_path = _wildmatch(fields[0])
            if regex is not None:
                rules.append(LfsRule(regex, whole_path, filters[-1] == "filter=lfs"))
    return tuple(rules)


def is_lfs_path(path: str, patterns: Sequence[LfsRule]) -> bool:
    """Whether the last of ``patterns`` (from :func:`lfs_patterns`) that matches ``path`` routes it through LFS.

    Patterns match as git's ``wildmatch`` with ``WM_PATHNAME`` matches them: one without a ``/`` matches the file
    name at any depth, one with a ``/`` the whole path (a leading ``/`` anchors nothing more); ``*``, ``?`` and
    ``[...]`` never match a ``/``, ``**/`` matches zero or more folders and a trailing ``/**`` everything below.
    """
    basename = path.rsplit("/", 1)[-1]
    for rule in reversed(patterns):
        if rule.regex.fullmatch(path if rule.whole_path else basename):
            return rule.sets_lfs
    return False


_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \\t",
    "digit": "0-9",
    "lower": "a-z",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "xdigit": "0-9a-fA-F",
}


def _wildmatch(pattern: str) -> tuple[re.Pattern[str] | None, bool]:
    """The regex of a ``.gitattributes`` pattern and whether it matches the whole path (else the file name);
    ``None`` for a pattern that matches nothing (an unclosed ``[``, as git's ``wildmatch`` aborts on it)."""
    whole_path = "/" in pattern
    pattern = pattern.removeprefix("/")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            end = i
            while end < len(pattern) and pattern[end] == "*":
                end += 1
            alone = (i == 0 or pattern[i - 1] == "/") and (end == len(pattern) or pattern[end] == "/")
            if end - i >= 2 and alone:  # "**" as a whole component: any depth
                if end == len(pattern):
                    out.append(".*")
                else:
                    out.append("(?:.*/)?")  # "**/": zero or more folders
                    end += 1
            else:
                out.append("[^/]*")
            i = end
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            bracket = _bracket(pattern, i)
            if bracket is None:
                return None, whole_path
            regex, i = bracket
            out.append(regex)
        elif char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out), re.DOTALL), whole_path


def _bracket(pattern: str, start: int) -> tuple[str, int] | None:
    """The regex of the bracket expression at ``pattern[start]`` (``[a-z]``, ``[!._]``, ``[[:digit:]]``) and the
    index after it; ``None`` if it is not closed or names an unknown class."""
    i = start + 1
    negated = i < len(pattern) and pattern[i] in "!^"
    i += negated
    items: list[str] = []
    while i < len(pattern) and (pattern[i] != "]" or i == start + 1 + negated):
        if pattern.startswith("[:", i):
            close = pattern.find(":]", i + 2)
            if close < 0 or pattern[i + 2 : close] not in _CLASSES:
                return None
            items.append(_CLASSES[pattern[i + 2 : close]])
            i = close + 2
            continue
        if pattern[i] == "\\" and i + 1 < len(pattern):
            i += 1
        low = pattern[i]
        if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            high = pattern[i + 3] if pattern[i + 2] == "\\" and i + 3 < len(pattern) else pattern[i + 2]
            if low <= high:
                items.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 4 if pattern[i + 2] == "\\" else 3
            continue
        items.append(re.escape(low))
        i += 1
    if i >= len(pattern):
        return None
    body = "".join(items)
    return (f"[^/{body}]" if negated else f"(?!/)[{body}]" if body else "(?!)"), i + 1


def folders_of(paths: Iterable[str]) -> set[str]:
    """Every folder that holds one of ``paths`` (``"a/b/c.txt"`` -> ``{"a", "a/b"}``)."""
    return {path.rsplit("/", i)[0] for path in paths for i in range(1, path.count("/") + 1)}
