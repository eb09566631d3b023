"""Listing handlers: repository trees, paths-info and commit history, with Hub-style pagination."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from hubmixin_core.testing._access import readable_repo, resolve_revision, safe_path
from hubmixin_core.testing._gitmeta import lfs_pointer, tree_oid
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


def _folders(files: dict[str, FileEntry]) -> set[str]:
    return {path.rsplit("/", i)[0] for path in files for i in range(1, path.count("/") + 1)}


def send_page(ex: Exchange, items: list[object]) -> None:
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
        url = f"{ex.app.endpoint}{urlsplit(ex.handler.path).path}?{urlencode(query, doseq=True)}"
        headers["Link"] = f'<{url}>; rel="next"'
    ex.send_json(items[start : start + size], headers=headers)


def handle_tree(ex: Exchange) -> None:
    """``GET /api/{type}s/{repo}/tree/{rev}[/{path}]?recursive=``."""
    repo = readable_repo(ex, ex.match.repo)
    commit = resolve_revision(ex, repo, ex.match.revision)
    files = ex.app.storage.files(repo, commit)
    folder = safe_path(ex.match.path) if ex.match.path else ""
    prefix = folder + "/" if folder else ""
    folders = _folders(files)
    if folder and folder not in folders:
        raise entry_not_found(folder, commit)
    recursive = ex.query_flag("recursive")
    items: list[object] = []
    for sub in sorted(f for f in folders if f.startswith(prefix)):
        if recursive or "/" not in sub[len(prefix) :]:
            items.append(_folder_json(sub, files))
    for path, entry in files.items():
        if path.startswith(prefix) and (recursive or "/" not in path[len(prefix) :]):
            items.append(file_json(ex, repo, entry))
    send_page(ex, items)


def _requested_paths(ex: Exchange) -> list[str]:
    """The ``paths`` of a paths-info body: form fields (huggingface_hub's), or a JSON object's list of strings."""
    if ex.handler.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
        return ex.form_values("paths")
    paths = ex.read_json_object().get("paths")
    if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
        raise HubError(400, "paths-info: 'paths' must be a list of strings")
    return paths


def handle_paths_info(ex: Exchange) -> None:
    """``POST /api/{type}s/{repo}/paths-info/{rev}`` with form fields ``paths`` (repeated), or a JSON object
    ``{"paths": [...]}``; 400 for a malformed one."""
    repo = readable_repo(ex, ex.match.repo)
    commit = resolve_revision(ex, repo, ex.match.revision)
    paths = _requested_paths(ex)
    files = ex.app.storage.files(repo, commit)
    folders = _folders(files)
    out: list[object] = []
    for path in paths:
        path = safe_path(path.strip("/"))
        if path in files:
            out.append(file_json(ex, repo, files[path]))
        elif path in folders:
            out.append(_folder_json(path, files))
    ex.send_json(out)


def handle_commits(ex: Exchange) -> None:
    """``GET /api/{type}s/{repo}/commits/{rev}``: the history, newest first."""
    repo = readable_repo(ex, ex.match.repo)
    commit = resolve_revision(ex, repo, ex.match.revision)
    items: list[object] = [
        {
            "id": c.oid,
            "title": c.title,
            "message": c.message,
            "date": c.created_at,
            "authors": [{"user": c.author, "avatar": None}],
        }
        for c in ex.app.storage.history(repo, commit)
    ]
    send_page(ex, items)
