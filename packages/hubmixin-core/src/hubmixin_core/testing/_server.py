"""``LocalHub``: a Hub-compatible HTTP server on the loopback interface, run in a background thread."""

from __future__ import annotations

import errno
import ipaddress
import numbers
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Self

from hubmixin_core.errors import HubMixinOSError, HubMixinRuntimeError, HubMixinTypeError, HubMixinValueError
from hubmixin_core.testing._access import user_role
from hubmixin_core.testing._access_requests import RequestStatus
from hubmixin_core.testing._app import SHARD_LIMIT, HubApp
from hubmixin_core.testing._client_config import configure_client
from hubmixin_core.testing._faults import Fault
from hubmixin_core.testing._http import JSON_LIMIT
from hubmixin_core.testing._httpd import HubHTTPServer
from hubmixin_core.testing._orgs import ROLES, OrgRole
from hubmixin_core.testing._routes import RESERVED_NAMES
from hubmixin_core.testing._storage import RepoKey
from hubmixin_core.testing.xet import xet_available
from hubmixin_core.testing.xet._data import XET_EXTRA_MESSAGE

__all__ = ["DataFolderError", "LocalHub"]

_USER_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}[A-Za-z0-9])?")


class DataFolderError(HubMixinOSError, NotADirectoryError):
    """LocalHub's data folder is a file, or lies under one."""


def _make_data_folder(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # a file (or a dangling link) in its place
        raise DataFolderError(errno.ENOTDIR, "it is a file, not a folder", str(root)) from exc
    except NotADirectoryError as exc:  # a file above it
        raise DataFolderError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(root)) from exc


def _check_loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.IPv4Address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise HubMixinValueError(f"LocalHub only binds to the IPv4 loopback interface (127.0.0.1), not {host!r}")


def _check_port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, numbers.Integral):
        raise HubMixinTypeError(f"port must be an int (0-65535), got {type(port).__name__} {port!r}")
    number = int(port)
    if not 0 <= number <= 65535:
        raise HubMixinValueError(f"port must be a TCP port (0-65535), not {number}")
    return number


def _account_clash(app: HubApp, name: str, kind: str) -> str | None:
    """Why ``name`` cannot be a ``kind`` (``"user"`` or ``"organization"``) of ``app``, or ``None``: names are
    case-insensitive, as on the Hub, and users and organizations share them (the repositories' namespaces)."""
    user, org = app.storage.user_name(name), app.orgs.name(name)
    same_kind, other_kind = (user, org) if kind == "user" else (org, user)
    if other_kind is not None:
        this, other = ("a user", "an organization") if kind == "user" else ("an organization", "a user")
        casing = "" if other_kind == name else f" ({other_kind!r}: names are case-insensitive)"
        return f"{name!r} is {other}{casing}: {this} cannot have its name"
    if same_kind is not None and same_kind != name:
        return f"{name!r} differs only by case from the {kind} {same_kind!r}: names are case-insensitive"
    return None


def _check_user_name(name: str, what: str = "user") -> str:
    if not _USER_NAME.fullmatch(name) or name in RESERVED_NAMES or "--" in name:
        raise HubMixinValueError(
            f"Invalid {what} name {name!r}: use letters, digits and single '-' (not {sorted(RESERVED_NAMES)})"
        )
    return name


class LocalHub:
    """A Hub-compatible server for tests and offline work, speaking to the official ``huggingface_hub`` client.

    Use it as a context manager (or call `start`/`stop`):

    Examples:
        >>> from huggingface_hub import HfApi
        >>> from hubmixin_core.testing import LocalHub
        >>> with LocalHub() as hub, hub.configure_client():
        ...     repo = HfApi().create_repo("model")  # at hub.endpoint, owned by hub.username
        ...     repo.repo_id, repo.startswith(hub.endpoint)
        ('localuser/model', True)

    Args:
        root: Folder holding the data (content-addressed blobs plus a SQLite metadata store); repositories
            persist across restarts. A relative path (or ``~``) is made absolute here, at construction, so
            later changes of the current directory do not move it. ``None`` uses a temporary folder removed
            by `stop`.
        host: Loopback address to bind (only ``127.x.x.x``/``localhost`` are accepted).
        port: TCP port; ``0`` picks a free one.
        username: The default user, owner of `token`.
        lfs_threshold: Files of this many bytes or more go through LFS (as do binary files and the
            ``.gitattributes`` LFS patterns such as ``*.safetensors``).
        page_size: Entries per page of tree and commit listings (the Hub uses 1000).
        token: The write token of `username` (default: a new one at each start), for scripts that need a
            fixed ``HF_TOKEN``; at least 8 printable ASCII characters.
        max_json_bytes: Largest JSON or form request body (preupload, LFS batch, paths-info ...), 16 MiB by
            default. Larger ones get a 413 naming the limit, checked from ``Content-Length`` before reading.
        max_commit_line_bytes: Longest line of a commit's NDJSON body, checked while reading, before decoding.
            The default fits the base64 of a file just below `lfs_threshold` (the largest the client inlines)
            plus 64 KiB.
        max_shard_bytes: Largest Xet shard upload, 256 MiB by default.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "localuser",
        lfs_threshold: int = 10 * 1024 * 1024,
        page_size: int = 1000,
        token: str | None = None,
        max_json_bytes: int = JSON_LIMIT,
        max_commit_line_bytes: int | None = None,
        max_shard_bytes: int = SHARD_LIMIT,
    ) -> None:
        if lfs_threshold < 1 or page_size < 1:
            raise HubMixinValueError("lfs_threshold and page_size must be positive")
        if min(max_json_bytes, max_shard_bytes, 1 if max_commit_line_bytes is None else max_commit_line_bytes) < 1:
            raise HubMixinValueError("max_json_bytes, max_commit_line_bytes and max_shard_bytes must be positive")
        self._max_json_bytes = max_json_bytes
        self._max_commit_line_bytes = max_commit_line_bytes
        self._max_shard_bytes = max_shard_bytes
        # Fixed now: the stores open their files at request time, after the caller may have changed directory.
        self._root = None if root is None else Path(os.path.expanduser(root)).resolve()  # noqa: PTH111 (~name of no user: as is)
        self._host = _check_loopback(host)
        self._port = _check_port(port)
        self.username = _check_user_name(username)
        self._lfs_threshold = lfs_threshold
        self._page_size = page_size
        self._app: HubApp | None = None
        self._httpd: HubHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._token: str | None = None
        if token is not None and not isinstance(token, str):
            raise HubMixinTypeError(f"token must be a str, got {type(token).__name__}")  # (its value is a secret)
        if token is not None and (len(token) < 8 or not token.isascii() or not token.isprintable() or " " in token):
            raise HubMixinValueError("token must be at least 8 printable ASCII characters without spaces")
        self._fixed_token = token
        self._temp_root: Path | None = None

    def _running_app(self) -> HubApp:
        if self._app is None:
            raise HubMixinRuntimeError("LocalHub is not running: call start() or use it as a context manager")
        return self._app

    @property
    def running(self) -> bool:
        """Whether the server is serving requests."""
        return self._app is not None

    @property
    def endpoint(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:54321``."""
        return self._running_app().endpoint

    @property
    def token(self) -> str:
        """A write token of `username` (minted at each start)."""
        self._running_app()
        assert self._token is not None
        return self._token

    @property
    def root(self) -> Path:
        """The data folder of the running server, an absolute path."""
        return self._running_app().root

    def start(self) -> Self:
        """Start serving in a background thread; returns ``self``."""
        if self._app is not None:
            raise HubMixinRuntimeError("LocalHub is already running")
        root = self._root
        if root is None:
            root = self._temp_root = Path(tempfile.mkdtemp(prefix="localhub-"))
        _make_data_folder(root)
        app = HubApp(
            root,
            lfs_threshold=self._lfs_threshold,
            page_size=self._page_size,
            max_json_bytes=self._max_json_bytes,
            max_commit_line_bytes=self._max_commit_line_bytes,
            max_shard_bytes=self._max_shard_bytes,
        )
        if (clash := _account_clash(app, self.username, "user")) is not None:
            app.close()
            self._remove_temp_root()
            raise HubMixinValueError(f"{clash} (in this hub's data): pick another username")
        try:
            httpd = HubHTTPServer((self._host, self._port), app)
        except BaseException:
            app.close()
            self._remove_temp_root()
            raise
        app.endpoint = f"http://{self._host}:{httpd.server_port}"
        app.storage.ensure_user(self.username)
        self._token = app.storage.create_token(self.username, write=True, token=self._fixed_token)
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name=f"LocalHub:{httpd.server_port}"
        )
        self._thread.daemon = True
        self._thread.start()
        self._app, self._httpd = app, httpd
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and release the data folder (no-op when stopped)."""
        app, httpd, thread = self._app, self._httpd, self._thread
        if app is None or httpd is None or thread is None:
            return
        self._app = self._httpd = self._thread = None
        app.stopping.set()
        httpd.shutdown()
        workers = httpd.close_connections()
        httpd.server_close()
        thread.join()
        for worker in workers:
            worker.join(timeout=5)
        app.close()
        self._token = None
        self._remove_temp_root()

    def _remove_temp_root(self) -> None:
        if self._temp_root is not None:
            shutil.rmtree(self._temp_root, ignore_errors=True)
            self._temp_root = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._app.endpoint if self._app is not None else "stopped"
        return f"LocalHub({where}, user={self.username!r})"

    def add_user(self, name: str) -> str:
        """Create the user ``name`` (if needed) and return a new write token for it."""
        app = self._running_app()
        if (clash := _account_clash(app, _check_user_name(name), "user")) is not None:
            raise HubMixinValueError(clash)
        app.storage.ensure_user(name)
        return app.storage.create_token(name, write=True)

    def add_organization(self, name: str, *, members: Mapping[str, OrgRole] | None = None) -> None:
        """Create the organization ``name`` (if needed) and give each of ``members`` (existing users) its role.

        Roles are the Hub's: ``"read"`` (read the organization's private repositories), ``"write"`` (also create,
        push to, rename, duplicate into and delete its repositories, merge their pull requests) and ``"admin"``
        (the same here: LocalHub serves no organization settings). ``whoami`` lists a member's organizations
        with their ``roleInOrg``; organizations persist in `root` like users. Members not named keep their role.

        Examples:
            >>> from huggingface_hub import HfApi
            >>> from hubmixin_core.testing import LocalHub
            >>> with LocalHub() as hub, hub.configure_client():
            ...     hub.add_organization("my-org", members={hub.username: "write"})
            ...     HfApi().create_repo("my-org/model").repo_id  # or a model's push_to_hub("my-org/model")
            'my-org/model'
        """
        app = self._running_app()
        if members is not None and not isinstance(members, Mapping):
            raise HubMixinTypeError(
                f"members must be a mapping of user names to roles, got {type(members).__name__} {members!r}"
            )
        roles = {self._check_member(app, user, role): role for user, role in (members or {}).items()}
        clash = _account_clash(app, _check_user_name(name, "organization"), "organization")
        if clash is not None or not app.orgs.create(name):
            raise HubMixinValueError(clash or f"{name!r} is taken: names are case-insensitive")
        for user, role in roles.items():
            app.orgs.set_role(name, user, role)

    def set_org_role(self, org: str, username: str, role: OrgRole | None) -> None:
        """Give ``username`` the ``role`` in the organization ``org`` (see `add_organization`); ``None`` removes
        them from it."""
        app = self._running_app()
        name = app.orgs.name(org)
        if name is None:
            raise HubMixinValueError(f"No organization {org!r}: create it with add_organization()")
        user = username if role is None else self._check_member(app, username, role)
        app.orgs.set_role(name, app.storage.user_name(user) or user, role)

    @staticmethod
    def _check_member(app: HubApp, username: str, role: str) -> str:
        """The name of the user ``username`` as created (whatever its casing), if ``role`` is valid."""
        if role not in ROLES:
            raise HubMixinValueError(f"Invalid role {role!r} for {username!r}: use one of {list(ROLES)}")
        if (name := app.storage.user_name(username)) is None:
            raise HubMixinValueError(f"No user {username!r}: create it with add_user() before adding it to an org")
        return name

    def request_access(
        self, repo_id: str, user: str, *, repo_type: str = "model", fields: Mapping[str, object] | None = None
    ) -> RequestStatus:
        """As ``user``, ask for access to the gated repository ``repo_id``, as the Hub's web form does (the server's
        ``POST /[{type}s/]{repo_id}/ask-access`` route does the same over HTTP).

        ``fields`` are the answers to the gate's form (JSON values), which ``list_pending_access_requests`` and the
        other listings report. Returns the request's status: ``"accepted"`` for a repository gated ``"auto"`` (the
        user downloads at once), ``"pending"`` for ``"manual"`` (until ``accept_access_request``). A user who
        already asked keeps their request as it is (a rejected one stays rejected).

        Examples:
            >>> from huggingface_hub import HfApi
            >>> from hubmixin_core.testing import LocalHub
            >>> with LocalHub() as hub, hub.configure_client():
            ...     api = HfApi()
            ...     repo_id = api.create_repo("gated-model").repo_id
            ...     api.update_repo_settings(repo_id, gated="manual")
            ...     _ = hub.add_user("bob")
            ...     hub.request_access(repo_id, "bob", fields={"company": "ACME"})
            ...     api.accept_access_request(repo_id, "bob")  # now bob downloads its files
            'pending'
        """
        app = self._running_app()
        namespace, _, name = repo_id.partition("/")
        repo = app.storage.get_repo(RepoKey(repo_type, namespace, name))
        if not app.storage.user_exists(user):
            raise HubMixinValueError(f"No user {user!r}: create it with add_user()")
        if repo is None or (repo.private and user_role(app, user, namespace) is None):
            raise HubMixinValueError(f"No {repo_type} repository {repo_id!r} that {user!r} can see")
        if not repo.gated:
            raise HubMixinValueError(f"Repository {repo_id!r} is not gated: update_repo_settings(gated=...) gates it")
        try:
            return app.access_requests.request(repo, user, fields).status
        except (TypeError, ValueError) as exc:
            raise HubMixinValueError(f"fields must be JSON values: {exc}") from exc

    def create_token(self, username: str, *, write: bool = True) -> str:
        """A new token for an existing user; ``write=False`` gives a read-only token."""
        if not isinstance(write, bool):
            raise HubMixinTypeError(f"write must be a bool, got {type(write).__name__} {write!r}")
        app = self._running_app()
        if not app.storage.user_exists(username):
            raise HubMixinValueError(f"No user {username!r}: create it with add_user()")
        return app.storage.create_token(username, write=write)

    def inject_fault(self, fault: Fault) -> Fault:
        """Activate ``fault`` for the next matching requests; returns it (its ``hits`` count as they happen)."""
        return self._running_app().faults.add(fault)

    def remove_fault(self, fault: Fault) -> None:
        """Deactivate ``fault`` before it is spent (e.g. one with ``times=None``)."""
        self._running_app().faults.remove(fault)

    def clear_faults(self) -> None:
        """Deactivate every injected fault."""
        self._running_app().faults.clear()

    def configure_client(
        self, *, cache_dir: str | os.PathLike[str] | None = None, xet: bool | None = None
    ) -> AbstractContextManager[Path]:
        """Point ``huggingface_hub`` at this server, with `token` and a private cache, for a ``with`` block.

        ``cache_dir`` becomes ``HF_HOME`` (default: a temporary folder). Xet stays on, large files going
        through this server's Xet storage, unless ``xet=False`` (plain LFS), ``HF_HUB_DISABLE_XET=1`` in the
        environment with ``xet=None``, or the ``hubmixin-core[hub]`` extra is missing (then ``xet=True`` raises
        ``HubMixinValueError``). See
        `hubmixin_core.testing.configure_client`.
        """
        if xet is not None and not isinstance(xet, bool):
            raise HubMixinTypeError(f"xet must be a bool or None, got {type(xet).__name__} {xet!r}")
        if xet and not xet_available():
            raise HubMixinValueError(f"configure_client(xet=True): {XET_EXTRA_MESSAGE}")
        return configure_client(self.endpoint, token=self.token, cache_dir=cache_dir, xet=xet)
