"""Upload handlers: preupload (regular or LFS), the LFS batch API and LFS object uploads.

An object uploaded through plain LFS is also stored in the Xet storage (when the ``hub`` extra is installed), as the
Hub migrates LFS files to Xet: see `hubmixin_core.testing.xet._from_lfs`.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TypeGuard

from hubmixin_core.testing._access import resolve_revision, safe_path, writable_repo
from hubmixin_core.testing._discussions import check_pr_push
from hubmixin_core.testing._gitmeta import DEFAULT_GITATTRIBUTES, LfsRule, is_lfs_path, lfs_patterns
from hubmixin_core.testing._http import Exchange, HubError
from hubmixin_core.testing._storage import FileEntry, Repo
from hubmixin_core.testing.xet import xet_available

__all__ = ["handle_lfs_batch", "handle_lfs_upload", "handle_preupload"]

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_MAX_SAMPLE = 4096  # the client sends the base64 of the first 512 bytes


def _is_size(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _lfs_patterns(ex: Exchange, repo: Repo, commit: str) -> tuple[LfsRule, ...]:
    entry = ex.app.storage.file(repo, commit, ".gitattributes")
    text = DEFAULT_GITATTRIBUTES if entry is None else ex.app.read_small_blob(entry.sha256).decode(errors="replace")
    return lfs_patterns(text)


def _remote_oid(entry: FileEntry | None) -> str | None:
    if entry is None:
        return None
    return entry.sha256 if entry.lfs else entry.git_oid


def handle_preupload(ex: Exchange) -> None:
    """``POST /api/{type}s/{repo}/preupload/{rev}``: regular for small text files, LFS for the rest.

    A file goes through LFS when it is ``lfs_threshold`` bytes or more, matches an LFS pattern of the
    revision's ``.gitattributes`` (``*.safetensors``, ``*.bin`` ...), or its first bytes contain a NUL byte.
    """
    pull_request = ex.query_flag("create_pr") or (ex.match.revision or "").startswith("refs/pr/")
    repo = writable_repo(ex, ex.match.repo, pull_request=pull_request)
    commit = resolve_revision(ex, repo, ex.match.revision)
    body = ex.read_json()
    files = body.get("files") if isinstance(body, dict) else None
    if not isinstance(files, list):
        raise HubError(400, "Expected {'files': [{'path', 'sample', 'size'}, ...]}")
    patterns = _lfs_patterns(ex, repo, commit)
    existing = ex.app.storage.files(repo, commit)
    answers = []
    for item in files:
        if not (isinstance(item, dict) and isinstance(item.get("path"), str) and _is_size(item.get("size"))):
            raise HubError(400, "Each file needs a string 'path' and a non-negative integer 'size'")
        path = safe_path(item["path"])
        sample_text = item.get("sample", "")
        if not isinstance(sample_text, str) or len(sample_text) > _MAX_SAMPLE:
            raise HubError(400, f"The 'sample' of {path!r} must be base64 text of at most {_MAX_SAMPLE} characters")
        try:
            sample = base64.b64decode(sample_text, validate=True)
        except binascii.Error as exc:
            raise HubError(400, f"Invalid base64 sample for {path!r}") from exc
        lfs = item["size"] >= ex.app.lfs_threshold or is_lfs_path(path, patterns) or b"\x00" in sample
        answer: dict[str, object] = {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
        if (oid := _remote_oid(existing.get(path))) is not None:
            answer["oid"] = oid
        answers.append(answer)
    ex.send_json({"files": answers, "commitOid": commit})


def _batch_repo(ex: Exchange, ref: object) -> Repo:
    """The repo an LFS batch uploads to, under the rules of the commit that follows: a batch naming no ref (the
    client's ``create_pr``) may open a pull request; one for ``refs/pr/N`` follows the rules of pushes to that PR."""
    name = ref.get("name") if isinstance(ref, dict) else None
    pr_ref = name if isinstance(name, str) and name.startswith("refs/pr/") else None
    repo = writable_repo(ex, ex.match.repo, pull_request=not isinstance(ref, dict) or pr_ref is not None)
    if pr_ref is not None:
        check_pr_push(ex, repo, pr_ref)
    return repo


def handle_lfs_batch(ex: Exchange) -> None:
    """``POST /{repo}.git/info/lfs/objects/batch`` (upload only): one upload URL per object the repo lacks."""
    body = ex.read_json()
    if not isinstance(body, dict) or body.get("operation") != "upload":
        raise HubError(400, "LocalHub's LFS batch API only handles uploads; download through /resolve/")
    repo = _batch_repo(ex, body.get("ref"))
    objects = body.get("objects")
    if not isinstance(objects, list):
        raise HubError(400, "Expected a list of 'objects'")
    answers: list[dict[str, object]] = []
    for obj in objects:
        oid = obj.get("oid") if isinstance(obj, dict) else None
        size = obj.get("size") if isinstance(obj, dict) else None
        if not isinstance(oid, str) or not SHA256_HEX.fullmatch(oid) or not _is_size(size):
            error = {"code": 422, "message": "oid must be a sha256 hex digest and size a non-negative integer"}
            answers.append({"oid": str(oid), "size": size if _is_size(size) else 0, "error": error})
            continue
        answer: dict[str, object] = {"oid": oid, "size": size, "authenticated": True}
        if ex.app.storage.lfs_size(repo, oid) != size:
            ticket = ex.app.tickets.issue(repo, oid, size)
            href = f"{ex.endpoint}/api/lfs-upload/{ticket}"
            answer["actions"] = {"upload": {"href": href, "expires_in": 3600}}
        answers.append(answer)
    headers = {"Content-Type": "application/vnd.git-lfs+json"}
    ex.send_json({"transfer": "basic", "objects": answers, "hash_algo": "sha256"}, headers=headers)


MIGRATED_UP_TO = 64 * 1024 * 1024
"""Largest object uploaded through plain LFS that is also stored in Xet: chunking runs in Python at about 50 MB/s,
while the upload's answer waits, so a larger object stays LFS-only (no ``xetHash``) and uploads at full speed."""


def _migrate_to_xet(ex: Exchange, repo: Repo, sha256: str, size: int) -> None:
    """Give ``repo`` a Xet representation of the LFS object (its ``xetHash``), unless Xet storage is unavailable or
    the object is larger than :data:`MIGRATED_UP_TO`."""
    if not xet_available() or size > MIGRATED_UP_TO:
        return
    from hubmixin_core.testing.xet._from_lfs import xet_file_from_blob

    file = xet_file_from_blob(ex.app.xet, ex.app.blobs.path(sha256), sha256, size)
    if file is not None:
        ex.app.xet.put_file(repo.id, file)


def handle_lfs_upload(ex: Exchange) -> None:
    """``PUT /api/lfs-upload/{ticket}``: stream the object to disk, check size and sha256, then keep it."""
    ticket_id = ex.match.arg
    ticket = ex.app.tickets.get(ticket_id)
    if ticket is None:
        raise HubError(404, "Unknown or expired LFS upload URL")
    if ex.content_length is not None and ex.content_length > ticket.size:
        raise ex.too_large(f"LFS object (announced as {ticket.size} bytes)", ticket.size)  # not read
    with ex.app.blobs.writer() as writer:
        for chunk in ex.iter_body():
            writer.write(chunk)
            if writer.size > ticket.size:
                raise HubError(400, f"LFS object is larger than announced ({ticket.size} bytes)")
        if writer.size != ticket.size:
            raise HubError(400, f"LFS object has {writer.size} bytes, {ticket.size} were announced")
        if writer.sha256 != ticket.oid:
            raise HubError(400, f"LFS object content does not match its oid {ticket.oid}")
        writer.commit()
    ex.app.storage.link_lfs(ticket.repo, ticket.oid, ticket.size)
    _migrate_to_xet(ex, ticket.repo, ticket.oid, ticket.size)
    ex.app.tickets.consume(ticket_id)
    ex.send_bytes(200, b"", {})
