"""Xet routes of LocalHub: access tokens, the CAS API (xorbs, shards, dedup, reconstructions) and downloads.

The CAS service lives under ``<endpoint>/api/xet-cas/<store id>`` (its URL is what the token routes hand out; the
store id changes with the data store, see `XetStore.store_id`; paths without it are served too, and so are reads
under an earlier id, see `_cas_parts`). Its
access tokens are signed with a secret kept in the hub root, so they survive restarts; xorb data is served
through short-lived signed URLs, like the Hub's CDN. A token names the user it was handed to: the CAS checks at each
request that they may still read the files of a gated repository (see `_access.has_file_access`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from hubmixin_core.testing._access import downloadable_repo, gated_error, has_file_access, user_role, writable_repo
from hubmixin_core.testing._download import parse_range
from hubmixin_core.testing._http import Exchange, HubError
from hubmixin_core.testing._storage import Repo, RepoKey
from hubmixin_core.testing.xet._data import formats, iter_term_data, load_index, term_spans
from hubmixin_core.testing.xet._store import XetFile, XetStore

if TYPE_CHECKING:
    from hubmixin_core.testing.xet import _format

__all__ = ["handle_cas", "handle_xet_token", "send_xet_token"]

TOKEN_TTL = 3600
URL_TTL = 3600
CAS_PREFIX = "/api/xet-cas"
_STORE_ID = re.compile(r"[0-9a-f]{16}")

logger = logging.getLogger("hubmixin_core.testing")


def _store(ex: Exchange) -> XetStore:
    return ex.app.xet


def _cas_url(ex: Exchange) -> str:
    return f"{ex.endpoint}{CAS_PREFIX}/{_store(ex).store_id}"


# Tokens


@dataclass(frozen=True)
class _Grant:
    write: bool
    repo: Repo


def _sign(store: XetStore, payload: str) -> str:
    return hmac.new(store.secret, payload.encode(), hashlib.sha256).hexdigest()


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison of a signature with a value from the request (which may be any text)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def _mint(store: XetStore, repo: Repo, user: str | None, *, write: bool, expires: int) -> str:
    key = repo.key
    payload = json.dumps([2, "w" if write else "r", expires, repo.id, key.type, key.namespace, key.name, user])
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{encoded}.{_sign(store, encoded)}"


def _signed_token(ex: Exchange) -> str | None:
    """The payload of the request's Xet access token if this store signed it (expired or not), else ``None``."""
    scheme, _, token = (ex.handler.headers.get("Authorization") or "").partition(" ")
    encoded, _, signature = token.strip().partition(".")
    return encoded if scheme.lower() == "bearer" and _same(_sign(_store(ex), encoded), signature) else None


def _check_token(ex: Exchange, *, write: bool) -> _Grant:
    if (encoded := _signed_token(ex)) is None:
        raise HubError(401, "Invalid or missing Xet access token (get one from .../xet-read-token or xet-write-token)")
    _, scope, expires, repo_id, repo_type, namespace, name, *user = json.loads(base64.urlsafe_b64decode(encoded + "=="))
    if expires < time.time():
        raise HubError(401, "Xet access token expired")
    repo = ex.app.storage.get_repo(RepoKey(repo_type, namespace, name))
    if repo is None or repo.id != repo_id:
        raise HubError(401, "The repository of this Xet access token no longer exists")
    holder = user[0] if user else None  # tokens of version 1 name no user
    role = user_role(ex.app, holder, repo.key.namespace)
    if repo.private and role is None:  # made private, or the holder left its organization, since the token was minted
        raise HubError(401, "This Xet access token no longer gives access to its repository")
    if not has_file_access(ex.app, holder, repo):  # gated since the token was handed out, or access revoked
        raise gated_error(ex.app, holder, repo)
    if write and scope != "w":
        raise HubError(403, "This Xet access token is read-only")
    return _Grant(scope == "w", repo)


def handle_xet_token(ex: Exchange) -> None:
    """``GET /api/{type}s/{repo}/xet-{read,write}-token/{rev}``: CAS URL, access token and expiry.

    A write token needs write access to the repo (or, with ``?create_pr=1``, the right to open a pull request);
    a read token needs read access, and for a gated repo access to its files.
    """
    formats()
    write = ex.match.arg == "xet-write-token"
    if write:
        revision = ex.match.revision or ""
        pull_request = ex.query_flag("create_pr") or revision.startswith("refs/pr/")
        repo = writable_repo(ex, ex.match.repo, pull_request=pull_request)
    else:
        repo = downloadable_repo(ex, ex.match.repo)
    send_xet_token(ex, repo, write=write)


def send_xet_token(ex: Exchange, repo: Repo, *, write: bool) -> None:
    """Answer with the CAS URL, a new access token to ``repo`` (a repository or a bucket) for the caller, and its
    expiry; the caller's rights were checked (the CAS checks at each request that the repo still exists)."""
    formats()
    expires = int(time.time()) + TOKEN_TTL
    token = _mint(_store(ex), repo, ex.user, write=write, expires=expires)
    cas_url = _cas_url(ex)
    headers = {"X-Xet-Cas-Url": cas_url, "X-Xet-Access-Token": token, "X-Xet-Token-Expiration": str(expires)}
    ex.send_json({"casUrl": cas_url, "accessToken": token, "exp": expires}, headers=headers)


# CAS API


def handle_cas(ex: Exchange) -> None:
    """Dispatch a request under ``/api/xet-cas/[<store id>/]``."""
    parts = _cas_parts(ex)
    route = (ex.method, *parts[:2])
    if ex.method in ("GET", "HEAD") and parts[0] == "data" and len(parts) == 2:
        _serve_xorb_data(ex, parts[1])
        return
    if route == ("POST", "v1", "telemetry"):
        ex.send_json({})
        return
    fmt = formats()
    if route == ("POST", "v1", "xorb-grants"):
        # Upload grants are optional: a 404 makes the client upload the xorb through POST /v1/xorbs.
        raise HubError(404, "LocalHub takes xorbs through POST /v1/xorbs (no upload grants)")
    if route in (("POST", "v1", "xorbs"), ("HEAD", "v1", "xorbs")) and len(parts) == 4:
        xorb = _hash_arg(fmt, parts[3])
        (_upload_xorb if ex.method == "POST" else _head_xorb)(ex, fmt, xorb)
    elif route in (("POST", "v1", "shards"), ("POST", "v2", "shards")) and len(parts) == 2:
        _upload_shard(ex, fmt, streaming=parts[0] == "v2")
    elif route == ("GET", "v1", "chunks") and len(parts) == 4:
        _dedup_query(ex, fmt, _hash_arg(fmt, parts[3]))
    elif route in (("GET", "v1", "reconstructions"), ("GET", "v2", "reconstructions")) and len(parts) == 3:
        _reconstruction(ex, fmt, _hash_arg(fmt, parts[2]), v2=parts[0] == "v2")
    elif route == ("HEAD", "v1", "files") and len(parts) == 3:
        grant = _check_token(ex, write=False)
        file = _readable_file(ex, grant, _hash_arg(fmt, parts[2]))
        ex.send_bytes(200, b"", {"Content-Length": str(file.size)})
    else:
        raise HubError(404, f"LocalHub's Xet CAS does not serve {ex.method} /{ex.match.path}")


def _cas_parts(ex: Exchange) -> list[str]:
    """The segments of a CAS path after the store id.

    A download under another id is served when this store issued its access token (or signed its xorb URL): the
    client keeps the CAS URL of a revision for the token's life (huggingface_hub caches it), across a restart
    that gave the store a new id, and what it reads is named by its hash and checked against this store. Anything
    else under another id gets a 404: uploads need the current id, since hf_xet deduplicates them against what its
    cache remembers for the URL (see `XetStore.store_id`).
    """
    parts = ex.match.path.split("/")
    if parts[0] == _store(ex).store_id:
        return parts[1:] or [""]
    if not _STORE_ID.fullmatch(parts[0]):
        return parts
    rest = parts[1:] or [""]
    if _issued_here(ex, rest):
        return rest
    raise HubError(
        404,
        f"Xet storage {parts[0]!r} is not this LocalHub's (written since, or its data was replaced): "
        "get a new Xet token",
    )


def _issued_here(ex: Exchange, parts: list[str]) -> bool:
    """Whether a CAS request (path ``parts`` after the store id) is a read with this store's token or xorb URL."""
    if ex.method not in ("GET", "HEAD"):
        return False
    if parts[0] == "data" and len(parts) == 2:
        try:
            _signed_span(ex, parts[1])
        except HubError:
            return False
        return True
    reads = (("v1", "reconstructions"), ("v2", "reconstructions"), ("v1", "files"))
    return tuple(parts[:2]) in reads and len(parts) == 3 and _signed_token(ex) is not None


def _hash_arg(fmt: ModuleType, text: str) -> str:
    try:
        fmt.hex_hash(text)
    except fmt.FormatError as exc:
        raise HubError(400, f"Malformed hash in path: {text!r}") from exc
    return text.lower()


def _upload_xorb(ex: Exchange, fmt: ModuleType, xorb: str) -> None:
    _check_token(ex, write=True)
    if ex.content_length is not None and ex.content_length > fmt.MAX_XORB_BYTES:
        raise ex.too_large("Xorb", fmt.MAX_XORB_BYTES)  # before reading it
    store = _store(ex)
    if store.has_xorb(xorb):
        ex.send_json({"was_inserted": False})
        return
    with store.xorb_writer() as upload:
        try:
            index = fmt.parse_xorb(ex.body.read, upload.write, fmt.hex_hash(xorb))
        except fmt.FormatError as exc:
            raise HubError(400, f"Xorb {xorb} rejected: {exc}") from exc
        hashes = [fmt.hash_hex(h) for h in index.hashes]
        inserted = store.put_xorb(xorb, upload, index.to_bytes(), hashes)
    ex.send_json({"was_inserted": inserted})


def _head_xorb(ex: Exchange, fmt: ModuleType, xorb: str) -> None:
    _check_token(ex, write=False)
    if not _store(ex).has_xorb(xorb):
        raise HubError(404, f"Xorb {xorb} not found")
    ex.send_bytes(200, b"", {"Content-Length": str(_store(ex).xorb_path(xorb).stat().st_size)})


def _upload_shard(ex: Exchange, fmt: ModuleType, *, streaming: bool) -> None:
    grant = _check_token(ex, write=True)
    data = ex.read_limited(ex.app.max_shard_bytes, "Shard")  # 413 from Content-Length, before reading
    try:
        files, xorbs = fmt.parse_shard(data)
    except fmt.FormatError as exc:
        raise HubError(400, f"Shard rejected: {exc}") from exc
    store = _store(ex)
    referenced = [listed.xorb for listed in xorbs] + [term.xorb for info in files for term in info.terms]
    if missing := sorted({fmt.hash_hex(xorb) for xorb in referenced if not store.has_xorb(fmt.hash_hex(xorb))}):
        raise _missing_xorbs(missing)
    checked = [_check_file(ex, fmt, info) for info in files]
    for file in checked:
        store.put_file(grant.repo.id, file)
        ex.app.storage.link_lfs(grant.repo, file.sha256, file.size)
    if streaming:
        frames = [
            {"type": "validating", "verified": len(files), "total": len(files)},
            {"type": "committing", "stage": "syncing"},
            {"type": "result", "result": 1},
        ]
        body = b"".join(json.dumps(frame).encode() + b"\n" for frame in frames)
        ex.send_bytes(200, body, {"Content-Type": "application/x-ndjson", "Cache-Control": "no-cache"})
    else:
        ex.send_json({"result": 1})


def _missing_xorbs(missing: list[str]) -> HubError:
    """The 400 for a shard naming xorbs this store lacks, logged: hf_xet does not show the reason."""
    message = (
        f"Shard refers to xorb {missing[0]}{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}, "
        "which was never uploaded to this LocalHub"
    )
    logger.warning(
        "%s. A client that deduplicates against what it uploaded to another store at the same CAS URL does this "
        "(its Xet cache, HF_XET_CACHE or HF_HOME/xet, outlived the data folder): delete that cache",
        message,
    )
    return HubError(400, message)


def _check_file(ex: Exchange, fmt: ModuleType, info: _format.FileInfo) -> XetFile:
    """Verify a file of a shard against the stored xorbs (terms, verification hashes, file hash, sha256)."""
    name = fmt.hash_hex(info.file_hash)
    if len(info.verification) != len(info.terms):  # they prove the uploader holds the chunks it points to
        raise HubError(400, f"File {name}: a verification entry is needed for each of its terms")
    chunks: list[tuple[bytes, int]] = []
    for i, term in enumerate(info.terms):
        xorb = fmt.hash_hex(term.xorb)
        index = load_index(ex, fmt, xorb)
        if not 0 <= term.start < term.end <= index.num_chunks:
            raise HubError(400, f"File {name}: chunks {term.start}-{term.end} are not in xorb {xorb}")
        size = index.unpacked_offsets[term.end] - index.unpacked_offsets[term.start]
        if size != term.unpacked_size:
            raise HubError(400, f"File {name}: term {i} has {size} bytes, not {term.unpacked_size}")
        hashes = index.hashes[term.start : term.end]
        if fmt.verification_hash(hashes) != info.verification[i]:
            raise HubError(400, f"File {name}: verification hash of term {i} does not match")
        sizes = [index.unpacked_offsets[c + 1] - index.unpacked_offsets[c] for c in range(term.start, term.end)]
        chunks.extend(zip(hashes, sizes, strict=True))
    if fmt.file_hash(chunks) != info.file_hash:
        raise HubError(400, f"File {name}: its chunks do not hash to its file hash")
    total = sum(size for _, size in chunks)
    known = _store(ex).file(name)
    if known is not None:
        sha256 = known.sha256
    else:
        digest = hashlib.sha256()
        for term in info.terms:
            for data in iter_term_data(ex, fmt, fmt.hash_hex(term.xorb), term.start, term.end):
                digest.update(data)
        sha256 = digest.hexdigest()
    if info.sha256 is not None and sha256 not in (info.sha256.hex(), fmt.hash_hex(info.sha256)):
        raise HubError(400, f"File {name}: its content does not match the sha256 of its metadata")
    return XetFile(name, sha256, total, info.terms_bytes())


def _dedup_query(ex: Exchange, fmt: ModuleType, chunk: str) -> None:
    _check_token(ex, write=False)
    store = _store(ex)
    xorb = store.xorb_of_chunk(chunk)
    if xorb is None:
        raise HubError(404, "Chunk not known to global deduplication")
    index = load_index(ex, fmt, xorb)
    on_disk = store.xorb_path(xorb).stat().st_size
    now = int(time.time())
    key = secrets.token_bytes(32)  # a fresh key per answer, as the Hub's
    shard = fmt.dedup_shard(
        [index.cas_block(fmt.hex_hash(xorb), on_disk, hmac_key=key)],
        hmac_key=key,
        created=now,
        expiry=now + 7 * 24 * 3600,
        stored=index.unpacked_offsets[-1],
        on_disk=on_disk,
    )
    ex.send_bytes(200, shard, {"Content-Type": "application/octet-stream"})


def _readable_file(ex: Exchange, grant: _Grant, file_hash: str) -> XetFile:
    file = _store(ex).file(file_hash)
    if file is None or not _store(ex).repo_has_file(grant.repo.id, file_hash):
        raise HubError(404, f"File {file_hash} not found")
    return file


def _xorb_url(ex: Exchange, xorb: str, first: int, last: int) -> str:
    """A signed URL for bytes ``first`` to ``last`` (inclusive) of a xorb: the terms of one file, nothing else."""
    expires = int(time.time()) + URL_TTL
    span = f"{first}-{last}"
    signature = _sign(_store(ex), f"{xorb}:{span}:{expires}")
    return f"{_cas_url(ex)}/data/{xorb}?range={span}&exp={expires}&sig={signature}"


def _reconstruction(ex: Exchange, fmt: ModuleType, file_hash: str, *, v2: bool) -> None:
    grant = _check_token(ex, write=False)
    file = _readable_file(ex, grant, file_hash)
    span = parse_range(ex.handler.headers.get("Range"), file.size) if file.size else None
    start, end = (0, file.size) if span is None else (span[0], span[0] + span[1])
    terms: list[dict[str, object]] = []
    ranges: dict[str, list[tuple[int, int]]] = {}
    indexes: dict[str, _format.XorbIndex] = {}
    offset_into_first = 0
    for xorb, index, first, last, offset in term_spans(ex, fmt, file, start, end):
        if not terms:
            offset_into_first = start - offset
        length = index.unpacked_offsets[last] - index.unpacked_offsets[first]
        terms.append({"hash": xorb, "unpacked_length": length, "range": {"start": first, "end": last}})
        ranges.setdefault(xorb, []).append((first, last))
        indexes[xorb] = index
    fetch = {
        xorb: [_fetch_entry(ex, xorb, indexes[xorb], *chunks, v2=v2) for chunks in _merge_ranges(spans)]
        for xorb, spans in ranges.items()
    }
    answer: dict[str, object] = {"offset_into_first_range": offset_into_first, "terms": terms}
    answer["xorbs" if v2 else "fetch_info"] = fetch
    ex.send_json(answer)


def _merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Chunk ranges ``[start, end)`` merged into sorted, disjoint ranges that cover them all.

    The Xet spec serves each term from one fetch entry whose range contains the term's; with overlapping entries
    hf_xet may serve a term from one that holds only part of it (and panics).
    """
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1]:  # overlapping or touching: one download
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _fetch_entry(
    ex: Exchange, xorb: str, index: _format.XorbIndex, first: int, last: int, *, v2: bool
) -> dict[str, object]:
    """The fetch entry (v1 ``fetch_info`` or v2 ``xorbs``) for chunks ``[first, last)`` of a xorb."""
    byte_range = {"start": index.byte_offsets[first], "end": index.byte_offsets[last] - 1}
    chunk_range = {"start": first, "end": last}
    url = _xorb_url(ex, xorb, index.byte_offsets[first], index.byte_offsets[last] - 1)
    if v2:
        return {"url": url, "ranges": [{"chunks": chunk_range, "bytes": byte_range}]}
    return {"range": chunk_range, "url": url, "url_range": byte_range}


def _is_decimal(text: str) -> bool:
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def _signed_span(ex: Exchange, xorb: str) -> tuple[int, int]:
    """The byte span ``(first, last)`` a xorb URL was signed for; 403 for a bad or expired signature."""
    span, expires, signature = (ex.query_value(name) or "" for name in ("range", "exp", "sig"))
    first, _, last = span.partition("-")
    valid = _is_decimal(expires) and _is_decimal(first) and _is_decimal(last) and int(first) <= int(last)
    if not (valid and _same(_sign(_store(ex), f"{xorb}:{span}:{expires}"), signature)):
        raise HubError(403, "Invalid xorb URL signature")
    if int(expires) < time.time():
        raise HubError(403, "Expired xorb URL")
    return int(first), int(last)


def _serve_xorb_data(ex: Exchange, xorb: str) -> None:
    """``GET /api/xet-cas/data/{xorb}?range=&exp=&sig=``: bytes of a stored xorb within the span the URL was signed
    for (the terms of a file the caller may read), through ``Range`` requests."""
    first, last = _signed_span(ex, xorb)
    path = _store(ex).xorb_path(xorb)
    if not path.is_file():
        raise HubError(404, f"Xorb {xorb} not found")
    size = path.stat().st_size
    if last >= size:
        raise HubError(416, f"Bytes {first}-{last} are not in xorb {xorb} ({size} bytes)")
    span = parse_range(ex.handler.headers.get("Range"), size)
    start, length = (first, last - first + 1) if span is None else span
    if not first <= start <= start + length - 1 <= last:
        raise HubError(403, f"This URL gives bytes {first}-{last} of xorb {xorb} only")
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Range": f"bytes {start}-{start + length - 1}/{size}",
        "Content-Length": str(length),
    }
    ex.start(206, headers)
    ex.send_file(path, start, length)
