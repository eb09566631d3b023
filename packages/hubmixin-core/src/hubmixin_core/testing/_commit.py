"""The commit handler: NDJSON operations (add, LFS add, delete file/folder) applied atomically to a branch."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from hubmixin_core.testing._access import safe_path, writable_repo
from hubmixin_core.testing._app import commit_line_limit
from hubmixin_core.testing._cards import card_errors
from hubmixin_core.testing._discussions import check_pr_push, pr_commit_transaction, record_pr_commit
from hubmixin_core.testing._gitmeta import folders_of, git_blob_oid, lfs_pointer
from hubmixin_core.testing._http import Exchange, HubError, parse_json, revision_not_found
from hubmixin_core.testing._storage import FileEntry, ParentMismatchError, Repo
from hubmixin_core.testing._upload import SHA256_HEX

__all__ = ["commit_line_limit", "handle_commit"]


def _string(value: dict[str, object], name: str, default: str = "") -> str:
    field = value.get(name, default)
    if not isinstance(field, str):
        raise HubError(400, f"Commit field {name!r} must be a string, not {type(field).__name__}")
    return field


@dataclass(frozen=True)
class _Op:
    kind: str  # "add", "delete-file" or "delete-folder"
    path: str
    entry: FileEntry | None = None


@dataclass(frozen=True)
class _Header:
    summary: str = ""
    description: str = ""
    parent: str | None = None


def _value(item: object) -> tuple[str, dict[str, object]]:
    if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not isinstance(item.get("value"), dict):
        raise HubError(400, "Each commit line must be {'key': ..., 'value': {...}}")
    return item["key"], item["value"]


_COMMIT_OID = re.compile(r"[0-9a-f]{7,40}")


def _parent_oid(parent: str) -> str:
    """A ``parentCommit``: a commit id, or its first 7 characters or more (as the Hub takes them); 400 else."""
    if not _COMMIT_OID.fullmatch(parent.lower()):
        raise HubError(400, f"Commit field 'parentCommit' must be a commit id (7 to 40 hex digits), not {parent!r}")
    return parent.lower()


def _regular_file(ex: Exchange, value: dict[str, object], repo_type: str) -> _Op:
    path = safe_path(_string(value, "path"))
    content = value.get("content")
    if value.get("encoding", "base64") != "base64" or not isinstance(content, str):
        raise HubError(400, f"File {path!r}: expected base64 'content'")
    if len(content) > 4 * ((ex.app.lfs_threshold + 1) // 3):  # checked before decoding
        raise HubError(400, f"File {path!r} is too large to be inlined: files this large must be uploaded through LFS")
    try:
        data = base64.b64decode(content, validate=True)
    except binascii.Error as exc:
        raise HubError(400, f"File {path!r}: invalid base64 content") from exc
    if len(data) >= ex.app.lfs_threshold:
        raise HubError(400, f"File {path!r} has {len(data)} bytes: files this large must be uploaded through LFS")
    if path == "README.md":  # the card: refused as the Hub refuses it (the client asks validate-yaml first)
        errors = card_errors(data.decode(errors="replace"), repo_type)
        if errors:
            raise HubError(400, "Invalid metadata in README.md.\n" + "\n".join(f"- {error}" for error in errors))
    entry = FileEntry(path, ex.app.blobs.put_bytes(data), len(data), False, git_blob_oid(data))
    return _Op("add", path, entry)


def _lfs_file(ex: Exchange, repo: Repo, value: dict[str, object]) -> _Op:
    path = safe_path(_string(value, "path"))
    oid = value.get("oid")
    if value.get("algo", "sha256") != "sha256" or not isinstance(oid, str) or not SHA256_HEX.fullmatch(oid):
        raise HubError(400, f"LFS file {path!r}: expected a sha256 'oid'")
    size = ex.app.storage.lfs_size(repo, oid)
    if size is None:
        raise HubError(400, f"LFS file {path!r}: object {oid} was never uploaded to {repo.key.url_path}")
    if value.get("size") not in (None, size):
        raise HubError(400, f"LFS file {path!r}: size {value.get('size')} does not match the uploaded {size}")
    return _Op("add", path, FileEntry(path, oid, size, True, git_blob_oid(lfs_pointer(oid, size))))


def _parse(ex: Exchange, repo: Repo) -> tuple[_Header, list[_Op]]:
    header: _Header | None = None
    ops: list[_Op] = []
    while line := ex.read_line(ex.app.max_commit_line_bytes, "Commit line"):
        if not line.strip():
            continue
        key, value = _value(parse_json(line, "commit line"))
        if key == "header":
            parent = value.get("parentCommit")
            if parent is not None and not isinstance(parent, str):
                raise HubError(400, "Commit field 'parentCommit' must be a string")
            parent = None if parent is None else _parent_oid(parent)
            header = _Header(_string(value, "summary"), _string(value, "description"), parent)
        elif key == "file":
            ops.append(_regular_file(ex, value, repo.key.type))
        elif key == "lfsFile":
            ops.append(_lfs_file(ex, repo, value))
        elif key in ("deletedFile", "deletedFolder"):
            path = safe_path(_string(value, "path").rstrip("/"))
            ops.append(_Op("delete-file" if key == "deletedFile" else "delete-folder", path))
        else:
            raise HubError(400, f"Unknown commit operation {key!r}")
    if header is None or not header.summary.strip():
        raise HubError(400, "The commit needs a header line with a non-empty 'summary'")
    return header, ops


def _apply(ops: list[_Op], files: dict[str, FileEntry]) -> dict[str, FileEntry]:
    files = dict(files)
    for op in ops:
        if op.kind == "add":
            assert op.entry is not None
            files[op.path] = op.entry
        elif op.kind == "delete-file" and op.path in files:
            del files[op.path]
        else:  # a folder (as on the Hub, a deletedFile naming a folder deletes it: the client's is_folder="auto")
            doomed = [path for path in files if path.startswith(op.path + "/")]
            if not doomed:
                what = "file" if op.kind == "delete-file" else "folder"
                raise HubError(404, f"A {what} with this name doesn't exist: {op.path}", code="EntryNotFound")
            for path in doomed:
                del files[path]
    folders = folders_of(files)
    if clash := sorted(folders.intersection(files)):
        raise HubError(400, f"{clash[0]!r} cannot be both a file and a folder")
    return files


def handle_commit(ex: Exchange) -> None:
    """``POST /api/{type}s/{repo}/commit/{rev}[?create_pr=1]`` with an NDJSON body."""
    create_pr = ex.query_flag("create_pr")
    revision = ex.match.revision or "main"
    repo = writable_repo(ex, ex.match.repo, pull_request=create_pr or revision.startswith("refs/pr/"))
    ref = ex.app.storage.branch_ref(repo, revision)
    if create_pr and ref is not None and ref.startswith("refs/pr/"):
        ref = None  # not a branch: a pull request of a pull request would merge other files than its ref holds
    if ref is None:
        # As on the Hub, a pull request is opened against a branch: any other revision is "not found".
        if not create_pr and ex.app.storage.resolve(repo, revision) is not None:
            raise HubError(400, f"Cannot commit to {revision!r}: commits go to a branch or a pull request ref")
        raise revision_not_found(revision)
    if not create_pr:
        check_pr_push(ex, repo, ref)
    header, ops = _parse(ex, repo)
    assert ex.user is not None
    # As huggingface_hub documents parent_commit: the head the commit expects, or the commit a new PR starts from.
    parent = header.parent
    if parent is not None and len(parent) < 40:  # a shorthand: the one commit it starts (else it matches none)
        parent = ex.app.storage.commit_of_prefix(repo, parent) or parent
    start = parent if create_pr else None
    if start is not None and ex.app.storage.get_commit(repo, start) is None:
        raise HubError(412, f"Parent commit {start} is not a commit of {repo.key.url_path}: cannot open a PR from it")
    try:
        with pr_commit_transaction(ex, repo, ref):
            oid, pr_num = ex.app.storage.commit(
                repo,
                ref=ref,
                build=lambda files: _apply(ops, files),
                author=ex.user,
                title=header.summary.strip(),
                message=header.description,
                expected_parent=None if create_pr else parent,
                create_pr=create_pr,
                start=start,
            )
            record_pr_commit(ex, repo, ref, oid, pr_num, header.summary.strip(), header.description)
    except ParentMismatchError as exc:
        raise HubError(412, "The branch was updated since you opened this page. Please refresh and try again.") from exc
    repo_url = f"{ex.endpoint}/{repo.key.url_path}"
    ex.send_json(
        {
            "success": True,
            "commitOid": oid,
            "commitUrl": f"{repo_url}/commit/{oid}",
            "pullRequestUrl": None if pr_num is None else f"{repo_url}/discussions/{pr_num}",
            "hookOutput": "",
        }
    )
