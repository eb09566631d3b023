"""Fault injection: make the next requests on a route fail, stall or break off mid-body."""

from __future__ import annotations

import numbers
import re
import threading
from dataclasses import dataclass, field

from hubmixin_core.errors import HubMixinTypeError, HubMixinValueError

__all__ = ["METHODS", "ROUTES", "Fault", "FaultInjector"]

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
"""The HTTP methods the server answers (what ``Fault(method=...)`` takes)."""

ROUTES = frozenset(
    {
        "access-request-grant",
        "access-request-handle",
        "access-requests",
        "agent-harnesses",
        "ask-access",
        "auth-check",
        "branch",
        "bucket",
        "bucket-batch",
        "bucket-paths-info",
        "bucket-resolve",
        "bucket-settings",
        "bucket-tree",
        "bucket-xet-token",
        "buckets",
        "collection",
        "collection-item",
        "collection-items",
        "collections",
        "comment-edit",
        "comment-hide",
        "commit",
        "commits",
        "create-repo",
        "delete-repo",
        "discussion",
        "discussion-change",
        "discussions",
        "duplicate-repo",
        "git",
        "lfs-batch",
        "lfs-files",
        "lfs-files-batch",
        "lfs-files-duplicate",
        "lfs-upload",
        "like",
        "likers",
        "list-repos",
        "move-repo",
        "org-followers",
        "org-members",
        "org-overview",
        "org-repos",
        "paths-info",
        "preupload",
        "refs",
        "repo-info",
        "repo-settings",
        "resolve",
        "super-squash",
        "tag",
        "tree",
        "user-follows",
        "user-likes",
        "user-overview",
        "user-repos",
        "validate-yaml",
        "whoami",
        "xet-cas",
        "xet-token",
    }
)
"""Route names a `Fault` can target (``"*"`` targets all of them).

``resolve`` serves file downloads (``HEAD`` for metadata, ``GET`` for content), ``lfs-batch`` and
``lfs-upload`` the two steps of an LFS upload, ``preupload`` and ``commit`` the two steps of every commit.
``xet-token`` hands out Xet access tokens and ``xet-cas`` is the Xet storage service (xorbs, shards, data).
Buckets: ``bucket-batch`` adds and deletes files, ``bucket-resolve`` serves them, ``bucket-xet-token`` hands out their
Xet access tokens.
"""


@dataclass(eq=False)
class Fault:
    """A failure the server applies to the next ``times`` requests matching ``route``/``method``/``path``.

    Effects (at least one): ``delay`` seconds of sleep before answering; then either an error answer with
    ``status`` (the request is not handled), or the normal answer cut off after ``cut_after`` body bytes
    (the connection is dropped, so the client sees a truncated response; a shorter body goes through whole).
    A ``cut_after`` fault never takes a ``HEAD`` request, whose answer has no body to cut.

    Args:
        route: A name from `ROUTES`, or ``"*"``.
        method: Only requests with this HTTP method (one of `METHODS`, any case); ``None`` for any.
        status: HTTP status (400-599) to answer with.
        delay: Seconds to wait before answering.
        cut_after: Body bytes to send before dropping the connection.
        times: How many matching requests to affect; ``None`` for all of them until removed.
        path: Regular expression searched in the request path (e.g. a file name).
        message: Error message of a ``status`` answer.
        error_code: ``X-Error-Code`` of a ``status`` answer, which the client maps to a typed error (``"GatedRepo"``
            with 401/403: ``GatedRepoError``; ``"EgressLimitReached"`` with 402: huggingface_hub 2.5's
            ``EgressLimitError``).

    ``hits`` counts the requests the fault was applied to. A spent fault injected again (one `Fault` shared by
    several tests) starts its count again.
    """

    route: str = "*"
    method: str | None = None
    status: int | None = None
    delay: float = 0.0
    cut_after: int | None = None
    times: int | None = 1
    path: str | re.Pattern[str] | None = None
    message: str = "Fault injected by LocalHub"
    error_code: str | None = None
    hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        _check_type("route", self.route, str)
        _check_type("method", self.method, str, optional=True)
        _check_type("status", self.status, numbers.Integral, optional=True)
        _check_type("delay", self.delay, numbers.Real)
        _check_type("cut_after", self.cut_after, numbers.Integral, optional=True)
        _check_type("times", self.times, numbers.Integral, optional=True)
        _check_type("path", self.path, (str, re.Pattern), optional=True)
        _check_type("message", self.message, str)
        _check_type("error_code", self.error_code, str, optional=True)
        if self.route != "*" and self.route not in ROUTES:
            raise HubMixinValueError(f"Unknown route {self.route!r}; expected '*' or one of {sorted(ROUTES)}")
        if self.method is not None and self.method.upper() not in METHODS:
            raise HubMixinValueError(f"Unknown method {self.method!r}; expected None (any) or one of {list(METHODS)}")
        if self.status is not None and not 400 <= self.status <= 599:
            raise HubMixinValueError(f"status must be an HTTP error status (400-599), got {self.status}")
        if self.status is not None and self.cut_after is not None:
            raise HubMixinValueError("A fault either answers with `status` or cuts the answer off, not both")
        if self.error_code is not None and self.status is None:
            raise HubMixinValueError("`error_code` goes with an error answer: give `status` too")
        if self.error_code is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", self.error_code):
            raise HubMixinValueError(f"`error_code` must be a header-safe token, got {self.error_code!r}")
        if self.delay < 0 or (self.cut_after is not None and self.cut_after < 0):
            raise HubMixinValueError("`delay` and `cut_after` must not be negative")
        if self.status is None and self.cut_after is None and self.delay == 0:
            raise HubMixinValueError("A fault needs an effect: `status`, `delay` or `cut_after`")
        if self.cut_after is not None and self.method is not None and self.method.upper() == "HEAD":
            raise HubMixinValueError("`cut_after` cuts a body: a HEAD answer has none (use method='GET')")
        if self.times is not None and self.times < 1:
            raise HubMixinValueError("`times` must be at least 1 (or None for every request)")
        if self.path is not None:
            try:
                re.compile(self.path)
            except re.error as exc:
                raise HubMixinValueError(f"`path` is not a valid regular expression: {self.path!r} ({exc})") from exc
        if self.method is not None:
            self.method = self.method.upper()
        self.status, self.cut_after, self.times = (
            None if v is None else int(v) for v in (self.status, self.cut_after, self.times)
        )
        self.delay = float(self.delay)

    @property
    def remaining(self) -> int | None:
        """Requests still to affect (``None``: unlimited)."""
        return None if self.times is None else self.times - self.hits

    def matches(self, route: str, method: str, path: str) -> bool:
        """Whether a request is targeted by this fault (ignoring how many hits are left)."""
        return (
            (self.route == "*" or self.route == route)
            and (self.method is None or self.method == method)
            and not (self.cut_after is not None and method == "HEAD")  # no body to cut
            and (self.path is None or re.search(self.path, path) is not None)
        )


_NAMES: dict[type, str] = {numbers.Integral: "int", numbers.Real: "int or float", re.Pattern: "re.Pattern"}


def _check_type(name: str, value: object, kind: type | tuple[type, ...], *, optional: bool = False) -> None:
    """A `HubMixinTypeError` naming the argument unless ``value`` is a ``kind`` (never a bool, an int to Python)."""
    if (value is None and optional) or (isinstance(value, kind) and not isinstance(value, bool)):
        return
    names = [_NAMES.get(k, k.__name__) for k in ((kind,) if isinstance(kind, type) else kind)]
    expected = " or ".join(names + (["None"] if optional else []))
    raise HubMixinTypeError(f"Fault({name}=...) must be {expected}, got {type(value).__name__} {value!r}")


class FaultInjector:
    """The active faults of a server; the first active match takes each request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: object) -> Fault:
        """Activate ``fault`` (after those already active) and return it; a spent one starts its count again."""
        if not isinstance(fault, Fault):
            hint = f": use Fault({fault!r}, ...)" if isinstance(fault, str) else ""
            raise HubMixinTypeError(f"inject_fault expects a Fault, got {type(fault).__name__} {fault!r}{hint}")
        with self._lock:
            if fault.remaining is not None and fault.remaining <= 0:
                fault.hits = 0
            if fault not in self._faults:
                self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Deactivate ``fault`` (no-op if it is spent or was never added)."""
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        """Deactivate every fault."""
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        """The faults that still have requests to affect."""
        with self._lock:
            return list(self._faults)

    def take(self, route: str, method: str, path: str) -> Fault | None:
        """Count a hit on the first fault matching the request and return it; spent faults are dropped."""
        with self._lock:
            # A fault also active in another server may be spent there: dropped here unused.
            self._faults = [f for f in self._faults if f.remaining is None or f.remaining > 0]
            for fault in self._faults:
                if fault.matches(route, method, path):
                    fault.hits += 1
                    if fault.remaining is not None and fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None
