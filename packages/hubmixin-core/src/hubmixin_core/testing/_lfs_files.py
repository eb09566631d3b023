"""A repository's LFS objects: ``list_lfs_files``, ``permanently_delete_lfs_files`` and their duplication into
another repository (cross-repository ``CommitOperationCopy``).

``GET /api/{type}s/{repo}/lfs-files`` lists the objects uploaded to the repository (through LFS or Xet), newest
first, each with its sha256, size, push date, a file name that points to it and the first ref (``main``, the other
branches, tags, pull requests) whose head holds it. ``POST .../lfs-files/batch``
``{"deletions": {"sha": [...], "rewriteHistory": bool}}`` removes objects from the repository, as on the Hub: with
``rewriteHistory`` (the client's default) the files pointing to them leave every commit of the repository (commit
ids stay: LocalHub's do not hash the tree); without it the pointers stay and downloading them answers 404
``EntryNotFound``. Both are for the repository's writers (its owner, an organization's write and admin members;
deleting needs a write token).

``POST .../lfs-files/duplicate`` ``{"target": {"type", "name"}, "files": [{"sha256", "xetHash"?, "filename"?}]}``
(on the source repository) gives the target repository the source's objects, so that a commit of the target may
point to them: for callers who may read the source's files and write to the target (or open a pull request on it).
Objects the source does not hold are listed in the answer's ``failed``; nothing is copied on disk.

Only the repository's reference goes: the content-addressed blob (or the Xet file and its xorbs) stays in the store,
since other repositories (duplicates, identical uploads) may share it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hubmixin_core.testing._access import can_write, downloadable_repo, readable_repo, require_user, writable_repo
from hubmixin_core.testing._http import Exchange, HubError
from hubmixin_core.testing._storage import Repo, RepoKey, Storage
from hubmixin_core.testing._upload import SHA256_HEX

__all__ = [
    "LfsObject",
    "delete_lfs_objects",
    "handle_lfs_files",
    "handle_lfs_files_batch",
    "handle_lfs_files_duplicate",
    "lfs_objects",
]


@dataclass(frozen=True)
class LfsObject:
    """An LFS object of a repository: sha256, size and when it was uploaded (``""`` if before LocalHub kept it)."""

    sha256: str
    size: int
    pushed_at: str


def lfs_objects(storage: Storage, repo: Repo) -> list[LfsObject]:
    """The LFS objects of ``repo``, newest first."""
    rows = storage._all(
        "SELECT sha256, size, pushed_at FROM lfs_objects WHERE repo_id = ? ORDER BY pushed_at DESC, rowid DESC",
        repo.id,
    )
    return [LfsObject(str(sha), int(str(size)), str(pushed)) for sha, size, pushed in rows]


_REF_KINDS = ("refs/heads/main", "refs/heads/", "refs/tags/", "refs/pr/")


def _ref_order(ref: str) -> tuple[int, str]:
    return next(i for i, kind in enumerate(_REF_KINDS) if ref.startswith(kind)), ref


def _ref_paths(storage: Storage, repo: Repo) -> dict[str, tuple[str, str]]:
    """For each LFS object at the head of a ref: the first such ref (main first) and its path there."""
    found: dict[str, tuple[str, str]] = {}
    refs = storage.refs(repo)
    for ref in sorted((r for r in refs if r.startswith(_REF_KINDS)), key=_ref_order):
        for entry in storage.files(repo, refs[ref]).values():
            if entry.lfs:
                found.setdefault(entry.sha256, (ref, entry.path))
    return found


def _last_path(storage: Storage, repo: Repo, sha256: str) -> str | None:
    """The path of the object in the newest commit that has it (history only: no ref holds it any more)."""
    row = storage._one(
        "SELECT f.path FROM files f JOIN commits c ON c.repo_id = f.repo_id AND c.oid = f.commit_oid "
        "WHERE f.repo_id = ? AND f.sha256 = ? AND f.lfs = 1 ORDER BY c.seq DESC LIMIT 1",
        repo.id,
        sha256,
    )
    return None if row is None else str(row[0])


def delete_lfs_objects(storage: Storage, repo: Repo, shas: list[str], *, rewrite_history: bool) -> list[str]:
    """Remove the objects from ``repo`` (and, with ``rewrite_history``, the files pointing to them from every commit).

    All or nothing: returns the shas ``repo`` does not hold, and then changes nothing.
    """
    with storage._tx() as db:
        held = {str(row[0]) for row in db.execute("SELECT sha256 FROM lfs_objects WHERE repo_id = ?", (repo.id,))}
        missing = [sha for sha in shas if sha not in held]
        if missing:
            return missing
        for sha in shas:
            db.execute("DELETE FROM lfs_objects WHERE repo_id = ? AND sha256 = ?", (repo.id, sha))
            if not rewrite_history:
                continue
            # A commit stored as a delta gets a deletion row (its base may hold the file); a snapshot loses the row.
            db.execute(
                "UPDATE files SET sha256 = '', size = 0, lfs = 0, git_oid = '' WHERE repo_id = ? AND sha256 = ? "
                "AND lfs = 1 AND commit_oid IN (SELECT commit_oid FROM deltas WHERE repo_id = ?)",
                (repo.id, sha, repo.id),
            )
            db.execute("DELETE FROM files WHERE repo_id = ? AND sha256 = ? AND lfs = 1", (repo.id, sha))
    return []


def _is_sha(value: object) -> bool:
    return isinstance(value, str) and SHA256_HEX.fullmatch(value) is not None


def _owned_repo(ex: Exchange) -> Repo:
    user = require_user(ex, write=False)
    repo = readable_repo(ex, ex.match.repo)
    if not can_write(ex, repo.key.namespace):
        raise HubError(403, f"Only the writers of {repo.key.url_path} may manage its LFS files (user {user!r})")
    return repo


def handle_lfs_files(ex: Exchange) -> None:
    """``GET /api/{type}s/{repo}/lfs-files``: the repository's LFS objects (its writers only)."""
    repo = _owned_repo(ex)
    storage = ex.app.storage
    at_refs = _ref_paths(storage, repo)
    items: list[dict[str, object]] = []
    for obj in lfs_objects(storage, repo):
        ref, path = at_refs.get(obj.sha256, (None, _last_path(storage, repo, obj.sha256)))
        item: dict[str, object] = {"fileOid": obj.sha256, "oid": obj.sha256, "size": obj.size, "filename": path}
        item |= {"pushedAt": obj.pushed_at or repo.created_at, "ref": ref}
        xet_file = ex.app.xet.repo_file(repo.id, obj.sha256)
        if xet_file is not None:
            item["xetHash"] = xet_file.file_hash
        items.append(item)
    ex.send_json(items)


def handle_lfs_files_batch(ex: Exchange) -> None:
    """``POST /api/{type}s/{repo}/lfs-files/batch`` ``{"deletions": {"sha": [...], "rewriteHistory": bool}}``."""
    repo = writable_repo(ex, ex.match.repo)
    body = ex.read_json()
    deletions = body.get("deletions") if isinstance(body, dict) else None
    shas = deletions.get("sha") if isinstance(deletions, dict) else None
    if not isinstance(deletions, dict) or not isinstance(shas, list) or not all(_is_sha(sha) for sha in shas):
        raise HubError(400, "Expected {'deletions': {'sha': [sha256 hex digests], 'rewriteHistory': bool}}")
    rewrite = deletions.get("rewriteHistory", True)
    if not isinstance(rewrite, bool):
        raise HubError(400, "rewriteHistory must be true or false")
    missing = delete_lfs_objects(ex.app.storage, repo, [str(sha) for sha in shas], rewrite_history=rewrite)
    if missing:
        raise HubError(404, f"LFS objects not found in {repo.key.url_path}: {', '.join(missing)}")
    for sha in shas:
        ex.app.xet.remove_repo_file(repo.id, str(sha))
    ex.send_bytes(200, b"", {})


def _target(ex: Exchange, body: object) -> RepoKey:
    target = body.get("target") if isinstance(body, dict) else None
    kind = target.get("type", "model") if isinstance(target, dict) else None
    name = target.get("name") if isinstance(target, dict) else None
    if kind not in ("model", "dataset", "space") or not isinstance(name, str) or name.count("/") != 1:
        raise HubError(400, "Expected {'target': {'type': 'model'|'dataset'|'space', 'name': 'namespace/name'}, ...}")
    namespace, repo_name = name.split("/")
    return RepoKey(kind, namespace, repo_name)


def handle_lfs_files_duplicate(ex: Exchange) -> None:
    """``POST /api/{type}s/{repo}/lfs-files/duplicate``: give the target repository LFS objects of this one."""
    source = downloadable_repo(ex, ex.match.repo)
    body = ex.read_json()
    files = body.get("files") if isinstance(body, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, dict) and _is_sha(f.get("sha256")) for f in files):
        raise HubError(400, "Expected 'files': [{'sha256': sha256 hex digest, 'xetHash': ..., 'filename': ...}]")
    target = writable_repo(ex, _target(ex, body), pull_request=True)
    storage, xet = ex.app.storage, ex.app.xet
    failed: list[dict[str, str]] = []
    for sha256 in dict.fromkeys(str(f["sha256"]) for f in files):
        size = storage.lfs_size(source, sha256)
        if size is None:
            failed.append({"sha256": sha256, "error": f"{source.key.url_path} holds no LFS object {sha256}"})
            continue
        storage.link_lfs(target, sha256, size)
        xet_file = xet.repo_file(source.id, sha256)
        if xet_file is not None:
            xet.put_file(target.id, xet_file)
    ex.send_json({"failed": failed})
