"""Pytest plugin (entry point ``hubmixin_local_hub``): the ``local_hub`` fixture.

Installed with hubmixin-core and loaded by pytest on its own; ``LFS_UPLOAD_WARNING_FILTER`` is for tests that
start a ``LocalHub`` themselves.

Examples:
    def test_push(local_hub):
        huggingface_hub.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=...)
"""

from __future__ import annotations

from _hubmixin_pytest import LFS_UPLOAD_WARNING_FILTER, local_hub, pytest_collection_modifyitems, pytest_configure

__all__ = ["LFS_UPLOAD_WARNING_FILTER", "local_hub", "pytest_collection_modifyitems", "pytest_configure"]
