"""Pytest plugin (entry point ``hubmixin_local_hub``): the ``local_hub`` fixture.

Examples:
    def test_push(local_hub):
        huggingface_hub.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=...)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hubmixin_core.testing._server import LocalHub

__all__ = ["LFS_UPLOAD_WARNING_FILTER", "local_hub", "pytest_collection_modifyitems"]

LFS_UPLOAD_WARNING_FILTER = "ignore:Use 'content=<...>' to upload raw bytes/text content.:DeprecationWarning"
"""``filterwarnings`` entry for an upstream warning: huggingface_hub uploads LFS objects with httpx2's deprecated
``data=<file>``. Tests using ``local_hub`` get it automatically; add it yourself to tests that start a
``LocalHub`` directly and upload LFS files under ``-W error``."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let tests that use ``local_hub`` upload LFS files despite the upstream httpx2 deprecation warning."""
    for item in items:
        if "local_hub" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.filterwarnings(LFS_UPLOAD_WARNING_FILTER))


@pytest.fixture
def local_hub() -> Iterator[LocalHub]:
    """A running `LocalHub` (fresh, empty) with ``huggingface_hub`` pointed at it for the test.

    The client gets the hub's endpoint, ``HF_TOKEN`` = ``local_hub.token`` (user ``local_hub.username``), a
    temporary ``HF_HOME`` cache, and Xet switched off; all of it is restored after the test.
    """
    with LocalHub() as hub, hub.configure_client():
        yield hub
