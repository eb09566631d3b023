"""The threaded HTTP server: routing, authentication, fault injection and error answers per request."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from hubmixin_core.testing._access_requests import (
    handle_access_request_grant,
    handle_access_request_handle,
    handle_access_requests,
    handle_ask_access,
)
from hubmixin_core.testing._admin import (
    handle_auth_check,
    handle_list_repos,
    handle_move_repo,
    handle_org_repos,
    handle_repo_settings,
    handle_squash,
    handle_user_repos,
)
from hubmixin_core.testing._app import HubApp
from hubmixin_core.testing._bucket_api import (
    handle_bucket,
    handle_bucket_settings,
    handle_bucket_xet_token,
    handle_buckets,
)
from hubmixin_core.testing._bucket_batch import handle_bucket_batch
from hubmixin_core.testing._bucket_files import handle_bucket_paths_info, handle_bucket_resolve, handle_bucket_tree
from hubmixin_core.testing._collection_api import (
    handle_add_collection_item,
    handle_collection,
    handle_collection_item,
    handle_collections,
)
from hubmixin_core.testing._commit import handle_commit
from hubmixin_core.testing._discussions import (
    handle_comment_change,
    handle_discussion,
    handle_discussion_change,
    handle_discussions,
)
from hubmixin_core.testing._download import handle_resolve
from hubmixin_core.testing._duplicate import handle_duplicate_repo
from hubmixin_core.testing._http import ConnectionCut, Exchange, HubError, repo_not_found
from hubmixin_core.testing._lfs_files import handle_lfs_files, handle_lfs_files_batch, handle_lfs_files_duplicate
from hubmixin_core.testing._likes import handle_like, handle_likers, handle_user_likes
from hubmixin_core.testing._org_api import handle_org_members, handle_org_overview
from hubmixin_core.testing._repos import (
    handle_agent_harnesses,
    handle_branch,
    handle_create_repo,
    handle_delete_repo,
    handle_git,
    handle_refs,
    handle_repo_info,
    handle_tag,
    handle_validate_yaml,
    handle_whoami,
)
from hubmixin_core.testing._routes import match_route, unnamespaced_repo
from hubmixin_core.testing._tree import handle_commits, handle_paths_info, handle_tree
from hubmixin_core.testing._upload import handle_lfs_batch, handle_lfs_upload, handle_preupload
from hubmixin_core.testing._user_api import handle_org_followers, handle_user_follows, handle_user_overview
from hubmixin_core.testing.xet._handlers import handle_cas, handle_xet_token

__all__ = ["HANDLERS", "HubHTTPServer"]

logger = logging.getLogger("hubmixin_core.testing")

Handler = Callable[[Exchange], None]

HANDLERS: dict[tuple[str, str], Handler] = {
    ("whoami", "GET"): handle_whoami,
    ("agent-harnesses", "GET"): handle_agent_harnesses,
    ("validate-yaml", "POST"): handle_validate_yaml,
    ("create-repo", "POST"): handle_create_repo,
    ("delete-repo", "DELETE"): handle_delete_repo,
    ("repo-info", "GET"): handle_repo_info,
    ("tree", "GET"): handle_tree,
    ("git", "GET"): handle_git,
    ("git", "POST"): handle_git,
    ("paths-info", "POST"): handle_paths_info,
    ("commits", "GET"): handle_commits,
    ("refs", "GET"): handle_refs,
    ("branch", "POST"): handle_branch,
    ("branch", "DELETE"): handle_branch,
    ("tag", "POST"): handle_tag,
    ("tag", "DELETE"): handle_tag,
    ("xet-token", "GET"): handle_xet_token,
    ("list-repos", "GET"): handle_list_repos,
    ("auth-check", "GET"): handle_auth_check,
    ("repo-settings", "PUT"): handle_repo_settings,
    ("move-repo", "POST"): handle_move_repo,
    ("user-repos", "GET"): handle_user_repos,
    ("org-repos", "GET"): handle_org_repos,
    ("org-overview", "GET"): handle_org_overview,
    ("org-members", "GET"): handle_org_members,
    ("super-squash", "POST"): handle_squash,
    ("duplicate-repo", "POST"): handle_duplicate_repo,
    ("preupload", "POST"): handle_preupload,
    ("commit", "POST"): handle_commit,
    ("lfs-batch", "POST"): handle_lfs_batch,
    ("lfs-upload", "PUT"): handle_lfs_upload,
    ("resolve", "HEAD"): handle_resolve,
    ("resolve", "GET"): handle_resolve,
    ("xet-cas", "GET"): handle_cas,
    ("xet-cas", "HEAD"): handle_cas,
    ("xet-cas", "POST"): handle_cas,
    ("discussions", "GET"): handle_discussions,
    ("discussions", "POST"): handle_discussions,
    ("discussion", "GET"): handle_discussion,
    ("discussion-change", "POST"): handle_discussion_change,
    ("comment-edit", "POST"): handle_comment_change,
    ("comment-hide", "POST"): handle_comment_change,
    ("like", "POST"): handle_like,
    ("like", "DELETE"): handle_like,
    ("likers", "GET"): handle_likers,
    ("user-likes", "GET"): handle_user_likes,
    ("user-overview", "GET"): handle_user_overview,
    ("user-follows", "GET"): handle_user_follows,
    ("org-followers", "GET"): handle_org_followers,
    ("lfs-files", "GET"): handle_lfs_files,
    ("collections", "GET"): handle_collections,
    ("collections", "POST"): handle_collections,
    ("collection", "GET"): handle_collection,
    ("collection", "PATCH"): handle_collection,
    ("collection", "DELETE"): handle_collection,
    ("collection-items", "POST"): handle_add_collection_item,
    ("collection-item", "PATCH"): handle_collection_item,
    ("collection-item", "DELETE"): handle_collection_item,
    ("lfs-files-batch", "POST"): handle_lfs_files_batch,
    ("lfs-files-duplicate", "POST"): handle_lfs_files_duplicate,
    ("access-requests", "GET"): handle_access_requests,
    ("access-request-handle", "POST"): handle_access_request_handle,
    ("access-request-grant", "POST"): handle_access_request_grant,
    ("ask-access", "POST"): handle_ask_access,
    ("buckets", "GET"): handle_buckets,
    ("buckets", "DELETE"): handle_buckets,
    ("bucket", "GET"): handle_bucket,
    ("bucket", "POST"): handle_bucket,
    ("bucket", "DELETE"): handle_bucket,
    ("bucket-settings", "PUT"): handle_bucket_settings,
    ("bucket-tree", "GET"): handle_bucket_tree,
    ("bucket-paths-info", "POST"): handle_bucket_paths_info,
    ("bucket-batch", "POST"): handle_bucket_batch,
    ("bucket-xet-token", "GET"): handle_bucket_xet_token,
    ("bucket-resolve", "HEAD"): handle_bucket_resolve,
    ("bucket-resolve", "GET"): handle_bucket_resolve,
}
"""Handler of each ``(route, method)``."""

# Unguessable URL (lfs-upload) / Xet token (xet-cas): checked by the handler; git gets "not supported" whoever asks.
_UNAUTHENTICATED_ROUTES = {"lfs-upload", "xet-cas", "git"}
_SECRET_IN_PATH = re.compile(r"/api/lfs-upload/[^\s'\"?]+")


def _redact(text: str) -> str:
    return _SECRET_IN_PATH.sub("/api/lfs-upload/<ticket>", text)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalHub/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are dropped after this
    disable_nagle_algorithm = True  # header and body go in separate writes: avoid 40 ms delayed-ACK stalls

    @property
    def hub(self) -> HubHTTPServer:
        return cast(HubHTTPServer, self.server)

    def setup(self) -> None:
        super().setup()
        self.hub.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.hub.untrack(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", self.address_string(), _redact(format % args))

    def _authenticate(self, ex: Exchange) -> None:
        header = self.headers.get("Authorization")
        if not header:
            return
        scheme, _, token = header.partition(" ")
        found = self.hub.app.storage.authenticate(token.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        ex.user, ex.can_write = found

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        try:
            match, utf8_path = match_route(url.path), True
        except UnicodeDecodeError:
            match, utf8_path = None, False
        ex = Exchange(self, self.hub.app, match, parse_qs(url.query))
        try:
            if not utf8_path:
                raise HubError(400, f"The URL path {_redact(url.path)} is not UTF-8 once percent-decoded")
            if match is None and (name := unnamespaced_repo(url.path)) is not None:
                raise repo_not_found(name)  # repositories here always have a namespace
            if match is None and url.path.startswith("/api/"):  # a Hub API this server does not implement
                route = f"{self.command} {_redact(url.path)}"
                raise HubError(501, f"{route} is not supported by the local Hub (hubmixin LocalHub)")
            if match is None:
                raise HubError(404, f"No route for {self.command} {_redact(url.path)}")
            fault = self.hub.app.faults.take(match.name, self.command, unquote(url.path))
            if fault is not None:
                if fault.delay and self.hub.app.stopping.wait(fault.delay):
                    raise ConnectionCut  # the server is stopping
                if fault.status is not None:
                    message = f"{fault.message} ({fault.status} on route {match.name!r})"
                    raise HubError(fault.status, message, code=fault.error_code)
                ex.cut_after = fault.cut_after
            if match.name not in _UNAUTHENTICATED_ROUTES:
                self._authenticate(ex)
            handler = HANDLERS.get((match.name, self.command))
            if handler is None:
                raise HubError(405, f"Method {self.command} not allowed on route {match.name!r}")
            handler(ex)
        except HubError as error:
            if ex.headers_sent:
                self.close_connection = True
            else:
                ex.send_error(error)
        except (ConnectionCut, ConnectionError, TimeoutError):
            self.close_connection = True
            return
        except Exception:
            logger.exception("LocalHub failed on %s %s", self.command, _redact(url.path))
            if ex.headers_sent:
                self.close_connection = True
            else:
                ex.send_error(HubError(500, "Internal error of LocalHub (see the server log)"))
        ex.finish_body()


class HubHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server bound to one `HubApp`; tracks connections so it can stop promptly."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: HubApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup of ``HTTPServer.server_bind``."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def track(self, connection: socket.socket) -> None:
        """Remember an open connection and the thread serving it."""
        with self._lock:
            self._connections[connection] = threading.current_thread()

    def untrack(self, connection: socket.socket) -> None:
        """Forget a closed connection."""
        with self._lock:
            self._connections.pop(connection, None)

    def close_connections(self) -> list[threading.Thread]:
        """Shut every open connection down; returns the threads that were serving them."""
        with self._lock:
            items = list(self._connections.items())
        for connection, _ in items:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        return [thread for _, thread in items]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection errors are normal (clients go away); anything else is logged."""
        logger.debug("LocalHub connection error from %s", client_address, exc_info=True)
