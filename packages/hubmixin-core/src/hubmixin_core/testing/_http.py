"""HTTP plumbing for one request: streamed request bodies, Hub-style errors and responses."""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from hubmixin_core.testing._routes import Match

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from hubmixin_core.testing._app import HubApp

__all__ = [
    "ERROR_HEADER_LIMIT",
    "JSON_LIMIT",
    "ConnectionCut",
    "Exchange",
    "HubError",
    "entry_not_found",
    "header_value",
    "parse_json",
    "repo_not_found",
    "revision_not_found",
]

CHUNK = 1024 * 1024
_DRAIN_LIMIT = 4 * CHUNK
_SAFE_HEADER = re.compile(r"[A-Za-z0-9._:/=+-]{1,200}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
JSON_LIMIT = 16 * CHUNK
"""Default largest JSON (or form) request body accepted, in bytes (``LocalHub(max_json_bytes=...)``)."""
ERROR_HEADER_LIMIT = 4096
"""Longest ``X-Error-Message`` value sent, in characters (the JSON body carries the whole message)."""


def header_value(value: str) -> str:
    """``value`` safe for a response header: control characters (CR, LF ...) become spaces, non-ASCII is escaped."""
    return _CONTROL.sub(" ", value).encode("ascii", "backslashreplace").decode("ascii")


class HubError(Exception):
    """An error answer: HTTP status, message, and the ``X-Error-Code`` the client maps to a typed error."""

    def __init__(self, status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


class ConnectionCut(Exception):
    """Raised after a response was cut off on purpose (fault injection): the connection must be dropped."""


def parse_json(data: bytes | str, what: str) -> Any:
    """``json.loads`` with every failure (syntax, bad UTF-8, nesting too deep) answered as a 400."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise HubError(400, f"Malformed {what}: {reason}") from exc


def repo_not_found(repo_id: str) -> HubError:
    """404 ``RepoNotFound`` (also used for private repos the caller may not see)."""
    return HubError(404, f"Repository not found: {repo_id}", code="RepoNotFound")


def revision_not_found(revision: str) -> HubError:
    """404 ``RevisionNotFound``."""
    return HubError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")


def entry_not_found(path: str, commit: str | None) -> HubError:
    """404 ``EntryNotFound``; carries ``X-Repo-Commit`` so the client can cache the absence."""
    headers = {"X-Repo-Commit": commit} if commit else {}
    return HubError(404, f"Entry not found: {path}", code="EntryNotFound", headers=headers)


class _RawBody(io.RawIOBase):
    """The request body, de-chunked if needed, never read past its end."""

    def __init__(self, rfile: IO[bytes] | io.BufferedIOBase, length: int | None) -> None:
        self._rfile = rfile
        self._remaining = length  # None: chunked encoding
        self._chunk_left = 0
        self.done = length == 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if self.done:
            return 0
        if self._remaining is not None:
            size = min(len(view), self._remaining)
            data = self._rfile.read(size)
            if not data:
                raise ConnectionError("client closed the connection in the middle of the request body")
            view[: len(data)] = data
            self._remaining -= len(data)
            self.done = self._remaining == 0
            return len(data)
        if self._chunk_left == 0 and not self._next_chunk():
            return 0
        data = self._rfile.read(min(len(view), self._chunk_left))
        if not data:
            raise ConnectionError("client closed the connection in the middle of a chunk")
        view[: len(data)] = data
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(65537)  # CRLF after the chunk
        return len(data)

    def _next_chunk(self) -> bool:
        line = self._rfile.readline(65537)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise HubError(400, "Malformed chunked request body") from exc
        if size == 0:
            while self._rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            self.done = True
            return False
        self._chunk_left = size
        return True


class Exchange:
    """One request and its response, as handlers see them."""

    def __init__(self, handler: BaseHTTPRequestHandler, app: HubApp, match: Match | None, query: dict[str, list[str]]):
        self.handler = handler
        self.app = app
        self.match = match or Match("")
        self.method = handler.command
        self.query = query
        self.user: str | None = None
        self.can_write = False
        self.cut_after: int | None = None
        self.headers_sent = False
        self._sent = 0
        self._abandoned = False
        chunked = "chunked" in handler.headers.get("Transfer-Encoding", "").lower()
        try:
            length = max(int(handler.headers.get("Content-Length") or 0), 0)
        except ValueError:
            length = 0
            handler.close_connection = True  # the body cannot be delimited: do not reuse the connection
        self.content_length = None if chunked else length
        self._raw = _RawBody(handler.rfile, None if chunked else length)
        self._body = io.BufferedReader(self._raw, CHUNK)

    # Request

    @property
    def endpoint(self) -> str:
        """The server's base URL as this request names it, for the URLs of answers: ``http://localhost:PORT`` when
        its ``Host`` is ``localhost`` at this server's port (the client checks that the URLs it gets name the
        endpoint it was given), else the endpoint the server serves at."""
        served = self.app.endpoint
        port = urlsplit(served).port
        if (self.handler.headers.get("Host") or "").strip().lower() == f"localhost:{port}":
            return f"http://localhost:{port}"
        return served

    def query_value(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def query_flag(self, name: str) -> bool:
        """Whether a boolean query parameter is set (``1``, ``true``, ``True``)."""
        return (self.query_value(name) or "").lower() in ("1", "true", "yes")

    @property
    def body(self) -> io.BufferedReader[_RawBody]:
        """The request body as a buffered stream (iterate it for lines)."""
        return self._body

    def iter_body(self) -> Iterator[bytes]:
        """The request body in chunks of up to 1 MiB."""
        while chunk := self._body.read1(CHUNK):
            yield chunk

    def too_large(self, what: str, limit: int) -> HubError:
        """A 413 naming ``limit``; the rest of the body is not read (the connection is closed after the answer)."""
        self._abandoned = True
        return HubError(413, f"{what} too large: the limit is {limit} bytes")

    def read_limited(self, limit: int, what: str = "Request body") -> bytes:
        """The whole request body; 413 (without reading it) when it is declared or found larger than ``limit``."""
        if self.content_length is not None and self.content_length > limit:
            raise self.too_large(what, limit)
        data = self._body.read(limit + 1)
        if len(data) > limit:
            raise self.too_large(what, limit)
        return data

    def read_line(self, limit: int, what: str = "Request line") -> bytes:
        """The next line of the body (``b""`` at its end); 413 when longer than ``limit`` bytes."""
        line = self._body.readline(limit + 1)
        if len(line) > limit:
            raise self.too_large(what, limit)
        return line

    def read_json(self, limit: int | None = None) -> Any:
        """Parse a JSON request body (``{}`` when empty); 400 on malformed JSON, 413 above ``limit`` bytes.

        ``limit`` defaults to the server's ``max_json_bytes``.
        """
        data = self.read_limited(self.app.max_json_bytes if limit is None else limit, "JSON body")
        if not data.strip():
            return {}
        return parse_json(data, "JSON body")

    def read_json_object(self, limit: int | None = None) -> dict[str, Any]:
        """`read_json`, and 400 unless the body is a JSON object (an empty body is ``{}``)."""
        body = self.read_json(limit)
        if not isinstance(body, dict):
            raise HubError(400, "Expected a JSON object as request body")
        return body

    def form_values(self, name: str, limit: int | None = None) -> list[str]:
        """The values of a field of a form-encoded body; 400 on a body that is not UTF-8, 413 above ``limit``.

        ``limit`` defaults to the server's ``max_json_bytes``.
        """
        return self.form(limit).get(name, [])

    def form(self, limit: int | None = None) -> dict[str, list[str]]:
        """All fields of a form-encoded body (read once), as `form_values` reads one."""
        data = self.read_limited(self.app.max_json_bytes if limit is None else limit, "Form body")
        try:
            return parse_qs(data.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError as exc:
            raise HubError(400, f"Malformed form body (not UTF-8): {exc}") from exc

    def finish_body(self) -> None:
        """Consume what is left of the body so the connection can be reused, or mark it for closing."""
        if self._raw.done:
            return
        if self._abandoned:
            self.handler.close_connection = True
            return
        try:
            if len(self._body.read(_DRAIN_LIMIT)) == _DRAIN_LIMIT and not self._raw.done:
                self.handler.close_connection = True
        except (OSError, HubError):
            self.handler.close_connection = True

    # Response

    def start(self, status: int, headers: dict[str, str]) -> None:
        """Send the status line and headers (``Content-Length`` must be among them)."""
        self.handler.send_response(status)
        for name, value in headers.items():
            self.handler.send_header(name, header_value(value))
        request_id = self.handler.headers.get("X-Amzn-Trace-Id") or self.handler.headers.get("X-Request-Id")
        if request_id and _SAFE_HEADER.fullmatch(request_id):
            self.handler.send_header("X-Request-Id", request_id)
        self.handler.end_headers()
        self.headers_sent = True

    def write(self, data: bytes) -> None:
        """Write body bytes, honouring an injected cut-off."""
        if self.cut_after is not None and self._sent + len(data) > self.cut_after:
            keep = max(self.cut_after - self._sent, 0)
            self.handler.wfile.write(data[:keep])
            self.handler.wfile.flush()
            raise ConnectionCut
        self.handler.wfile.write(data)
        self._sent += len(data)

    def send_bytes(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Send a complete response (no body for ``HEAD``)."""
        self.start(status, {**headers, "Content-Length": str(len(body))})
        if self.method != "HEAD" and body:
            self.write(body)

    def send_json(self, obj: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Send ``obj`` as JSON."""
        body = json.dumps(obj).encode()
        self.send_bytes(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    def send_error(self, error: HubError) -> None:
        """Send a Hub-style error: JSON ``{"error": ...}`` plus ``X-Error-Message``/``X-Error-Code``."""
        message = error.message
        if len(message) > ERROR_HEADER_LIMIT:  # clients cap the size of response headers
            message = message[: ERROR_HEADER_LIMIT - 3] + "..."
        headers = {"X-Error-Message": message, **error.headers}
        if error.code is not None:
            headers["X-Error-Code"] = error.code
        self.send_json({"error": error.message}, status=error.status, headers=headers)

    def send_file(self, path: Path, start: int, length: int) -> None:
        """Stream ``length`` bytes of ``path`` from ``start`` (headers already sent); zero-copy when possible."""
        with path.open("rb") as file:
            if self.cut_after is None and hasattr(os, "sendfile"):
                self.handler.wfile.flush()
                sent = self.handler.connection.sendfile(file, offset=start, count=length)
                if sent < length:  # the stored blob is shorter than recorded: cut, so the client fails at once
                    raise ConnectionAbortedError(f"blob {path.name} is shorter than recorded")
                return
            file.seek(start)
            left = length
            while left > 0:
                chunk = file.read(min(CHUNK, left))
                if not chunk:
                    raise ConnectionAbortedError(f"blob {path.name} is shorter than recorded")
                self.write(chunk)
                left -= len(chunk)
