"""Listing handlers: repository trees, paths-info and commit history, with Hub-style pagination (and what
``expand`` adds, see `_expand`)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs, urlencode, urlsplit

from hubmixin_core.testing._access import readable_repo, resolve_revision, safe_path
from hubmixin_core.testing._expand import UNSCANNED, formatted, last_commit_json, last_commits
from hubmixin_core.testing._gitmeta import folders_of, lfs_pointer, tree_oid
from hubmixin_core.testing._http import Exchange, HubError, entry_not_found
from hubmixin_core.testing._storage import FileEntry, Repo

__all__ = ["file_json", "handle_commits", "handle_paths_info", "handle_tree", "send_page"]


def file_json(ex: Exchange, repo: Repo, entry: FileEntry) -> dict[str, object]:
    """A file as the tree API describes it; ``xetHash`` for a file ``repo`` holds in the Xet storage."""
    out: dict[str, object] = {"type": "file", "oid": entry.git_oid, "size": entry.size, "path": entry.path}
    if entry.lfs:
        pointer_size = len(lfs_pointer(entry.sha256, entry.size))
        out["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": pointer_size}
        xet_file = ex.app.xet.repo_file(repo.id, entry.sha256)
        if xet_file is not None:
            out["xetHash"] = xet_file.file_hash
    return out


def _folder_json(folder: str, files: dict[str, FileEntry]) -> dict[str, object]:
    prefix = folder + "/"
    oid = tree_oid([(p, e.git_oid) for p, e in files.items() if p.startswith(prefix)])
    return {"type": "directory", "oid": oid, "size": 0, "path": folder}


def _expand(ex: Exchange, repo: Repo, commit: str, items: list[dict[str, object]]) -> None:
    """Add what ``expand=True`` asks for: each entry's ``lastCommit``, and each file's ``securityFileStatus``."""
    found = last_commits(ex.app.storage, repo, commit, [str(item["path"]) for item in items])
    for item in items:
        record = found.get(str(item["path"]))
        if record is not None:
            item["lastCommit"] = last_commit_json(record)
        if item["type"] == "file":
            item["securityFileStatus"] = UNSCANNED


def send_page(ex: Exchange, items: Sequence[object]) -> None:
    """Send one page of ``items``, with a ``Link: <...>; rel="next"`` header when more follow."""
    size = ex.app.page_size
    try:
        start = max(int(ex.query_value("cursor") or 0), 0)
    except ValueError:
        start = 0
    headers = {}
    if start + size < len(items):
        query = {k: v for k, v in parse_qs(urlsplit(ex.handler.path).query).items() if k != "cursor"}
        query["cursor"] = [str(start + size)]
        url = f"{ex.endpoint}{urlsplit(ex.handler.path).path}?{urlencode(query, doseq=True)}"
        headers["Link"] = f'<{url}>; rel="next"'
    ex.send_json(items[start : start + size], headers=headers)


def handle_tree(ex: Exchange) -> None:
    """``GET /api/{type}s/{repo}/tree/{rev}[/{path}]?recursive=``."""
    repo = readable_repo(ex, ex.match.repo)
    commit = resolve_revision(ex, repo, ex.match.revision)
    files = ex.app.storage.files(repo, commit)
    # A folder may be named with its trailing slash ("sub/"), as paths-info and deletions take it.
    folder = safe_path(ex.match.path.rstrip("/") or ex.match.path) if ex.match.path else ""
    prefix = folder + "/" if folder else ""
    folders = folders_of(files)
    if folder and folder not in folders:
        raise entry_not_found(folder, commit)
    recursive = ex.query_flag("recursive")
    items: list[dict[str, object]] = []
    for sub in sorted(f for f in folders if f.startswith(prefix)):
        if recursive or "/" not in sub[len(prefix) :]:
            items.append(_folder_json(sub, files))
    for path, entry in files.items():
        if path.startswith(prefix) and (recursive or "/" not in path[len(prefix) :]):
            items.append(file_json(ex, repo, entry))
    if ex.query_flag("expand"):
        _expand(ex, repo, commit, items)
    send_page(ex, items)


def _requested_paths(ex: Exchange) -> tuple[list[str], bool]:
    """The ``paths`` of a paths-info body and its ``expand`` flag: form fields (huggingface_hub's), or a JSON
    object's list of strings and boolean."""
    if ex.handler.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
        form = ex.form()
        return form.get("paths", []), (form.get("expand") or [""])[0].lower() in ("1", "true")
    body = ex.read_json_object()
    paths, expand = body.get("paths"), body.get("expand", False)
    if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
        raise HubError(400, "paths-info: 'paths' must be a list of strings")
    if not isinstance(expand, bool):
        raise HubError(400, "paths-info: 'expand' must be true or false")
    return paths, expand


def handle_paths_info(ex: Exchange) -> None:
    """``POST /api/{type}s/{repo}/paths-info/{rev}`` with form fields ``paths`` (repeated), or a JSON object
    ``{"paths": [...]}``; 400 for a malformed one."""
    repo = readable_repo(ex, ex.match.repo)
    commit = resolve_revision(ex, repo, ex.match.revision)
    paths, expand = _requested_paths(ex)
    files = ex.app.storage.files(repo, commit)
    folders = folders_of(files)
    out: list[dict[str, object]] = []
    for path in paths:
        path = safe_path(path.strip("/"))
        if path in files:
            out.append(file_json(ex, repo, files[path]))
        elif path in folders:
            out.append(_folder_json(path, files))
    if expand:
        _expand(ex, repo, commit, out)
    ex.send_json(out)


def handle_commits(ex: Exchange) -> None:
    """``GET /api/{type}s/{repo}/commits/{rev}[?expand[]=formatted]``: the history, newest first."""
    repo = readable_repo(ex, ex.match.repo)
    commit = resolve_revision(ex, repo, ex.match.revision)
    expand = set(ex.query.get("expand[]", [])) | set(ex.query.get("expand", []))
    items: list[object] = []
    for c in ex.app.storage.history(repo, commit):
        item: dict[str, object] = {"id": c.oid, "title": c.title, "message": c.message, "date": c.created_at}
        item["authors"] = [{"user": c.author, "avatar": None}]
        if "formatted" in expand:
            item["formatted"] = formatted(c)
        items.append(item)
    send_page(ex, items)
