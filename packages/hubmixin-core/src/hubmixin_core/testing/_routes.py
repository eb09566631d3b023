"""URL routing: map a request path onto a named route of the Hub API."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from hubmixin_core.testing._storage import RepoKey

__all__ = ["RESERVED_NAMES", "Match", "match_route", "unnamespaced_repo"]

_API_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_WEB_PREFIXES = {"datasets": "dataset", "spaces": "space"}
_FIXED = {
    ("whoami-v2",): "whoami",
    ("agent-harnesses",): "agent-harnesses",
    ("validate-yaml",): "validate-yaml",
    ("repos", "create"): "create-repo",
    ("repos", "delete"): "delete-repo",
    ("repos", "move"): "move-repo",
    ("settings", "repositories"): "user-repos",
}
_REV_ROUTES = {"preupload", "commit", "paths-info", "commits"}
_ORG_ROUTES = {
    ("overview",): "org-overview",
    ("members",): "org-members",
    ("followers",): "org-followers",
    ("settings", "repositories"): "org-repos",
}
_USER_ROUTES = {
    "likes": "user-likes",
    "overview": "user-overview",
    "followers": "user-follows",
    "following": "user-follows",
}
_ACCESS_REQUEST_ROUTES = {
    "pending": "access-requests",
    "accepted": "access-requests",
    "rejected": "access-requests",
    "handle": "access-request-handle",
    "grant": "access-request-grant",
}

_GIT_ROUTES = {("info", "refs"), ("git-upload-pack",), ("git-receive-pack",)}  # git's smart HTTP protocol

_SPACES_API_PATHS = {("hardware",), ("templates",), ("semantic-search",), ("zero-gpu", "quota")}
"""Hub APIs under ``/api/spaces/`` that are not repositories (LocalHub has none of them: they answer 501)."""

RESERVED_NAMES = frozenset({"api", "datasets", "spaces", "models", "kernels", "buckets"})
"""Names that cannot be users: they start non-repo URLs."""


@dataclass(frozen=True)
class Match:
    """A routed request: route name plus the parts of the path it carries."""

    name: str
    repo: RepoKey | None = None
    revision: str | None = None
    path: str = ""
    arg: str = ""


def _api_repo_route(repo: RepoKey, tail: list[str]) -> Match | None:
    if not tail:
        return Match("repo-info", repo)
    kind, args = tail[0], tail[1:]
    if kind == "revision" and args:
        return Match("repo-info", repo, revision="/".join(args))
    if kind == "tree" and args:
        return Match("tree", repo, revision=args[0], path="/".join(args[1:]))
    if kind == "refs" and not args:
        return Match("refs", repo)
    if kind in _REV_ROUTES and len(args) == 1:
        return Match(kind, repo, revision=args[0])
    if kind in ("branch", "tag") and args:
        return Match(kind, repo, arg="/".join(args))
    if kind == "duplicate" and not args:
        return Match("duplicate-repo", repo)
    if kind == "super-squash" and args:
        return Match("super-squash", repo, arg="/".join(args))
    if kind == "settings" and not args:
        return Match("repo-settings", repo)
    if kind in ("like", "likers") and not args:
        return Match(kind, repo)
    if kind == "lfs-files" and args in ([], ["batch"], ["duplicate"]):
        return Match("-".join(["lfs-files", *args]), repo)
    if kind == "auth-check" and args in ([], ["write"]):
        return Match("auth-check", repo, arg="/".join(args))
    if kind == "discussions" and len(args) <= 2:
        name = ("discussions", "discussion", "discussion-change")[len(args)]
        return Match(name, repo, arg=args[0] if args else "", path=args[1] if len(args) == 2 else "")
    if kind == "discussions" and len(args) == 4 and args[1] == "comment" and args[3] in ("edit", "hide"):
        return Match(f"comment-{args[3]}", repo, arg=args[0], path=args[2])
    if kind == "user-access-request" and len(args) == 1 and args[0] in _ACCESS_REQUEST_ROUTES:
        return Match(_ACCESS_REQUEST_ROUTES[args[0]], repo, arg=args[0])
    if kind in ("xet-write-token", "xet-read-token"):
        return Match("xet-token", repo, revision="/".join(args) or None, arg=kind)
    return None


_BUCKET_ROUTES = {
    "settings": "bucket-settings",
    "paths-info": "bucket-paths-info",
    "batch": "bucket-batch",
    "xet-write-token": "bucket-xet-token",
    "xet-read-token": "bucket-xet-token",
}


def _bucket_route(args: list[str]) -> Match | None:
    """``/api/buckets/{namespace}[/{name}[/{action}]]``; a tree's prefix goes in ``path``, a token's kind in ``arg``."""
    if len(args) == 1:
        return Match("buckets", arg=args[0])
    if len(args) < 2:
        return None
    bucket, tail = RepoKey("bucket", args[0], args[1]), args[2:]
    if not tail:
        return Match("bucket", bucket)
    if tail[0] == "tree":
        return Match("bucket-tree", bucket, path="/".join(tail[1:]))
    if len(tail) == 1 and tail[0] in _BUCKET_ROUTES:
        return Match(_BUCKET_ROUTES[tail[0]], bucket, arg=tail[0])
    return None


def _collection_route(args: list[str]) -> Match | None:
    """``/api/collections[/{namespace}/{slug}[/items[/{item_id}]]]``; the slug goes in ``arg``, the item in ``path``."""
    if not args:
        return Match("collections")
    slug, tail = "/".join(args[:2]), args[2:]
    if len(args) < 2 or tail[:1] not in ([], ["items"]) or len(tail) > 2:
        return None
    return Match(("collection", "collection-items", "collection-item")[len(tail)], arg=slug, path="/".join(tail[1:]))


def match_route(raw_path: str) -> Match | None:
    """Route a raw (percent-encoded) URL path, without its query; ``None`` if nothing matches.

    Raises `UnicodeDecodeError` if a percent-decoded segment is not UTF-8.
    """
    segments = [unquote(segment, errors="strict") for segment in raw_path.split("/")[1:]]
    # A trailing slash ends a folder (``tree/main/``, the root); a file's path keeps it (an empty segment: 400)
    trailing = "/" if len(segments) > 1 and segments[-1] == "" else ""
    if trailing:
        segments.pop()
    if segments[:1] == ["api"]:
        rest = segments[1:]
        if rest[:1] == ["spaces"] and tuple(rest[1:]) in _SPACES_API_PATHS:
            return None
        if (name := _FIXED.get(tuple(rest))) is not None:
            return Match(name)
        if len(rest) == 3 and rest[0] == "users" and (name := _USER_ROUTES.get(rest[2])):
            return Match(name, arg=rest[1])
        if len(rest) >= 3 and rest[0] == "organizations" and (name := _ORG_ROUTES.get(tuple(rest[2:]))):
            return Match(name, arg=rest[1])
        if rest[:1] == ["collections"] and (found := _collection_route(rest[1:])) is not None:
            return found
        if rest[:1] == ["buckets"] and (found := _bucket_route(rest[1:])) is not None:
            return found
        if len(rest) == 2 and rest[0] == "lfs-upload":
            return Match("lfs-upload", arg=rest[1])
        if len(rest) >= 2 and rest[0] == "xet-cas":
            return Match("xet-cas", path="/".join(rest[1:]))
        if len(rest) == 1 and rest[0] in _API_TYPES:
            return Match("list-repos", arg=rest[0])
        if len(rest) >= 3 and rest[0] in _API_TYPES:
            return _api_repo_route(RepoKey(_API_TYPES[rest[0]], rest[1], rest[2]), rest[3:])
        return None
    if len(segments) >= 5 and segments[0] == "buckets" and segments[3] == "resolve":
        return Match("bucket-resolve", RepoKey("bucket", segments[1], segments[2]), path="/".join(segments[4:]))
    repo_type = "model"
    if segments[:1] and segments[0] in _WEB_PREFIXES:
        repo_type = _WEB_PREFIXES[segments[0]]
        segments = segments[1:]
    if len(segments) == 6 and segments[1].endswith(".git") and segments[2:] == ["info", "lfs", "objects", "batch"]:
        return Match("lfs-batch", RepoKey(repo_type, segments[0], segments[1].removesuffix(".git")))
    if len(segments) >= 3 and tuple(segments[2:]) in _GIT_ROUTES:
        return Match("git", RepoKey(repo_type, segments[0], segments[1].removesuffix(".git")))
    if len(segments) == 3 and segments[2] == "ask-access":
        return Match("ask-access", RepoKey(repo_type, segments[0], segments[1]))
    if len(segments) >= 5 and segments[2] == "resolve":
        key = RepoKey(repo_type, segments[0], segments[1])
        return Match("resolve", key, revision=segments[3], path="/".join(segments[4:]) + trailing)
    return None


def unnamespaced_repo(path: str) -> str | None:
    """The repo name of a request for a repository without a namespace (``/api/models/gpt2/revision/main``,
    ``/gpt2/resolve/main/config.json``), which the Hub keeps for its oldest repositories and this server never
    has: the caller then answers "not found" as the Hub does for a missing one. ``None`` for any other path."""
    segments = [unquote(part) for part in path.strip("/").split("/")]
    if len(segments) >= 3 and segments[0] == "api" and segments[1] in _API_TYPES:
        if segments[1] == "spaces" and tuple(segments[2:]) in _SPACES_API_PATHS:
            return None
        if len(segments) == 3 or segments[3] in {"revision", "tree", "refs", "paths-info", "commits", "preupload"}:
            return segments[2]
        return None
    if segments[:1] and segments[0] in _WEB_PREFIXES:
        segments = segments[1:]
    if len(segments) >= 4 and segments[1] == "resolve" and segments[0] not in RESERVED_NAMES:
        return segments[0]
    return None
