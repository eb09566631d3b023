"""Every call hubmixin makes to the Hub, through the official `huggingface_hub` client."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import random
import re
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from importlib import metadata
from pathlib import Path
from typing import Any

from huggingface_hub import (
    CommitInfo,
    CommitOperationAdd,
    CommitOperationDelete,
    DiscussionWithDetails,
    HfApi,
    constants,
    hf_hub_download,
    try_to_load_from_cache,
)
from huggingface_hub.errors import (
    HfHubHTTPError,
    HfUriError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import _CACHED_NO_EXIST, repo_folder_name
from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

from hubmixin_core._checks import closest, expand_location
from hubmixin_core._generated._options import DownloadOptions, UploadOptions
from hubmixin_core._paths import check_local_location, check_relative_path, warn_if_linked_outside
from hubmixin_core.errors import HubMixinError, HubMixinValueError, format_names

__all__ = [
    "cached_alternative",
    "check_whole_checkpoint",
    "download_file",
    "download_files",
    "download_optional_file",
    "Absence",
    "absences",
    "locate_file",
    "one_commit",
    "upload_folder",
]

_LIBRARY = "hubmixin"


def _version() -> str:
    try:
        return metadata.version("hubmixin-core")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


_PINNED: ContextVar[dict[tuple[str, str | None], str] | None] = ContextVar("hubmixin_pinned_commits", default=None)
"""Inside :func:`one_commit`: the commit each repository's first download came from, by repo id and the revision
asked for."""
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@contextlib.contextmanager
def one_commit() -> Iterator[None]:
    """Download every file of a repository from one commit while in this context: the first file's (a branch
    pushed to meanwhile would otherwise give one commit's config with another's weights). Nests: an inner
    context (a load inside a model's ``__init__``) keeps the outer one's commits."""
    if _PINNED.get() is not None:
        yield
        return
    token = _PINNED.set({})
    try:
        yield
    finally:
        _PINNED.reset(token)


def _pinned(repo_id: str, options: DownloadOptions) -> DownloadOptions:
    """``options`` at the commit :func:`one_commit` holds for ``repo_id``, if any."""
    pins = _PINNED.get()
    commit = None if pins is None else pins.get((repo_id, options.revision))
    return options if commit is None else dataclasses.replace(options, revision=commit)


def _pin(repo_id: str, filename: str, options: DownloadOptions, path: Path) -> None:
    """Hold the commit of ``path`` (``.../snapshots/<commit>/<filename>`` in the cache) for ``repo_id`` at the
    revision ``options`` ask for."""
    pins = _PINNED.get()
    if pins is None or (repo_id, options.revision) in pins:
        return
    snapshot = path.parents[len(Path(filename).parts) - 1]
    if _COMMIT.match(snapshot.name):
        pins[(repo_id, options.revision)] = snapshot.name


def download_file(repo_id: str, filename: str, options: DownloadOptions) -> Path:
    """Download ``filename`` of ``repo_id`` into the cache (or find it there) and return its path.

    Inside :func:`one_commit` (as ``from_pretrained`` runs), every file comes from the commit of the first one.

    Raises:
        InvalidRepoPathError: ``filename`` would leave the repository.
        huggingface_hub.errors.EntryNotFoundError: the file is not in the repository (or not cached with
            ``local_files_only``); other client errors as the client raises them.
        ConnectionError: the connection kept dropping past the client's retries (a ``HubMixinError`` naming the
            file, chained from the HTTP library's error).
    """
    path = _download(repo_id, filename, _pinned(repo_id, options))
    _pin(repo_id, filename, options, path)
    return path


def _hf_hub_download(repo_id: str, filename: str, options: DownloadOptions) -> str:
    """``hf_hub_download`` with ``options``; the Hub's typed error (``RepositoryNotFoundError``, ``GatedRepoError``)
    raised as it is under ``force_download=True`` too, where the client wraps it in a bare ``ValueError``."""
    try:
        return str(
            hf_hub_download(
                repo_id,
                filename,
                revision=options.revision,
                cache_dir=options.cache_dir,
                force_download=options.force_download,
                local_files_only=options.local_files_only,
                token=options.token,
                endpoint=options.endpoint,
                library_name=_LIBRARY,
                library_version=_version(),
            )
        )
    except ValueError as error:
        if options.force_download and isinstance(error.__cause__, HfHubHTTPError):
            raise error.__cause__ from None
        raise


def _download(repo_id: str, filename: str, options: DownloadOptions) -> Path:
    check_relative_path(filename, repo_id)
    try:
        path = _hf_hub_download(repo_id, filename, options)
    except LocalEntryNotFoundError as error:  # the client's message names no file (one shard of six, offline)
        where = f"{repo_id}@{options.revision or 'main'}"
        why = _why_not_fetched(error, repo_id, options)
        message = f"{filename} of {where} is not in the cache and cannot be fetched: {why}"
        if not Path(repo_id).exists() and not _cached_repo(repo_id, options):  # a mistyped local path, offline
            local = f"{repo_id!r} is neither a local directory ({Path(repo_id).absolute()} does not exist)"
            message = f"{local} nor a repository in the Hub cache; {message}"
        raise LocalEntryNotFoundError(message) from error
    except RevisionNotFoundError as error:  # the client's message is a bare 404 naming the URL
        message = f"{repo_id} has no revision {options.revision!r}{_known_refs(repo_id, options)}"
        raise RevisionNotFoundError(f"{message}. {error}", response=error.response) from error
    except transport_errors(dropped=True) as error:  # past the client's retries: its message names no file
        where = f"{repo_id}@{options.revision or constants.DEFAULT_REVISION}"
        raise HubUnreachableError(
            f"{filename} of {where}: the download failed ({type(error).__name__}: {error})"
        ) from error
    return Path(str(path))


class HubUnreachableError(HubMixinError, ConnectionError):
    """The Hub could not be reached (or, for ``hubmixin inspect``, answered a server error), for a file or a
    repository not in the Hub cache either."""


def transport_errors(*, dropped: bool = False) -> tuple[type[Exception], ...]:
    """The "server not reached" errors of huggingface_hub's HTTP library (httpx2, or httpx in older releases);
    ``dropped``: only a connection that failed or dropped, or timed out (not a malformed endpoint's
    ``UnsupportedProtocol``, nor a proxy's error)."""
    names = ("NetworkError", "TimeoutException", "RemoteProtocolError") if dropped else ("TransportError",)
    found: list[type[Exception]] = []
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            imported = importlib.import_module(module)
            found.extend(getattr(imported, name) for name in names)
    return tuple(found)


def _known_refs(repo_id: str, options: DownloadOptions) -> str:
    """The branches and tags of ``repo_id`` and the closest to the revision asked for, as a message's tail (empty
    where the Hub does not say)."""
    try:
        refs = HfApi(endpoint=options.endpoint, library_name=_LIBRARY).list_repo_refs(repo_id, token=options.token)
    except Exception:  # (only a better message is lost)
        return ""
    branches, tags = [b.name for b in refs.branches], [t.name for t in refs.tags]
    guess = closest(str(options.revision), [*branches, *tags])
    hint = f"; did you mean {guess!r}?" if guess else ""
    return f" (branches {branches}, tags {tags}{hint})"


def _why_not_fetched(error: LocalEntryNotFoundError, repo_id: str, options: DownloadOptions) -> str:
    """The client's reason, but for offline mode, for which it says to check the connection (and gives the command
    fetching what the load asked for: its revision, into its cache)."""
    chain: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if not constants.is_offline_mode() and not any(isinstance(e, OfflineModeIsEnabled) for e in chain):
        return str(error)
    return (
        "offline mode is on (HF_HUB_OFFLINE is set), so nothing is downloaded: download the repository once "
        f"online (`{_download_command(repo_id, options)}`), or unset HF_HUB_OFFLINE"
    )


def _download_command(repo_id: str, options: DownloadOptions) -> str:
    """The ``hf download`` command fetching ``repo_id`` at the revision and into the cache ``options`` ask for."""
    words = ["hf", "download", repo_id]
    if options.revision is not None:
        words += ["--revision", options.revision]
    if options.cache_dir is not None:
        words += ["--cache-dir", str(options.cache_dir)]
    return shlex.join(words)


def _cached_repo(repo_id: str, options: DownloadOptions) -> bool:
    """Whether the Hub cache holds anything of model repository ``repo_id``."""
    cache = Path(options.cache_dir or constants.HF_HUB_CACHE)
    return (cache / repo_folder_name(repo_id=repo_id, repo_type="model")).is_dir()


def download_optional_file(repo_id: str, filename: str, options: DownloadOptions) -> Path | None:
    """Like :func:`download_file`, but ``None`` when the repository has no such file.

    A file the cache cannot provide offline (``local_files_only``, or the Hub unreachable) is not "absent": that
    error is raised, unless the cache has recorded the file as missing from that revision.

    Raises:
        huggingface_hub.errors.LocalEntryNotFoundError: the file is not cached and cannot be fetched.
    """
    try:
        return download_file(repo_id, filename, options)
    except RemoteEntryNotFoundError as absent:
        if (found := _ABSENT.get()) is not None:  # (the answer, not the error: it holds the caller's frames)
            found.append(Absence(repo_id, absent.response, absent.server_message))
        return None
    except LocalEntryNotFoundError:
        revision = _pinned(repo_id, options).revision
        cached = try_to_load_from_cache(repo_id, filename, cache_dir=options.cache_dir, revision=revision)
        if cached is _CACHED_NO_EXIST:
            return None
        raise


@dataclasses.dataclass(frozen=True)
class Absence:
    """The Hub's 404 for a file of ``repo_id`` that :func:`download_optional_file` found absent."""

    repo_id: str
    response: Any
    server_message: str | None


_ABSENT: ContextVar[list[Absence] | None] = ContextVar("_ABSENT", default=None)


@contextlib.contextmanager
def absences() -> Iterator[Callable[[str], Absence | None]]:
    """Within, the returned function gives the last absence of a file of its repository found inside the block
    (``None`` where none was: offline, the cache knew); nothing is kept outside such a block."""
    found: list[Absence] = []
    token = _ABSENT.set(found)
    try:
        yield lambda repo_id: next((a for a in reversed(found) if a.repo_id == repo_id), None)
    finally:
        _ABSENT.reset(token)


def cached_alternative(repo_id: str | Path, filename: str, options: DownloadOptions) -> Path | None:
    """Offline, after a file tried before it was not cached: ``filename`` of ``repo_id`` if the cache holds it.

    Whether a repository lacks a file is known offline only where the cache recorded it (``.no_exist``, as an
    online download does); a snapshot fetched ahead (``snapshot_download``, ``hf download``) records nothing, so
    a loader trying files in turn takes the first one the cache holds. ``None`` otherwise (the caller raises its
    own ``LocalEntryNotFoundError``); a local directory has no cache: ``None``.
    """
    if Path(repo_id).is_dir():
        return None
    try:
        return download_optional_file(str(repo_id), filename, options)
    except LocalEntryNotFoundError:
        return None


def locate_file(model_id: str | Path, filename: str, options: DownloadOptions) -> Path | None:
    """``filename`` of a local model directory, or of a Hub repository (downloaded); ``None`` if it has none.

    Raises:
        InvalidRepoPathError: ``filename`` would leave the model directory.
        WeightsNotFoundError: ``model_id`` is written as a local path (``~/m``, ``./m``, ``my model``) that is not
            a directory.
        huggingface_hub.errors.LocalEntryNotFoundError: the file is not cached and cannot be fetched.
    """
    model_id = expand_location(model_id)  # as from_pretrained expands it
    check_local_location(model_id, "a model directory or a repo id is expected")
    directory = Path(model_id)
    if directory.is_dir():
        path = directory / check_relative_path(filename, str(directory))
        return warn_if_linked_outside(directory, path) if path.is_file() else None
    return download_optional_file(str(model_id), filename, options)


def download_files(repo_id: str, filenames: list[str], options: DownloadOptions) -> list[Path]:
    """Download several files of ``repo_id`` in parallel (``options.max_workers`` at once), keeping order."""
    for name in filenames:
        check_relative_path(name, repo_id)
    workers = max(1, min(options.max_workers, len(filenames)))
    if workers == 1:
        return [download_file(repo_id, name, options) for name in filenames]
    pins = _PINNED.get()
    first = []
    if pins is not None and (repo_id, options.revision) not in pins:
        first = [download_file(repo_id, filenames[0], options)]  # pins the commit: the pool's threads see no context
    pinned = _pinned(repo_id, options)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hubmixin-download") as pool:
        return [*first, *pool.map(lambda name: _download(repo_id, name, pinned), filenames[len(first) :])]


_LEGACY_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-?????-of-?????.bin")
"""The weight files of pushes before safetensors (huggingface_hub's mixin, transformers' shards): loaders read them
where no ``model.safetensors`` is, a sharded push's repository say, so a push of new weights deletes them too."""


def _folder_files(folder: Path) -> list[str]:
    """The files under ``folder``, by their path in it with ``/`` separators (their name in the repository)."""
    return [path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()]


def _weight_files(folder: Path, options: UploadOptions, replaced: Sequence[str]) -> tuple[set[str], set[str]]:
    """The files of ``folder`` matching the glob patterns ``replaced`` (its weight files), and those of them the
    push's ``allow_patterns`` / ``ignore_patterns`` upload."""
    names = _folder_files(folder)
    weights = set(filter_repo_objects(names, allow_patterns=list(replaced))) if replaced else set()
    uploaded = filter_repo_objects(
        weights, allow_patterns=options.allow_patterns, ignore_patterns=options.ignore_patterns
    )
    return weights, set(uploaded)


def check_whole_checkpoint(folder: Path, options: UploadOptions, replaced: Sequence[str]) -> None:
    """Refuse a push whose patterns upload some of ``folder``'s weight files but not all: shards without their
    index (``allow_patterns="*.safetensors"``) or the reverse would publish half a checkpoint, beside which an
    earlier push's weights, which such a push deletes none of, would be loaded. A push of none of them (a
    config-only ``allow_patterns=["config.json"]``) is made.

    Raises:
        HubMixinValueError: naming the files the patterns upload and those they leave out.
    """
    _check_whole(*_weight_files(folder, options, replaced), options)


def _check_whole(weights: set[str], uploaded: set[str], options: UploadOptions) -> None:
    """:func:`check_whole_checkpoint` of a folder's ``weights`` files, of which the push uploads ``uploaded``."""
    if not uploaded or uploaded == weights:
        return
    given = ", ".join(
        f"{name}={value!r}"
        for name, value in (("allow_patterns", options.allow_patterns), ("ignore_patterns", options.ignore_patterns))
        if value is not None
    )
    raise HubMixinValueError(
        f"push_to_hub: {given} upload the weight files {format_names(sorted(uploaded), limit=3)} but leave out "
        f"{format_names(sorted(weights - uploaded), limit=3)} of the same save: the repository would hold half a "
        "checkpoint (unloadable, or an earlier push's weights loaded instead). Let the patterns keep all the weight "
        'files (allow_patterns=["*.safetensors", "*.json"]; ignore_patterns matching none of them), or none (a '
        'config-only push: allow_patterns=["config.json"])'
    )


def _delete_patterns(
    weights: set[str], uploaded: set[str], options: UploadOptions, replaced: Sequence[str]
) -> list[str] | str | None:
    """The caller's ``delete_patterns``, plus ``replaced`` (and the legacy ``pytorch_model*.bin`` files) when the
    push uploads every one of the folder's ``weights`` files (those matching ``replaced``; ``uploaded``: those the
    push uploads): the weight files of an earlier push (a single file, shards, an index) would otherwise be read
    instead of, or with, the new ones. A push filtered to leave them out (a config-only
    ``allow_patterns=["config.json"]``) deletes none, as huggingface_hub's."""
    if not weights or uploaded != weights:
        return options.delete_patterns
    given = [options.delete_patterns] if isinstance(options.delete_patterns, str) else options.delete_patterns or []
    return [*given, *replaced, *_LEGACY_WEIGHTS]  # huggingface_hub does not delete the files the same commit uploads


def _create_repo(api: HfApi, repo_id: str, *, private: bool | None) -> str:
    """The id of ``repo_id``, created unless it exists.

    For an existing repository the caller may not write (a contributor opening a pull request),
    huggingface_hub's ``create_repo(exist_ok=True)`` finds it, then fails to build its URL on an endpoint other
    than its default (``HfUriError``): the repository is there, so the push goes on (and gets the Hub's 403
    if the caller may not open a pull request either).
    """
    try:
        return api.create_repo(repo_id, private=private, exist_ok=True).repo_id
    except HfUriError:
        return repo_id


def upload_folder(repo_id: str, folder: Path, options: UploadOptions, *, replaced: Sequence[str] = ()) -> CommitInfo:
    """Create ``repo_id`` if needed, then upload ``folder`` as one commit; returns the commit's info.

    Patterns that keep some of the files matching ``replaced`` but not all are refused first
    (:func:`check_whole_checkpoint`).

    A ``branch`` (its name, or ``refs/heads/<name>``) that does not exist yet is created from ``main`` first
    (unless a pull request is asked for, or the branch is one: ``refs/pr/N``); a tag's name is refused. When the
    push uploads a file matching the glob patterns ``replaced`` (the weight files), the repository's other files
    matching them are deleted in the same commit, which is made on the head it listed them at: a push landing in
    between (another process pushing the same repository) makes the Hub refuse it (412), and it is made again on
    the new head. With ``create_pr``, the files' LFS/Xet content is uploaded first (a push killed meanwhile leaves
    no pull request), then the pull request is opened and the commit made on its ``refs/pr/N`` the same way, so its
    files are one push's whatever lands on ``main`` meanwhile.
    """
    weights, uploaded = _weight_files(folder, options, replaced)
    _check_whole(weights, uploaded, options)
    api = HfApi(endpoint=options.endpoint, token=options.token, library_name=_LIBRARY, library_version=_version())
    repo_id = _create_repo(api, repo_id, private=options.private)
    branch = options.branch
    if branch is not None and branch.startswith("refs/heads/"):  # a valid revision, not a valid branch name
        branch = branch.removeprefix("refs/heads/")
    if branch is not None and not options.create_pr and not branch.startswith("refs/pr/"):
        if branch in {tag.name for tag in api.list_repo_refs(repo_id).tags}:
            raise HubMixinValueError(f"branch={branch!r}: {repo_id} has a tag of that name; pushes go to branches")
        api.create_branch(repo_id, branch=branch, exist_ok=True)
    delete_patterns = _delete_patterns(weights, uploaded, options, replaced)
    if not options.create_pr or branch not in (None, constants.DEFAULT_REVISION):  # (the client refuses others)
        pinned = bool(delete_patterns) and not options.create_pr
        return _commit(
            api, repo_id, folder, options, branch, delete_patterns, pinned=pinned, create_pr=options.create_pr
        )
    # huggingface_hub opens the pull request on main's head when it commits, maybe another push's head than the one
    # it listed the deletions at (and a `parent_commit` then fails the commit, leaving an empty pull request)
    additions = _preupload(api, repo_id, folder, options)  # the long part: a push killed in it opens no pull request
    pull_request = api.create_pull_request(repo_id, title=_pull_request_title(options.commit_message))
    assert pull_request.git_reference is not None  # a pull request's
    start = api.repo_info(repo_id, revision=pull_request.git_reference).sha
    try:
        ref = pull_request.git_reference
        commit = _commit_preuploaded(api, repo_id, additions, options, ref, delete_patterns)
    except BaseException:
        with contextlib.suppress(Exception):  # (the push's own error is the one to raise)
            _close_if_empty(api, repo_id, pull_request, start)
        raise
    if _close_if_empty(api, repo_id, pull_request, start, commit.oid):
        return commit  # nothing changed: as huggingface_hub, which opens no pull request then
    return CommitInfo(
        commit_url=commit.commit_url,
        commit_message=commit.commit_message,
        commit_description=commit.commit_description,
        oid=commit.oid,
        _endpoint=api.endpoint,
        pr_url=pull_request.url,
    )


def _preupload(api: HfApi, repo_id: str, folder: Path, options: UploadOptions) -> list[CommitOperationAdd]:
    """The additions of the files of ``folder`` the push commits, their LFS/Xet content uploaded as a pull
    request's commit would (``create_pr``): committed by :func:`_commit_preuploaded`, which sends none of it again
    (nor reads or hashes the files again)."""
    names = _folder_files(folder)
    ignored = [options.ignore_patterns] if isinstance(options.ignore_patterns, str) else options.ignore_patterns
    committed = filter_repo_objects(
        names, allow_patterns=options.allow_patterns, ignore_patterns=[*(ignored or []), *DEFAULT_IGNORE_PATTERNS]
    )
    additions = [CommitOperationAdd(name, folder / name) for name in committed]
    api.preupload_lfs_files(repo_id, additions, create_pr=True)
    return additions


def _commit_preuploaded(
    api: HfApi,
    repo_id: str,
    additions: list[CommitOperationAdd],
    options: UploadOptions,
    revision: str,
    delete_patterns: list[str] | str | None,
) -> CommitInfo:
    """``additions`` (uploaded by :func:`_preupload`) committed to ``revision`` on its head, with the deletion of
    the files there matching ``delete_patterns`` that it does not add (never ``.gitattributes``, as
    ``upload_folder``); again on the new head while the Hub refuses it (412)."""
    added = {addition.path_in_repo for addition in additions}

    def commit(parent: str | None) -> CommitInfo:
        deleted = [] if delete_patterns is None else api.list_repo_files(repo_id, revision=parent)
        deletions = [
            CommitOperationDelete(path)
            for path in filter_repo_objects(deleted, allow_patterns=_copied(delete_patterns))
            if path not in added and path != ".gitattributes"
        ]
        return api.create_commit(
            repo_id,
            [*deletions, *additions],
            commit_message=options.commit_message,
            revision=revision,
            parent_commit=parent,
        )

    return _retried(api, repo_id, revision, commit, pinned=True)


def _pull_request_title(message: str) -> str:
    """``message`` as a pull request's title, which the Hub takes of 3 to 200 characters (the commit keeps it
    whole): a shorter one prefixed (``"v2"``: ``"Push: v2"``), a longer one cut."""
    title = message.strip()
    if len(title) < 3:
        return f"Push: {title}".strip()
    return title if len(title) <= 200 else title[:199] + "…"


def _commit(
    api: HfApi,
    repo_id: str,
    folder: Path,
    options: UploadOptions,
    revision: str | None,
    delete_patterns: list[str] | str | None,
    *,
    pinned: bool,
    create_pr: bool | None,
) -> CommitInfo:
    """``folder`` committed to ``revision``; ``pinned``, on the head its deletions were listed at, and again on
    the new head while the Hub refuses it (412: another push landed in between)."""

    def commit(parent: str | None) -> CommitInfo:
        done = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            repo_type="model",
            commit_message=options.commit_message,
            revision=revision,
            create_pr=create_pr,
            parent_commit=parent,
            allow_patterns=_copied(options.allow_patterns),
            ignore_patterns=_copied(options.ignore_patterns),  # (the client appends its own to the list)
            delete_patterns=_copied(delete_patterns),
        )
        assert isinstance(done, CommitInfo)  # run_as_future=False
        return done

    return _retried(api, repo_id, revision, commit, pinned=pinned)


def _retried(
    api: HfApi, repo_id: str, revision: str | None, commit: Callable[[str | None], CommitInfo], *, pinned: bool
) -> CommitInfo:
    """``commit(parent)``: ``pinned``, on ``revision``'s head (else ``None``), and again on the new head while the
    Hub refuses it (412: another push landed in between)."""
    for attempt in range(_PUSH_ATTEMPTS):
        parent = api.repo_info(repo_id, revision=revision).sha if pinned else None
        try:
            return commit(parent)
        except HfHubHTTPError as error:
            status = error.response.status_code if error.response is not None else None
            if status != _PRECONDITION_FAILED or attempt + 1 == _PUSH_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.05, 0.5) * (attempt + 1))  # another push landed: on its head, again
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _close_if_empty(
    api: HfApi, repo_id: str, pull_request: DiscussionWithDetails, start: str | None, head: str | None = None
) -> bool:
    """Close ``pull_request`` if it got no commit past ``start`` (its ``head``, or read); whether it did."""
    assert pull_request.git_reference is not None
    if (head or api.repo_info(repo_id, revision=pull_request.git_reference).sha) != start:
        return False
    comment = "Nothing was committed to this pull request."
    api.change_discussion_status(repo_id, pull_request.num, "closed", comment=comment)
    return True


_PUSH_ATTEMPTS = 8
_PRECONDITION_FAILED = 412


def _copied(patterns: list[str] | str | None) -> list[str] | str | None:
    """Patterns as a list of their own, so the caller's is left as it was given (a tuple taken too)."""
    return patterns if patterns is None or isinstance(patterns, str) else list(patterns)
