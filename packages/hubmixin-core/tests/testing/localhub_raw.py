"""Raw HTTP requests to a LocalHub, bypassing the client's own validation (for tests of what the server refuses)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from email.message import Message

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def raw_request(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: bytes | Iterable[bytes] | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Message, bytes]:
    """``(status, headers, body)`` of one request, whatever the status."""
    sent = dict(headers or {}) | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(url, data=body, method=method, headers=sent)
    try:
        with _OPENER.open(request) as response:
            return int(response.status), response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()
