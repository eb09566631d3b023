"""Pytest plugin of hubmixin-core (entry point ``hubmixin_local_hub``): the ``local_hub`` fixture.

A module of its own, outside ``hubmixin_core``: pytest imports every installed plugin at start-up, so this one
imports nothing of hubmixin until a test asks for ``local_hub``. Its public home is
:mod:`hubmixin_core.testing.pytest_plugin`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hubmixin_core.testing import LocalHub

__all__ = ["LFS_UPLOAD_WARNING_FILTER", "local_hub", "pytest_collection_modifyitems", "pytest_configure"]

LFS_UPLOAD_WARNING_FILTER = "ignore:Use 'content=<...>' to upload raw bytes/text content.:DeprecationWarning"
"""``filterwarnings`` entry for an upstream warning: huggingface_hub uploads LFS objects with httpx2's deprecated
``data=<file>``. Tests using ``local_hub`` get it automatically; add it yourself to tests that start a
``LocalHub`` directly and upload LFS files under ``-W error``."""


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``local_hub`` marker."""
    config.addinivalue_line(
        "markers", "local_hub(xet=False): options of the local_hub fixture (xet=False: plain LFS, Xet off)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let tests that use ``local_hub`` upload LFS files despite the upstream httpx2 deprecation warning."""
    for item in items:
        if "local_hub" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.filterwarnings(LFS_UPLOAD_WARNING_FILTER))


@pytest.fixture
def local_hub(request: pytest.FixtureRequest) -> Iterator[LocalHub]:
    """A running `LocalHub` (fresh, empty) with ``huggingface_hub`` pointed at it for the test.

    The client gets the hub's endpoint, ``HF_TOKEN`` = ``local_hub.token`` (user ``local_hub.username``) and
    a temporary ``HF_HOME`` cache; all of it is restored after the test. Xet stays on, as users run the
    client (large files go through the hub's Xet storage), unless ``HF_HUB_DISABLE_XET=1`` is set or
    ``@pytest.mark.local_hub(xet=False)`` switches it off: then large files use plain LFS.
    """
    from hubmixin_core.testing import LocalHub

    marker = request.node.get_closest_marker("local_hub")
    if marker is not None and (marker.args or marker.kwargs.keys() - {"xet"}):
        given = [repr(a) for a in marker.args] + [f"{k}=" for k in marker.kwargs if k != "xet"]
        raise pytest.UsageError(f"@pytest.mark.local_hub takes xet= only, not {', '.join(given)}")
    xet = marker.kwargs.get("xet") if marker is not None else None
    with LocalHub() as hub, hub.configure_client(xet=xet):
        yield hub
